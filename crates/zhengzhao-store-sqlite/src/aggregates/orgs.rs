//! The org tree (Art. 5): orgs, their subtrees, and changes to them.

use crate::{SqliteStore, journal, orgs};
use async_trait::async_trait;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::*;

#[async_trait]
impl OrgStore for SqliteStore {
    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        self.read(orgs::all).await
    }

    async fn org(&self, code: &OrgCode) -> StoreResult<Option<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::by_code(c, &code)).await
    }

    async fn org_by_credit_code(&self, code: &CreditCode) -> StoreResult<Option<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::by_credit_code(c, &code)).await
    }

    async fn org_children(&self, code: &OrgCode) -> StoreResult<Vec<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::children(c, &code)).await
    }

    async fn org_within(&self, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool> {
        let (org, ancestor) = (org.clone(), ancestor.clone());
        self.read(move |c| orgs::within(c, &org, &ancestor)).await
    }

    async fn org_subtree(&self, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
        let ancestor = ancestor.clone();
        self.read(move |c| orgs::subtree(c, &ancestor)).await
    }

    async fn add_org(&self, org: &Org, log: &ChangeLog) -> StoreResult<()> {
        let (org, at, log) = (org.clone(), log.audit.at, journal::PreparedLog::new(log));
        self.write(move |tx| {
            orgs::insert(tx, &org, at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn update_org(&self, change: &OrgUpdate, log: &ChangeLog) -> StoreResult<Org> {
        let (change, at, log) = (change.clone(), log.audit.at, journal::PreparedLog::new(log));
        self.write(move |tx| {
            let org = orgs::update(tx, &change, at)?;
            journal::append(tx, &log)?;
            Ok(org)
        })
        .await
    }
}
