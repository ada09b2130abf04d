//! The storage of each aggregate, one trait apiece; `Store` (in `lib.rs`)
//! is all of them. Every method that changes state takes a [`ChangeLog`]
//! (written in the same transaction) unless its doc says why not.

use crate::*;
use async_trait::async_trait;
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};

/// The org tree (Art. 5): orgs, their subtrees, and changes to them.
#[async_trait]
pub trait OrgStore: Send + Sync {
    async fn orgs(&self) -> StoreResult<Vec<Org>>;

    async fn org(&self, code: &OrgCode) -> StoreResult<Option<Org>>;

    async fn org_by_credit_code(&self, code: &CreditCode) -> StoreResult<Option<Org>>;

    async fn org_children(&self, code: &OrgCode) -> StoreResult<Vec<Org>>;

    /// Whether `org` is `ancestor` or lies below it. One indexed lookup.
    async fn org_within(&self, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool>;

    /// `org` and every org below it, by index.
    async fn org_subtree(&self, ancestor: &OrgCode) -> StoreResult<Vec<Org>>;

    /// Add an org under an existing parent. `Conflict` if the code or credit code is taken.
    async fn add_org(&self, org: &Org, log: &ChangeLog) -> StoreResult<()>;

    /// Replace an org's name and credit code (placeholders become real).
    async fn update_org(&self, change: &OrgUpdate, log: &ChangeLog) -> StoreResult<Org>;
}

/// The issuance catalog: license types and their versions.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Version 1 of a new type. `Conflict` if the code exists.
    async fn create_license_type(
        &self,
        spec: &LicenseTypeSpec,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion>;

    /// The next version of an existing type, which must still be at
    /// `expected_current` (optimistic concurrency: a concurrent edit makes
    /// this a `Conflict`). `NotFound` if the type does not exist.
    async fn update_license_type(
        &self,
        spec: &LicenseTypeSpec,
        expected_current: u32,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion>;

    /// The current version of every type, ordered by code.
    async fn current_license_types(&self) -> StoreResult<Vec<LicenseTypeVersion>>;

    /// One version, or the current one when `version` is `None`.
    async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
    ) -> StoreResult<Option<LicenseTypeVersion>>;

    /// Every version of a type, oldest first.
    async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
    ) -> StoreResult<Vec<LicenseTypeVersion>>;
}

