//! Logging in (password and one-time code, lockout, rate limits), the
//! session behind a cookie, logging out, and changing one's own password.

use super::*;
use crate::credentials::{check_password_policy, verify_totp};
use crate::login_limits::Queue;
use crate::principal::{Principal, SessionInfo};
use crate::secrets::random_hex;
use crate::{Actor, Library};
use crate::{Error, Result};
use serde_json::json;
use std::time::Duration;
use zhengzhao_store::{ChangeLog, FailedLoginLogs, StaffSession, StaffUser, StoreError};

/// A valid argon2id hash of a random string, for timing-equal refusals.
pub(super) const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXk$K3Xr4n3f9iZ4QnS9tI9mQ7C7o8Ck4H2r8Yw1m2g1f1E";

impl Library {
    pub(super) fn login_event(
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
    pub(super) async fn count_failed_login(
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
    pub(super) async fn overtaken_login(
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
            scenario: None,
            holder: None,
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

    pub(super) async fn own_account(&self, id: uuid::Uuid) -> Result<StaffUser> {
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
