//! Who is asking: the identity every use case receives, made by a frontend
//! (the HTTP crate's extractors, the command line) and never by the caller's
//! own say-so.
//!
//! Kinds of principal today: a staff member signed in with a session, and a
//! system (or staff) API token. The issues after this one add relying-party
//! credentials, delivery channels and holders as further [`ActorId`] kinds;
//! the policy (`crate::policy`) decides per kind and role what each may do.

use std::fmt;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

/// The actor as the audit log names it. Written as text
/// (`token:<uuid>`, `user:<uuid>`, `cli:<login>`, `system`, `anonymous`);
/// made only from what the library itself knows, so the text of one kind
/// can never pass for another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActorId {
    /// An API token (`zzt_…`), by its id.
    Token(uuid::Uuid),
    /// A staff account, by its id.
    User(uuid::Uuid),
    /// The operator at the command line (the OS login).
    Cli(String),
    /// The library itself (background work, the first start).
    System,
    /// Nobody known yet (a failed login for a name that does not exist).
    Anonymous,
    /// A holder, acting through a channel's token or signed in itself
    /// (`via`); the holder as the audit log may name it (a resident id masked).
    Holder { via: HolderVia, holder: String },
}

/// How a holder came to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolderVia {
    /// A channel's token (its id) named the holder in `X-ZZ-On-Behalf-Of`.
    Channel(uuid::Uuid),
    /// The holder signed in through the identity provider (the session's id).
    SignIn(uuid::Uuid),
}

impl fmt::Display for HolderVia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channel(id) => write!(f, "token:{id}"),
            Self::SignIn(id) => write!(f, "session:{id}"),
        }
    }
}

impl ActorId {
    /// The staff account behind this actor, if it is one.
    pub fn user_id(&self) -> Option<uuid::Uuid> {
        match self {
            Self::User(id) => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(id) => write!(f, "token:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Cli(login) => write!(f, "cli:{login}"),
            Self::System => f.write_str("system"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::Holder { via, holder } => write!(f, "holder:{holder}@{via}"),
        }
    }
}

/// An authenticated caller: who, in which org, with which roles.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor: ActorId,
    pub org: OrgCode,
    /// A token holds one role; a staff user may hold several.
    pub roles: Vec<Role>,
    /// The client's address, for audit events.
    pub client_addr: Option<String>,
    /// Present when the principal is a staff session.
    pub session: Option<SessionInfo>,
    /// Present when the principal is a relying party's credential: the one
    /// scenario it reads for, checked to be in force for this request.
    pub scenario: Option<std::sync::Arc<crate::scenarios::ActiveScenario>>,
    /// Present when a holder acts: through a channel (`X-ZZ-On-Behalf-Of`)
    /// or signed in itself.
    pub holder: Option<HolderRef>,
}

/// A holder as a channel or the identity provider named it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderRef {
    /// `uscc` or `resident_id`.
    pub id_type: &'static str,
    /// How licenses are stored under this holder: the credit code itself,
    /// or a resident id's blind index.
    pub key: String,
    /// How the audit log names the holder (a resident id masked).
    pub shown: String,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether this principal is the staff account `id` (no one changes
    /// their own roles or resets their own credentials).
    pub fn is_user(&self, id: uuid::Uuid) -> bool {
        self.actor == ActorId::User(id)
    }
}

/// The session behind a staff principal.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub hash: Vec<u8>,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
    pub must_change_password: bool,
    pub username: String,
    pub display_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_ids_are_written_as_the_audit_log_names_them() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            ActorId::Token(id).to_string(),
            "token:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            ActorId::User(id).to_string(),
            "user:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(ActorId::Cli("ops".into()).to_string(), "cli:ops");
        assert_eq!(ActorId::System.to_string(), "system");
        assert_eq!(ActorId::User(id).user_id(), Some(id));
        assert_eq!(ActorId::Token(id).user_id(), None);
    }
}
