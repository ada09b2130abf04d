//! Staff accounts and their sessions, as stored.
//!
//! Secrets are never stored in the clear: the password as an argon2id PHC
//! string, the TOTP secret wrapped under the master key, a session's cookie
//! value as its SM3 hash.

use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

/// One person who works in the library, bound to one org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: uuid::Uuid,
    /// Login name: unique, lower-case ASCII.
    pub username: String,
    pub display_name: String,
    pub org: OrgCode,
    pub roles: Vec<Role>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The TOTP secret, wrapped under the master key (SM4-GCM).
    pub totp_secret: Vec<u8>,
    /// The last TOTP time step accepted: a code is never accepted twice.
    pub totp_last_step: i64,
    /// Set when an administrator chose the password: the user must replace it.
    pub must_change_password: bool,
    pub failed_logins: u32,
    pub locked_until: Option<jiff::Timestamp>,
    pub password_changed_at: jiff::Timestamp,
    pub created_at: jiff::Timestamp,
    pub disabled_at: Option<jiff::Timestamp>,
    /// Bumped by every write to the row (an administrator's change, a
    /// password change, a login, a failed login). A change is saved only
    /// over the version it was based on, so no write is lost.
    pub row_version: i64,
}

/// What a failed login did to the account (`Store::record_failed_login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedLogin {
    /// One more failure in a row; the count is now this.
    Counted(u32),
    /// This failure reached the threshold: the account is now locked and
    /// the count starts again.
    Locked,
    /// Not counted: the account is no longer as the attempt found it (locked
    /// meanwhile, disabled, its credentials reset or changed, or gone).
    NotCounted,
}

/// The audit event of a failed login for each outcome: the store writes the
/// one that happened, in the transaction that counts the failure.
#[derive(Debug, Clone)]
pub struct FailedLoginLogs {
    pub counted: crate::ChangeLog,
    pub locked: crate::ChangeLog,
    pub not_counted: crate::ChangeLog,
}

impl FailedLoginLogs {
    pub fn for_outcome(&self, outcome: FailedLogin) -> &crate::ChangeLog {
        match outcome {
            FailedLogin::Counted(_) => &self.counted,
            FailedLogin::Locked => &self.locked,
            FailedLogin::NotCounted => &self.not_counted,
        }
    }
}

/// A signed-in browser or API client of a staff user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// SM3 of the session cookie value.
    pub hash: Vec<u8>,
    pub user_id: uuid::Uuid,
    /// Sent back with every unsafe request (header or form field).
    pub csrf_token: String,
    pub created_at: jiff::Timestamp,
    pub last_seen_at: jiff::Timestamp,
    /// The absolute end, whatever the activity.
    pub expires_at: jiff::Timestamp,
    pub client_addr: Option<String>,
    pub ended_at: Option<jiff::Timestamp>,
}

/// Roles as stored: comma-separated names, in `Role::ALL` order.
pub fn roles_to_text(roles: &[Role]) -> String {
    Role::ALL
        .into_iter()
        .filter(|r| roles.contains(r))
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// The inverse of [`roles_to_text`]; the error names the first unknown role.
pub fn roles_from_text(text: &str) -> Result<Vec<Role>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Role>().map_err(|_| s.to_owned()))
        .collect()
}

/// A key that seals personal face fields, wrapped under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub id: uuid::Uuid,
    pub wrapped_key: Vec<u8>,
    pub created_at: jiff::Timestamp,
}