/// API tokens, and the nonces of requests signed with them.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: &NewToken, log: &ChangeLog) -> StoreResult<()>;

    /// The live (not revoked) token with this hash.
    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRecord>>;

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>>;

    /// Mark a token revoked. `NotFound` if no such token; revoking twice is a no-op.
    async fn revoke_token(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<TokenRecord>;

    /// Note a signed request's nonce for `token` until `expires_at` (the end
    /// of its replay window). `Conflict` if the same token used this nonce
    /// and it has not yet expired at `now`; an expired entry is taken over.
    /// Shared by every node on the database, and kept across restarts. Not
    /// audited: the request itself is, by what it does.
    async fn use_request_nonce(
        &self,
        token: uuid::Uuid,
        nonce: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<()>;

    /// Forget nonces whose window ended at or before `now`; how many.
    async fn purge_request_nonces(&self, now: jiff::Timestamp) -> StoreResult<u64>;
}

/// Staff accounts and their sessions.
#[async_trait]
pub trait StaffStore: Send + Sync {
    /// `Conflict` if the username is taken.
    async fn add_staff_user(&self, user: &StaffUser, log: &ChangeLog) -> StoreResult<()>;

    async fn staff_user(&self, id: uuid::Uuid) -> StoreResult<Option<StaffUser>>;

    async fn staff_user_by_name(&self, username: &str) -> StoreResult<Option<StaffUser>>;

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>>;

    /// Replace the user's mutable fields (roles, secrets, counters, state),
    /// only if the stored row is still at `user.row_version` (the version the
    /// change was based on); the stored version then becomes one more.
    /// Otherwise `Conflict` and nothing is written: someone (a login, a failed
    /// login, another administrator) wrote the row meanwhile; read it again.
    /// `NotFound` if there is no such user.
    /// With `end_sessions_at`, every live session of the user ends then too.
    async fn save_staff_user(
        &self,
        user: &StaffUser,
        end_sessions_at: Option<jiff::Timestamp>,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// A successful login of `seen` (the account as the login read and
    /// checked it): the failure count and lock cleared, `totp_step`
    /// recorded, and the new session, together. Only those columns are
    /// written (and the row version bumped), and only if the account is
    /// still enabled, has the same password hash and lock as `seen`, and no
    /// code of this or a later step was accepted meanwhile; otherwise
    /// `Conflict` and nothing is written (a concurrent login used the code,
    /// the account was locked, or an administrator acted).
    async fn start_staff_session(
        &self,
        seen: &StaffUser,
        totp_step: i64,
        session: &StaffSession,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// A failed login of `seen` (the account as the attempt read and checked
    /// it), in one conditional statement: one more failure, counted only
    /// while the account is enabled with the same password hash and the
    /// same lock (none, or an expired one) as `seen`. At `threshold`
    /// failures in a row the account is locked until `lock_until` and the
    /// count starts again. Touches no other column (but the row version).
    /// Writes the event of `logs` that matches the outcome, which it returns.
    async fn record_failed_login(
        &self,
        seen: &StaffUser,
        threshold: u32,
        lock_until: jiff::Timestamp,
        logs: &FailedLoginLogs,
    ) -> StoreResult<FailedLogin>;

    /// The live (not ended) session with this hash.
    async fn staff_session(&self, hash: &[u8]) -> StoreResult<Option<StaffSession>>;

    /// Note activity on a session (for the idle timeout). Not audited.
    async fn touch_staff_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()>;

    async fn end_staff_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()>;
}

/// Signing keys (with their revocations) and the data keys that seal personal fields.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn add_data_key(&self, key: &DataKeyRecord, log: &ChangeLog) -> StoreResult<()>;

    /// Every data key, oldest first (the last one seals new data).
    async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>>;

    /// Store a key. With `retire_active`, the org's current key of the same
    /// purpose is retired in the same transaction (rotation, import). At most
    /// one active key per (org, purpose): a second is a `Conflict`.
    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_active: bool,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// The active key of `org` (`None`: the library CA) for `purpose`.
    async fn active_signing_key(
        &self,
        org: Option<&OrgCode>,
        purpose: KeyPurpose,
    ) -> StoreResult<Option<SigningKeyRecord>>;

    async fn signing_key(&self, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>>;

    /// Revoke a key (a compromised key, `zhengzhao keys revoke`): record
    /// the revocation and retire the key if it was active, so it signs no
    /// more. `NotFound` if no such key; `Conflict` if it is already revoked.
    async fn revoke_signing_key(
        &self,
        revocation: &KeyRevocation,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// Every key revocation, oldest first.
    async fn key_revocations(&self) -> StoreResult<Vec<KeyRevocation>>;

    /// Every key of `org` (`None`: the CA), active and retired, oldest first.
    async fn signing_keys(&self, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>>;
}

/// Licenses, their versions and status indexes, presentations and deliveries.
#[async_trait]
pub trait LicenseStore: Send + Sync {
    /// For the revocation status list: the highest license key so far, and
    /// the keys of every revoked license.
    async fn license_status_summary(&self) -> StoreResult<(i64, Vec<i64>)>;

    /// Reserve `count` consecutive status-list indexes (one per license
    /// version, signed into its payload before it is stored) and return the
    /// first. Never returns an index twice, across restarts and nodes; an
    /// index reserved but not used stays a gap. Not audited: it changes no
    /// license, like a sequence.
    async fn reserve_status_indexes(&self, count: u32) -> StoreResult<i64>;

    /// For the per-version status lists: the next unreserved index, and the
    /// indexes of every version no longer in force, by why.
    async fn version_status_summary(&self) -> StoreResult<VersionStatusSummary>;

    /// Mark a single-use presentation token used, with the scan's audit
    /// event. `Conflict` (and nothing written) if it was used before.
    async fn use_presentation(
        &self,
        jti: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// Store a new license with its first version.
    /// `Conflict` if the source record or the serial is already used;
    /// `CurrentLicenseExists` if `license.one_current_per_holder` and the
    /// holder has a license of the type that is not revoked (expired or not
    /// yet valid ones count too). That rule holds under concurrency: it is
    /// a unique index over the holder of every such license until revoked.
    async fn issue_license(
        &self,
        license: &NewLicense,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord>;

    /// Append a version to the license with row key `key`, whose current
    /// version must be `expected_current` and which must not be revoked.
    async fn add_license_version(
        &self,
        key: i64,
        expected_current: u16,
        version: &LicenseVersionRecord,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord>;

    /// Revoke; `Conflict` if already revoked or the current version moved on.
    async fn revoke_license(
        &self,
        key: i64,
        expected_current: u16,
        revocation: &Revocation,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord>;

    /// The license one of whose versions has this identifier.
    async fn license_by_identifier(&self, id: &LicenseId) -> StoreResult<Option<LicenseRecord>>;

    async fn license_by_source(
        &self,
        system: &str,
        record_id: &str,
    ) -> StoreResult<Option<LicenseRecord>>;

    /// The licenses of business system `system`, by record id, those after
    /// `after` (a page of at most `limit`); one indexed range read.
    async fn source_records(
        &self,
        system: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SourceRecord>>;

    /// Every license of any of `holder_ids` whose type is one of
    /// `type_codes`, newest first, in one query (the batch check looks up a
    /// hundred holders at a time).
    async fn licenses_of_holders(
        &self,
        holder_ids: &[String],
        type_codes: &[LicenseTypeCode],
    ) -> StoreResult<Vec<LicenseRecord>>;

    /// A page of licenses (newest first) after the cursor `before_key`.
    async fn licenses(
        &self,
        filter: &LicenseFilter,
        before_key: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LicenseRecord>>;

    /// How many licenses orgs of the subtree of `issuer_within` issued
    /// from `since` on (the console's dashboard).
    async fn count_licenses_issued(
        &self,
        issuer_within: &OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<i64>;

    /// Licenses issued from `since` on, per month (`YYYY-MM`, China time)
    /// and per org directly below `org` (each counting its whole subtree;
    /// `org` itself for what it issued itself), for the console's chart:
    /// (month, org code, count).
    async fn issuance_by_month(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<Vec<(String, String, i64)>>;

    /// Add checks to the per-day counts: (day `YYYY-MM-DD`, way in, how
    /// many more), in one write.
    async fn add_verification_counts(&self, counts: &[(String, String, i64)]) -> StoreResult<()>;

    /// The per-day counts of checks from `since` (`YYYY-MM-DD`) on: (day,
    /// way in, count), by day.
    async fn verification_counts(&self, since: &str) -> StoreResult<Vec<(String, String, i64)>>;

    /// Every delivery of a license's versions over the delivery channels
    /// (Art. 8), from the outbox relay's rows.
    async fn deliveries_of(&self, key: i64) -> StoreResult<Vec<DeliveryRecord>>;

    /// Every delivery of the versions of all licenses in `keys`, in one
    /// query (a list page's, not one query per license).
    async fn deliveries_of_licenses(&self, keys: &[i64]) -> StoreResult<Vec<DeliveryRecord>>;
}

/// The audit log: events, their search, the outbox, the Merkle tree and its signed checkpoints.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// An event that changes no other state (e.g. a refused login of an
    /// unknown username): only its audit event and outbox messages.
    async fn record_event(&self, log: &ChangeLog) -> StoreResult<()>;

    /// Several such events in one transaction (all or none), in order.
    async fn record_events(&self, logs: &[ChangeLog]) -> StoreResult<()>;

    /// Audit events with sequence number greater than `after`, oldest first.
    async fn audit_events(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;

    /// Audit events matching `query` with sequence number greater than `after`, oldest first.
    async fn search_audit(
        &self,
        query: &AuditQuery,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;

    /// Outbox messages not yet delivered, oldest first.
    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxRecord>>;

    async fn audit_tree_head(&self) -> StoreResult<AuditTreeHead>;

    /// Append leaves and the interior nodes they complete. Refused with
    /// `Conflict` unless the tree still stands at `head` and `leaves` are
    /// exactly the audit events after `head.last_seq` up to the last leaf's,
    /// in order (on PostgreSQL, checked while concurrent appends to the audit
    /// log wait, so no event can join that range later).
    async fn append_audit_leaves(
        &self,
        head: &AuditTreeHead,
        leaves: &[AuditLeaf],
        nodes: &[AuditNode],
    ) -> StoreResult<()>;

    /// The stored complete nodes among `coords` (level, index); level 0 are leaves.
    async fn audit_nodes(&self, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>>;

    /// Leaves from index `from`, in order.
    async fn audit_leaves(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>>;

    /// The leaf of audit event `seq`, if it is in the tree.
    async fn audit_leaf_of(&self, seq: i64) -> StoreResult<Option<AuditLeaf>>;

    async fn add_audit_checkpoint(&self, cp: &AuditCheckpoint, log: &ChangeLog) -> StoreResult<()>;

    /// Checkpoints with tree size ≥ `from_size`, smallest first.
    async fn audit_checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditCheckpoint>>;

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>>;
}

/// Relying parties' scenarios and their daily use (Art. 14–16).
#[async_trait]
pub trait ScenarioStore: Send + Sync {
    async fn add_scenario(&self, scenario: &NewScenario, log: &ChangeLog) -> StoreResult<()>;
    async fn scenario(&self, id: uuid::Uuid) -> StoreResult<Option<ScenarioRecord>>;
    /// Every scenario, newest first.
    async fn scenarios(&self) -> StoreResult<Vec<ScenarioRecord>>;
    /// Apply a decision, only if the scenario is still in state `expected`
    /// (else `Conflict`, nothing written; `NotFound` if there is none).
    async fn decide_scenario(
        &self,
        id: uuid::Uuid,
        expected: zhengzhao_domain::scenario::ScenarioState,
        decision: &ScenarioDecision,
        log: &ChangeLog,
    ) -> StoreResult<ScenarioRecord>;
    /// Count one more read by the scenario on `day`, unless it already made
    /// `limit` that day: `true` if counted. Not audited (the read is).
    async fn use_scenario_quota(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
    ) -> StoreResult<bool>;
    /// A read by the scenario, counted against its daily quota together with
    /// its audit event, in one transaction: `true` if counted and recorded;
    /// `false` (and nothing written) when the quota is used up.
    async fn record_counted_read(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
        log: &ChangeLog,
    ) -> StoreResult<bool>;
}

/// Holders' consents to social scenarios (Art. 22).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// A new consent (state `granted`).
    async fn add_consent(&self, consent: &ConsentRecord, log: &ChangeLog) -> StoreResult<()>;
    async fn consent(&self, id: uuid::Uuid) -> StoreResult<Option<ConsentRecord>>;
    /// A holder's consents, newest first.
    async fn consents_of_holder(&self, holder_key: &str) -> StoreResult<Vec<ConsentRecord>>;
    /// End a consent in state `granted`: `withdrawn` (by the holder) or
    /// `used` (a single-use consent, with the read it allowed). `Conflict`
    /// if it is no longer `granted`; nothing is written then.
    async fn end_consent(
        &self,
        id: uuid::Uuid,
        new_state: &str,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<ConsentRecord>;
}

/// Each org's usage list (Art. 11–12).
#[async_trait]
pub trait UsageListStore: Send + Sync {
    /// Store the next version of an item: `item.version` must be one more
    /// than the stored current version (1 for a new item), else `Conflict`
    /// and nothing written. `NotFound` if the org does not exist.
    async fn put_usage_item(&self, item: &UsageItemRecord, log: &ChangeLog) -> StoreResult<()>;
    /// The current version of every item of `org`, by item code.
    async fn usage_items(&self, org: &OrgCode) -> StoreResult<Vec<UsageItemRecord>>;
    /// The current version of one item.
    async fn usage_item(
        &self,
        org: &OrgCode,
        item_code: &str,
    ) -> StoreResult<Option<UsageItemRecord>>;
}

/// Holders signed in through the identity provider: sign-ins under way
/// (not audited: nothing has happened yet) and sessions.
#[async_trait]
pub trait HolderSessionStore: Send + Sync {
    /// A sign-in sent to the provider. Sign-ins that expired at or before
    /// `now` are dropped in the same write, so abandoned ones do not pile up.
    async fn add_holder_sign_in(
        &self,
        sign_in: &HolderSignIn,
        now: jiff::Timestamp,
    ) -> StoreResult<()>;

    /// Remove and return the sign-in with this state hash, if it has not
    /// expired at `now` (an expired one is removed too, and `None`). One
    /// statement: of two callbacks with the same state, one gets it.
    async fn take_holder_sign_in(
        &self,
        state_hash: &[u8],
        now: jiff::Timestamp,
    ) -> StoreResult<Option<HolderSignIn>>;

    async fn start_holder_session(
        &self,
        session: &HolderSession,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// The live (not ended) session with this hash.
    async fn holder_session(&self, hash: &[u8]) -> StoreResult<Option<HolderSession>>;

    /// Note activity on a session (for the idle timeout). Not audited.
    async fn touch_holder_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()>;

    /// `NotFound` if there is no live session with this hash.
    async fn end_holder_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()>;
}

/// The outbox relay (`zhengzhao_core::outbox`): one delivery row per
/// destination and outbox message, claimed by row, in order per stream.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Make `destination` known; a new one receives every message from the
    /// first on. A no-op for a known one.
    async fn register_destination(&self, destination: &str) -> StoreResult<()>;

    /// Give `destination` a pending row for each outbox message of `topics`
    /// it has not been given yet, looking at most `limit` messages ahead;
    /// how many rows were made. Safe when two processes do it at once.
    async fn fan_out(
        &self,
        destination: &str,
        topics: &[&str],
        now: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<u64>;

    /// Claim up to `limit` due rows of `destination`, oldest first: pending
    /// ones due at `now`, and in-flight ones whose lease ended (a worker
    /// died) — each only if no older message of its stream is undelivered.
    /// The attempt is counted here, and the row is in flight until
    /// `lease_until`. On PostgreSQL rows locked by another claim are skipped.
    async fn claim_outbox(
        &self,
        destination: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxDelivery>>;

    /// The outcome of a claimed attempt, with `log` in the same transaction.
    /// `Conflict` if the row is no longer in flight.
    async fn record_outbox_attempt(
        &self,
        id: i64,
        outcome: &OutboxOutcome,
        log: Option<&ChangeLog>,
    ) -> StoreResult<()>;

    async fn outbox_deliveries(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxDelivery>>;

    async fn outbox_delivery(&self, id: i64) -> StoreResult<Option<OutboxDelivery>>;

    /// Send a rejected or parked row again: pending, attempts from zero,
    /// due at `now`. `Conflict` in any other state, `NotFound` if none.
    async fn replay_outbox(
        &self,
        id: i64,
        now: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<OutboxDelivery>;

    /// Each registered destination's rows by state.
    async fn outbox_summary(&self) -> StoreResult<Vec<OutboxSummary>>;
}

/// Emergency incidents and their backlogs (Art. 9), and the working-day
/// calendar files the operator imported.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    async fn add_incident(&self, incident: &IncidentRecord, log: &ChangeLog) -> StoreResult<()>;

    async fn incident(&self, id: uuid::Uuid) -> StoreResult<Option<IncidentRecord>>;

    /// Every incident, newest first.
    async fn incidents(&self) -> StoreResult<Vec<IncidentRecord>>;

    /// Close an open incident. `Conflict` if it is closed, `NotFound` if none.
    async fn close_incident(
        &self,
        id: uuid::Uuid,
        cleared_at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<IncidentRecord>;

    /// Register backlog items of an open incident (`Conflict` once it is
    /// closed, checked in the same transaction); an item registered before
    /// (same source record and operation) is kept once. How many are new.
    async fn add_backlog_items(
        &self,
        incident: uuid::Uuid,
        items: &[BacklogItemRecord],
        log: &ChangeLog,
    ) -> StoreResult<u64>;

    /// An incident's items, in the order registered.
    async fn backlog_items(&self, incident: uuid::Uuid) -> StoreResult<Vec<BacklogItemRecord>>;

    /// Store an imported calendar file (checked by the caller).
    async fn add_calendar_import(&self, text: &str, log: &ChangeLog) -> StoreResult<()>;

    /// The imported calendar files, oldest first (each newer one wins).
    async fn calendar_imports(&self) -> StoreResult<Vec<String>>;
}

/// Objections (Art. 19), their attachments, and the flag they put on a
/// license while open.
#[async_trait]
pub trait ObjectionStore: Send + Sync {
    /// A new objection with its attachments. `Conflict` if its ticket, or
    /// its channel's reference, is taken.
    async fn add_objection(
        &self,
        objection: &ObjectionRecord,
        attachments: &[ObjectionAttachment],
        log: &ChangeLog,
    ) -> StoreResult<()>;

    async fn objection_by_ticket(&self, ticket: &str) -> StoreResult<Option<ObjectionRecord>>;

    async fn objection_by_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> StoreResult<Option<ObjectionRecord>>;

    /// Write `objection` (its `row_version` one above the stored one), only
    /// if nobody changed it since it was read (`Conflict` otherwise); then
    /// set its license's `objection_fields` to the union of the
    /// `flag_fields` of that license's objections (none: no flag).
    async fn update_objection(
        &self,
        objection: &ObjectionRecord,
        log: &ChangeLog,
    ) -> StoreResult<()>;

    /// Objections, oldest first, in `state` if given, at most `limit`.
    async fn objections(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ObjectionRecord>>;

    async fn objection_attachments(&self, id: uuid::Uuid) -> StoreResult<Vec<ObjectionAttachment>>;

    /// Status indexes of the current versions of flagged licenses.
    async fn flagged_status_indexes(&self) -> StoreResult<Vec<i64>>;
}
