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

use super::login_limits::{LoginLimits, LoginStats, Queue};
use super::{Actor, Library};
use crate::credentials::{
    check_password_policy, generate_totp_secret, hash_password, totp_secret_base32, totp_uri,
    verify_password, verify_totp,
};
use crate::policy::{self, Action};
use crate::principal::{Principal, SessionInfo};
use crate::secrets::random_hex;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sm3::{Digest, Sm3};
use std::time::Duration;
use utoipa::ToSchema;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, FailedLoginLogs, StaffSession, StaffUser, StoreError};

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
    if roles.contains(&Role::Platform) {
        return Err(invalid(
            "roles",
            "platform is a role for system tokens, not for staff",
            "用证平台角色只用于系统令牌，不授予工作人员",
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

    fn fresh_credentials(
        &self,
        user_id: uuid::Uuid,
        username: &str,
    ) -> Result<(String, Vec<u8>, InitialCredentials)> {
        let password = initial_password()?;
        let totp = generate_totp_secret().map_err(Error::Internal)?;
        let wrapped = self
            .master_key()?
            .encrypt(&totp_aad(user_id), &totp)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let creds = InitialCredentials {
            initial_password: password.clone(),
            totp_secret: totp_secret_base32(&totp),
            totp_uri: totp_uri(&totp, username),
        };
        Ok((password, wrapped, creds))
    }

    /// Create an account. `by` is the staff caller, or `None` for the
    /// operator at the command line (who owns the data directory anyway).
    pub async fn create_staff_user(
        &self,
        by: Option<&Principal>,
        actor: &Actor,
        new: NewStaff,
    ) -> Result<(StaffView, InitialCredentials)> {
        let org = OrgCode::parse(&new.org)
            .map_err(|e| Error::field("org", "invalid", e.to_string(), "机构代码无效"))?;
        if let Some(caller) = by {
            policy::require(caller, Action::ManageStaff)?;
            self.require_within(caller, &org).await?;
        }
        let username = new.username.trim().to_owned();
        check_username(&username)?;
        let display_name = check_display_name(&new.display_name)?;
        let roles = check_roles(&new.roles, &org)?;
        if self.store.org(&org).await?.is_none() {
            return Err(Error::NotFound(format!("org {org}")));
        }
        let id = uuid::Uuid::now_v7();
        let (password, totp_secret, creds) = self.fresh_credentials(id, &username)?;
        let at = self.now();
        let user = StaffUser {
            id,
            username,
            display_name,
            org,
            roles,
            password_hash: self.hash_password_gated(password).await?,
            totp_secret,
            totp_last_step: 0,
            must_change_password: true,
            failed_logins: 0,
            locked_until: None,
            password_changed_at: at,
            created_at: at,
            disabled_at: None,
            row_version: 0,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "user.create",
            format!("user:{id}"),
            json!({"username": user.username, "org": user.org, "roles": user.roles}),
        ));
        self.store.add_staff_user(&user, &log).await?;
        Ok((StaffView::from(&user), creds))
    }

    /// The account, if the caller may see it: security admins and auditors
    /// within their subtree, and everyone their own.
    async fn visible_user(&self, caller: &Principal, id: uuid::Uuid) -> Result<StaffUser> {
        let user = self
            .store
            .staff_user(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        if caller.is_user(id) {
            return Ok(user);
        }
        policy::require(caller, Action::ReadStaff)?;
        self.require_within(caller, &user.org).await?;
        Ok(user)
    }

    /// For the command line: an account by its username.
    pub async fn staff_user_named(&self, username: &str) -> Result<StaffView> {
        self.store
            .staff_user_by_name(username)
            .await?
            .map(|u| StaffView::from(&u))
            .ok_or_else(|| Error::NotFound(format!("user {username}")))
    }

    /// For the command line: every account.
    pub async fn all_staff_users(&self) -> Result<Vec<StaffView>> {
        Ok(self
            .store
            .staff_users()
            .await?
            .iter()
            .map(StaffView::from)
            .collect())
    }

    pub async fn staff_user(&self, caller: &Principal, id: uuid::Uuid) -> Result<StaffView> {
        Ok(StaffView::from(&self.visible_user(caller, id).await?))
    }

    /// Accounts within the caller's subtree.
    pub async fn staff_users(&self, caller: &Principal) -> Result<Vec<StaffView>> {
        policy::require(caller, Action::ReadStaff)?;
        let within: std::collections::HashSet<OrgCode> = self
            .store
            .org_subtree(&caller.org)
            .await?
            .into_iter()
            .map(|o| o.code)
            .collect();
        Ok(self
            .store
            .staff_users()
            .await?
            .iter()
            .filter(|u| within.contains(&u.org))
            .map(StaffView::from)
            .collect())
    }

    /// An account a security admin may change: within the subtree, not their own.
    async fn managed_user(&self, caller: &Principal, id: uuid::Uuid) -> Result<StaffUser> {
        policy::require(caller, Action::ManageStaff)?;
        if caller.is_user(id) {
            return Err(Error::Forbidden(
                "no one changes their own account's permissions or credentials (separation of duties)".into(),
            ));
        }
        let user = self
            .store
            .staff_user(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        self.require_within(caller, &user.org).await?;
        Ok(user)
    }

    /// Change roles, name or the disabled state. Saved over the version
    /// read; when a login wrote the row meanwhile, read again and re-applied
    /// (the change does not depend on the login columns), so an answer of
    /// success means the change is stored.
    pub async fn update_staff_user(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        change: StaffChange,
    ) -> Result<StaffView> {
        for _ in 0..SAVE_ATTEMPTS {
            let mut user = self.managed_user(caller, id).await?;
            let before = user.clone();
            if let Some(name) = &change.display_name {
                user.display_name = check_display_name(name)?;
            }
            if let Some(roles) = &change.roles {
                user.roles = check_roles(roles, &user.org)?;
            }
            let at = self.now();
            match change.disabled {
                Some(true) if user.disabled_at.is_none() => user.disabled_at = Some(at),
                Some(false) => user.disabled_at = None,
                _ => {}
            }
            if user == before {
                return Ok(StaffView::from(&user));
            }
            // Fewer permissions take effect at once: live sessions end.
            let end_sessions =
                (user.roles != before.roles || user.disabled_at.is_some()).then_some(at);
            let log = ChangeLog::audit_only(self.audit_event(
                &Actor::from(caller),
                "user.update",
                format!("user:{id}"),
                json!({
                    "roles": {"before": before.roles, "after": user.roles},
                    "disabled": user.disabled_at.is_some(),
                    "display_name": user.display_name,
                }),
            ));
            match self.store.save_staff_user(&user, end_sessions, &log).await {
                Ok(()) => {
                    user.row_version += 1;
                    return Ok(StaffView::from(&user));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(conflict_persists())
    }

    /// The account to reset: one the staff caller manages, or any for the
    /// operator at the command line.
    async fn account_to_reset(&self, by: Option<&Principal>, id: uuid::Uuid) -> Result<StaffUser> {
        match by {
            Some(caller) => self.managed_user(caller, id).await,
            None => self
                .store
                .staff_user(id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("user {id}"))),
        }
    }

    /// New initial password and TOTP secret; unlocks; ends every session.
    /// `by` is the staff caller, or `None` for the operator at the command
    /// line (the way back in when the last security admin is locked out).
    pub async fn reset_staff_credentials(
        &self,
        by: Option<&Principal>,
        actor: &Actor,
        id: uuid::Uuid,
    ) -> Result<(StaffView, InitialCredentials)> {
        let first = self.account_to_reset(by, id).await?;
        let (password, totp_secret, creds) = self.fresh_credentials(id, &first.username)?;
        let password_hash = self.hash_password_gated(password).await?;
        for attempt in 0..SAVE_ATTEMPTS {
            let mut user = if attempt == 0 {
                first.clone()
            } else {
                self.account_to_reset(by, id).await?
            };
            let at = self.now();
            user.password_hash = password_hash.clone();
            user.totp_secret = totp_secret.clone();
            user.totp_last_step = 0;
            user.must_change_password = true;
            user.failed_logins = 0;
            user.locked_until = None;
            user.password_changed_at = at;
            let log = ChangeLog::audit_only(self.audit_event(
                actor,
                "user.reset_credentials",
                format!("user:{id}"),
                json!({}),
            ));
            match self.store.save_staff_user(&user, Some(at), &log).await {
                Ok(()) => {
                    user.row_version += 1;
                    return Ok((StaffView::from(&user), creds));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(conflict_persists())
    }

    fn login_event(
        &self,
        user: Option<&StaffUser>,
        username: &str,
        client_addr: Option<&str>,
        outcome: &str,
        reason: Option<&str>,
    ) -> ChangeLog {
        let actor = Actor {
            id: user.map_or(crate::ActorId::Anonymous, |u| crate::ActorId::User(u.id)),
            org: user.map(|u| u.org.to_string()),
            role: user.map(|u| zhengzhao_store::roles_to_text(&u.roles)),
            client_addr: client_addr.map(str::to_owned),
        };
        let target = user.map_or_else(|| "user:unknown".to_owned(), |u| format!("user:{}", u.id));
        let mut event =
            self.audit_event(&actor, "session.login", target, username_for_log(username));
        event.outcome = outcome.into();
        event.reason = reason.map(str::to_owned);
        ChangeLog::audit_only(event)
    }

    /// Check username, password and one-time code; lock the account after
    /// too many failures in a row. The error never says which part was wrong.
    ///
    /// In order: the per-address limit; the username's form (one that cannot
    /// exist is refused without a lookup or a hash, and logged as a bounded
    /// prefix); the per-username limit; the account (unknown, disabled,
    /// locked); the password (hashing bounded, `login_limits`) and the code.
    /// A failure is counted by one conditional statement of the store, a
    /// success is recorded only if the account is still as checked.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: &str,
        client_addr: Option<&str>,
    ) -> Result<Login> {
        self.login_guard.check_address(client_addr)?;
        let username = username.trim();
        if check_username(username).is_err() {
            let log = self.login_event(
                None,
                username,
                client_addr,
                "failed",
                Some("malformed username"),
            );
            self.store.record_event(&log).await?;
            return Err(Error::LoginFailed);
        }
        self.login_guard.check_username(username)?;
        let Some(user) = self.store.staff_user_by_name(username).await? else {
            // Spend the same time as a real check, so timing does not tell
            // which usernames exist.
            let _ = self
                .verify_password_gated(Queue::Short, password, DUMMY_PHC)
                .await?;
            let log = self.login_event(
                None,
                username,
                client_addr,
                "failed",
                Some("unknown username"),
            );
            self.store.record_event(&log).await?;
            return Err(Error::LoginFailed);
        };
        let at = self.now();
        if user.disabled_at.is_some() {
            let log = self.login_event(
                Some(&user),
                username,
                client_addr,
                "denied",
                Some("account disabled"),
            );
            self.store.record_event(&log).await?;
            return Err(Error::LoginFailed);
        }
        if let Some(until) = user.locked_until.filter(|u| *u > at) {
            let log = self.login_event(
                Some(&user),
                username,
                client_addr,
                "denied",
                Some("account locked"),
            );
            self.store.record_event(&log).await?;
            return Err(Error::Locked(until));
        }
        let password_ok = self
            .verify_password_gated(Queue::Short, password, &user.password_hash)
            .await?;
        let totp = self
            .master_key()?
            .decrypt(&totp_aad(user.id), &user.totp_secret)
            .map_err(|e| Error::Internal(format!("TOTP secret of user {}: {e}", user.id)))?;
        let step = verify_totp(&totp, totp_code, unix(at), user.totp_last_step);
        let (true, Some(step)) = (password_ok, step) else {
            let reason = if password_ok {
                "wrong one-time code"
            } else {
                "wrong password"
            };
            self.count_failed_login(&user, username, client_addr, reason)
                .await?;
            return Err(Error::LoginFailed);
        };
        let secret = format!("{SESSION_PREFIX}{}", random_hex(32)?);
        let session = StaffSession {
            hash: session_hash(&secret),
            user_id: user.id,
            csrf_token: random_hex(16)?,
            created_at: at,
            last_seen_at: at,
            expires_at: at
                .checked_add(span(self.session_policy.absolute_timeout))
                .map_err(|e| Error::Internal(e.to_string()))?,
            client_addr: client_addr.map(str::to_owned),
            ended_at: None,
        };
        let log = self.login_event(Some(&user), username, client_addr, "success", None);
        match self
            .store
            .start_staff_session(&user, step, &session, &log)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(self.overtaken_login(&user, username, client_addr).await?);
            }
            Err(e) => return Err(e.into()),
        }
        let mut user = user;
        user.failed_logins = 0;
        user.locked_until = None;
        user.totp_last_step = step;
        user.row_version += 1;
        Ok(Login {
            secret,
            session,
            user,
        })
    }

    /// A wrong password or code: counted by the store in one conditional
    /// statement, with the event of what it did (counted, locked the
    /// account, or not counted because the account changed meanwhile).
    async fn count_failed_login(
        &self,
        user: &StaffUser,
        username: &str,
        client_addr: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let policy = self.session_policy;
        let lock_until = self
            .now()
            .checked_add(span(policy.lockout_duration))
            .unwrap_or(jiff::Timestamp::MAX);
        let event = |reason: String| {
            self.login_event(Some(user), username, client_addr, "failed", Some(&reason))
        };
        let logs = FailedLoginLogs {
            counted: event(reason.to_owned()),
            locked: event(format!("{reason}; account locked until {lock_until}")),
            not_counted: event(format!(
                "{reason}; not counted: the account changed meanwhile (locked, disabled or reset)"
            )),
        };
        self.store
            .record_failed_login(user, policy.lockout_threshold, lock_until, &logs)
            .await?;
        Ok(())
    }

    /// Right password and code, but the account is no longer as checked:
    /// another login used the code, or it was locked, disabled or reset
    /// meanwhile. Recorded, and refused like any failure (423 if locked).
    async fn overtaken_login(
        &self,
        user: &StaffUser,
        username: &str,
        client_addr: Option<&str>,
    ) -> Result<Error> {
        let log = self.login_event(
            Some(user),
            username,
            client_addr,
            "failed",
            Some(
                "overtaken: the code was used, or the account locked, disabled or reset meanwhile",
            ),
        );
        self.store.record_event(&log).await?;
        let locked = self
            .store
            .staff_user(user.id)
            .await?
            .filter(|u| u.disabled_at.is_none())
            .and_then(|u| u.locked_until)
            .filter(|until| *until > self.now());
        Ok(locked.map_or(Error::LoginFailed, Error::Locked))
    }

    /// The caller behind a session cookie, if the session is live: not
    /// ended, not idle too long, not past its absolute end, user enabled.
    pub async fn session_caller(
        &self,
        secret: &str,
        client_addr: Option<String>,
    ) -> Result<Option<Principal>> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() != SESSION_PREFIX.len() + 64 {
            return Ok(None);
        }
        let hash = session_hash(secret);
        let Some(session) = self.store.staff_session(&hash).await? else {
            return Ok(None);
        };
        let at = self.now();
        let policy = self.session_policy;
        let idle = span(policy.idle_timeout);
        if at >= session.expires_at
            || session
                .last_seen_at
                .checked_add(idle)
                .is_ok_and(|t| at >= t)
        {
            return Ok(None);
        }
        let Some(user) = self.store.staff_user(session.user_id).await? else {
            return Ok(None);
        };
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        // Note activity now and then, not on every request: often enough
        // for the idle timeout, rarely enough not to write on every read.
        let touch_every = (policy.idle_timeout / 4).min(Duration::from_secs(60));
        if at.duration_since(session.last_seen_at) >= span(touch_every) {
            self.store.touch_staff_session(&hash, at).await?;
        }
        Ok(Some(Principal {
            actor: crate::ActorId::User(user.id),
            org: user.org.clone(),
            roles: user.roles.clone(),
            client_addr,
            session: Some(SessionInfo {
                hash,
                csrf_token: session.csrf_token,
                expires_at: session.expires_at,
                must_change_password: user.must_change_password,
                username: user.username.clone(),
                display_name: user.display_name.clone(),
            }),
        }))
    }

    pub async fn logout(&self, caller: &Principal) -> Result<()> {
        let Some(session) = &caller.session else {
            return Err(Error::Forbidden("not a session".into()));
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "session.logout",
            caller.actor.to_string(),
            json!({}),
        ));
        self.store
            .end_staff_session(&session.hash, self.now(), &log)
            .await?;
        Ok(())
    }

    async fn own_account(&self, id: uuid::Uuid) -> Result<StaffUser> {
        self.store
            .staff_user(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id}")))
    }

    /// Change one's own password; every session of the user then ends.
    /// Saved over the version read; when a login wrote the row meanwhile,
    /// read again and re-applied, unless the password itself changed
    /// (then 409: the current password was checked against an old one).
    pub async fn change_own_password(
        &self,
        caller: &Principal,
        current: &str,
        new: &str,
    ) -> Result<()> {
        let Some(session) = &caller.session else {
            return Err(Error::Forbidden(
                "only a logged-in staff user changes a password".into(),
            ));
        };
        let id = caller
            .actor
            .user_id()
            .ok_or_else(|| Error::Internal("session without a user".into()))?;
        let first = self.own_account(id).await?;
        if !self
            .verify_password_gated(Queue::Wait, current, &first.password_hash)
            .await?
        {
            return Err(Error::field(
                "current_password",
                "wrong",
                "current password is wrong",
                "当前密码错误",
            ));
        }
        check_password_policy(new, &session.username).map_err(|e| Error::Validation(vec![e]))?;
        if new == current {
            return Err(Error::field(
                "new_password",
                "unchanged",
                "the new password must differ from the current one",
                "新密码不能与当前密码相同",
            ));
        }
        let new_hash = self.hash_password_gated(new.to_owned()).await?;
        for attempt in 0..SAVE_ATTEMPTS {
            let mut user = if attempt == 0 {
                first.clone()
            } else {
                self.own_account(id).await?
            };
            if user.password_hash != first.password_hash {
                return Err(Error::Conflict(
                    "the password was changed or reset meanwhile; log in again".into(),
                ));
            }
            let at = self.now();
            user.password_hash = new_hash.clone();
            user.must_change_password = false;
            user.password_changed_at = at;
            let log = ChangeLog::audit_only(self.audit_event(
                &Actor::from(caller),
                "user.password_change",
                caller.actor.to_string(),
                json!({}),
            ));
            match self.store.save_staff_user(&user, Some(at), &log).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(conflict_persists())
    }
}

/// A valid argon2id hash of a random string, for timing-equal refusals.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXk$K3Xr4n3f9iZ4QnS9tI9mQ7C7o8Ck4H2r8Yw1m2g1f1E";

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
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_PHC).is_ok());
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
