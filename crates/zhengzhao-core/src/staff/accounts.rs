//! Creating, reading, changing and resetting staff accounts, each by a
//! security admin within their org subtree (the rules are in the module doc
//! of `staff`).

use super::*;
use crate::credentials::{generate_totp_secret, totp_secret_base32, totp_uri};
use crate::policy::{self, Action};
use crate::principal::Principal;
use crate::{Actor, Library};
use crate::{Error, Result};
use serde_json::json;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{ChangeLog, StaffUser, StoreError};

impl Library {
    pub(super) fn fresh_credentials(
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
    pub(super) async fn visible_user(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
    ) -> Result<StaffUser> {
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
    pub(super) async fn managed_user(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
    ) -> Result<StaffUser> {
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
    pub(super) async fn account_to_reset(
        &self,
        by: Option<&Principal>,
        id: uuid::Uuid,
    ) -> Result<StaffUser> {
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
}
