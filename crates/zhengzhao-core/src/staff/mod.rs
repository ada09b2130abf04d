//! Staff accounts (Art. 21: identity authentication, trusted authorisation,
//! access control): creating and changing accounts, logging in and out, and
//! turning a session cookie back into a [`Principal`].
//!
//! Rules that hold here:
//! - Accounts are managed by security admins, each within its org subtree
//!   (三员分立: the security admin manages accounts, the region admin runs
//!   the library, the auditor audits; no account holds two of these).
//! - No one changes their own roles or resets their own credentials.
//! - An auditor holds no other role: the auditor reads and changes nothing.
//! - Catalog admins sit at the region, where the catalog is kept.
//! - Every login (failed ones too), logout, account and permission change is
//!   an audit event written with the change; a login refused by the rate
//!   limits (`login_limits`) checks nothing and writes no event, and a
//!   username that cannot exist is logged only as a bounded prefix.
//! - No write to an account is lost: a login writes only its own columns,
//!   conditionally on the account as it checked it (`record_failed_login`,
//!   `start_staff_session`); every other change is saved over the version
//!   it read, and read again and re-applied when a login wrote meanwhile.

mod accounts;
mod sessions;

use super::Library;
use super::login_limits::{LoginLimits, LoginStats, Queue};
use crate::credentials::{check_password_policy, hash_password, verify_password};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sm3::{Digest, Sm3};
use std::time::Duration;
use utoipa::ToSchema;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{StaffSession, StaffUser};

pub const SESSION_COOKIE: &str = "zz_session";

const SESSION_PREFIX: &str = "zzsess_";

/// Timeouts and lockout, from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session not used for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active.
    pub absolute_timeout: Duration,
    /// Failed logins in a row that lock an account.
    pub lockout_threshold: u32,
    pub lockout_duration: Duration,
    /// Rate limits on logins and the bound on password hashing.
    pub login_limits: LoginLimits,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            login_limits: LoginLimits::default(),
        }
    }
}

/// A staff account as the API shows it: never a secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffView {
    pub id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    #[schema(value_type = String)]
    pub org: OrgCode,
    pub roles: Vec<Role>,
    pub must_change_password: bool,
    #[schema(value_type = Option<String>)]
    pub locked_until: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>)]
    pub disabled_at: Option<jiff::Timestamp>,
    #[schema(value_type = String)]
    pub password_changed_at: jiff::Timestamp,
    #[schema(value_type = String)]
    pub created_at: jiff::Timestamp,
}

impl From<&StaffUser> for StaffView {
    fn from(u: &StaffUser) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            org: u.org.clone(),
            roles: u.roles.clone(),
            must_change_password: u.must_change_password,
            locked_until: u.locked_until,
            disabled_at: u.disabled_at,
            password_changed_at: u.password_changed_at,
            created_at: u.created_at,
        }
    }
}

/// What a new (or reset) account starts with: shown once, to be handed to
/// the person over a trusted channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InitialCredentials {
    /// Must be changed at first login.
    pub initial_password: String,
    /// Base32, for typing into an authenticator app.
    pub totp_secret: String,
    /// `otpauth://` URI, for a QR code.
    pub totp_uri: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub org: String,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    pub display_name: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// true disables the account (and ends its sessions); false enables it.
    pub disabled: Option<bool>,
}

/// A fresh login: the cookie secret (shown once) and the session.
pub struct Login {
    pub secret: String,
    pub session: StaffSession,
    pub user: StaffUser,
}

pub fn session_hash(secret: &str) -> Vec<u8> {
    Sm3::digest(secret.as_bytes()).to_vec()
}

/// A random initial password that meets the policy: three groups of six
/// from an alphabet without look-alikes (about 100 bits).
fn initial_password() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    loop {
        let mut b = [0u8; 18];
        getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let chars: Vec<char> = b
            .iter()
            .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
            .collect();
        let groups: Vec<String> = chars.chunks(6).map(|c| c.iter().collect()).collect();
        let password = groups.join("-");
        if check_password_policy(&password, "").is_ok() {
            return Ok(password);
        }
    }
}

fn invalid(field: &str, en: &str, zh: &str) -> Error {
    Error::field(field, "invalid", en, zh)
}

/// Tries at saving an account change when logins keep writing the row.
const SAVE_ATTEMPTS: usize = 20;

/// The longest username (`check_username`); longer ones are logged only as
/// a prefix.
const MAX_USERNAME_BYTES: usize = 32;

/// A submitted username as an audit event may hold it: in full when it is
/// short, else a clearly marked prefix and its length.
fn username_for_log(name: &str) -> serde_json::Value {
    if name.len() <= MAX_USERNAME_BYTES {
        return json!({"username": name});
    }
    let mut end = MAX_USERNAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    json!({
        "username": format!("{}…", &name[..end]),
        "username_truncated": true,
        "username_bytes": name.len(),
    })
}

fn conflict_persists() -> Error {
    Error::Conflict(
        "the account kept changing while this change was being saved; nothing was changed, try again"
            .into(),
    )
}

