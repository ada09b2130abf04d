//! A validation failure tied to one input field, in both languages.

use serde::Serialize;

/// One thing wrong with one field of the input. Collected into a list so that
/// a caller learns everything wrong with a request at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// JSON-pointer-like path of the field, e.g. `face_fields/2/type`.
    pub field: String,
    /// Stable machine code, e.g. `check_character`.
    pub code: &'static str,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
        message_zh: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
            message_zh: message_zh.into(),
        }
    }

    /// Prefix the field path, for errors found inside a nested value.
    #[must_use]
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}/{}", self.field)
        };
        self
    }
}
