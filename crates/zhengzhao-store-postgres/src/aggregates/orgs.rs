//! The org tree (Art. 5): orgs, their subtrees, and changes to them.

use crate::{PgStore, orgs};
use async_trait::async_trait;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::*;

#[async_trait]
impl OrgStore for PgStore {
    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs::all(&self.client().await?).await
    }

    async fn org(&self, code: &OrgCode) -> StoreResult<Option<Org>> {
        orgs::by_code(&self.client().await?, code).await
    }

    async fn org_by_credit_code(&self, code: &CreditCode) -> StoreResult<Option<Org>> {
        orgs::by_credit_code(&self.client().await?, code).await
    }

    async fn org_children(&self, code: &OrgCode) -> StoreResult<Vec<Org>> {
        orgs::children(&self.client().await?, code).await
    }

    async fn org_within(&self, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool> {
        orgs::within(&self.client().await?, org, ancestor).await
    }

    async fn org_subtree(&self, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
        orgs::subtree(&self.client().await?, ancestor).await
    }

    async fn add_org(&self, org: &Org, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            orgs::insert(&tx, org, log.audit.at).await?;
        })
    }

    async fn update_org(&self, change: &OrgUpdate, log: &ChangeLog) -> StoreResult<Org> {
        journaled!(self, log, |tx| {
            orgs::update(&tx, change, log.audit.at).await?
        })
    }
}