fn check_username(name: &str) -> Result<()> {
    let ok = (3..=MAX_USERNAME_BYTES).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "username",
            "username must be 3 to 32 of a-z 0-9 . _ -, starting with a letter",
            "用户名须为3至32位小写字母、数字或 . _ -，以字母开头",
        ))
    }
}

fn check_display_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        return Err(invalid(
            "display_name",
            "display_name must be 1 to 50 characters",
            "姓名须为1至50个字符",
        ));
    }
    Ok(name.to_owned())
}

/// Separation of duties within one account's roles.
fn check_roles(roles: &[Role], org: &OrgCode) -> Result<Vec<Role>> {
    let mut roles = roles.to_vec();
    roles.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
    roles.dedup();
    if roles.is_empty() {
        return Err(invalid(
            "roles",
            "at least one role is needed",
            "至少需要一个角色",
        ));
    }
    if roles.contains(&Role::Platform)
        || roles.contains(&Role::RelyingParty)
        || roles.contains(&Role::Channel)
    {
        return Err(invalid(
            "roles",
            "platform, relying_party and channel are roles for system tokens, not for staff",
            "用证平台、用证方、服务渠道角色只用于系统令牌，不授予工作人员",
        ));
    }
    if roles.contains(&Role::Auditor) && roles.len() > 1 {
        return Err(invalid(
            "roles",
            "an auditor holds no other role (separation of duties)",
            "审计员不得兼任其他角色（职责分离）",
        ));
    }
    if roles.contains(&Role::SecurityAdmin) && roles.contains(&Role::RegionAdmin) {
        return Err(invalid(
            "roles",
            "security_admin and region_admin are held by different people (separation of duties)",
            "安全管理员与管理员不得由同一人兼任（职责分离）",
        ));
    }
    if roles.contains(&Role::CatalogAdmin) && org.as_str() != REGION_CODE {
        return Err(invalid(
            "roles",
            "catalog_admin is a region-level role",
            "目录管理员仅设于自治区级",
        ));
    }
    Ok(roles)
}

pub(crate) fn totp_aad(user: uuid::Uuid) -> Vec<u8> {
    format!("staff-totp:{user}").into_bytes()
}

fn unix(t: jiff::Timestamp) -> i64 {
    t.as_second()
}

fn span(d: Duration) -> jiff::SignedDuration {
    jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX)
}

impl Library {
    #[must_use]
    pub fn with_session_policy(mut self, policy: SessionPolicy) -> Self {
        if policy.login_limits != self.session_policy.login_limits {
            self.login_guard =
                std::sync::Arc::new(super::login_limits::LoginGuard::new(policy.login_limits));
        }
        self.session_policy = policy;
        self
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.session_policy
    }

    /// Password hashing and login refusals so far (for `/metrics`).
    pub fn login_stats(&self) -> LoginStats {
        self.login_guard.stats()
    }

    /// Hash off the async threads, within the bound on hashing: argon2id
    /// takes 19 MiB and tens of milliseconds.
    async fn hash_password_gated(&self, password: String) -> Result<String> {
        self.login_guard
            .hashing()
            .run(Queue::Wait, move || hash_password(&password))
            .await?
            .map_err(Error::Internal)
    }

    async fn verify_password_gated(&self, queue: Queue, password: &str, phc: &str) -> Result<bool> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.login_guard
            .hashing()
            .run(queue, move || verify_password(&password, &phc))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_of_duties_in_roles() {
        let city = OrgCode::parse("150100").unwrap();
        let region = OrgCode::parse("150000").unwrap();
        assert!(check_roles(&[Role::Auditor, Role::IssuerClerk], &city).is_err());
        assert!(check_roles(&[Role::SecurityAdmin, Role::RegionAdmin], &city).is_err());
        assert!(check_roles(&[Role::CatalogAdmin], &city).is_err());
        assert!(check_roles(&[], &city).is_err());
        assert_eq!(
            check_roles(
                &[Role::CatalogAdmin, Role::RegionAdmin, Role::RegionAdmin],
                &region
            )
            .unwrap(),
            vec![Role::RegionAdmin, Role::CatalogAdmin]
        );
    }

    #[test]
    fn initial_passwords_meet_the_policy_and_differ() {
        let a = initial_password().unwrap();
        assert!(check_password_policy(&a, "").is_ok());
        assert_eq!(a.len(), 20);
        assert_ne!(a, initial_password().unwrap());
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(argon2::password_hash::phc::PasswordHash::new(sessions::DUMMY_PHC).is_ok());
    }

    #[test]
    fn long_usernames_are_logged_as_a_marked_prefix() {
        assert_eq!(username_for_log("wang.li"), json!({"username": "wang.li"}));
        let long = "王".repeat(400_000);
        let logged = username_for_log(&long);
        assert_eq!(logged["username_truncated"], true);
        assert_eq!(logged["username_bytes"], 1_200_000);
        assert!(logged.to_string().len() < 200, "{logged}");
    }

    #[test]
    fn usernames() {
        assert!(check_username("wang.li").is_ok());
        assert!(check_username("Wang").is_err());
        assert!(check_username("1abc").is_err());
        assert!(check_username("ab").is_err());
    }
}
