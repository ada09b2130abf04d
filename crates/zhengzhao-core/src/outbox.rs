//! The outbox relay: one mechanism that carries every change to every
//! destination — the regional platform (Art. 6–7), the national platform
//! (Art. 17) and each delivery channel (送达, Art. 8).
//!
//! Each change writes its outbox message in its own transaction. The relay
//! gives each destination a row per message (`fan_out`), claims due rows
//! (the attempt is counted at the claim, so a message that kills the worker
//! still runs out of tries; on PostgreSQL several servers claim with `SKIP
//! LOCKED`), and sends each as an SM2-signed JSON POST. Order is kept per
//! license and destination: a message is claimed only when every older
//! message of its license has been delivered, and one stuck license holds
//! back no other. A 2xx is delivered; a 4xx saying the content is wrong is
//! `rejected` (not retried; fix and replay); a transport failure, a 5xx,
//! 408 or 429 is retried with exponential backoff and jitter, and after
//! `max_attempts` ([`MAX_ATTEMPTS`] by default) the row is `parked`. Delivery is at least once: a
//! receiver that applied a message but did not answer gets it again with
//! the same `event_id`, its idempotency key.

use crate::{Actor, Error, Library, Principal, Result};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use zhengzhao_store::{ChangeLog, OutboxDelivery, OutboxOutcome};
pub use zhengzhao_store::{OutboxFilter, OutboxState, OutboxSummary};

/// After this many attempts a message is parked (unless configured otherwise).
pub const MAX_ATTEMPTS: u32 = 12;
/// How long a claimed row belongs to its worker by default; after it,
/// another takes it (a node that died holds its rows this long).
pub const LEASE: Duration = Duration::from_secs(120);
/// Rows a destination claims per round.
const CLAIM_BATCH: u32 = 128;
/// Messages a destination is given rows for per round.
const FAN_OUT_BATCH: u32 = 2000;

/// A configured delivery channel (Art. 8): a name and its webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryChannel {
    pub name: String,
    pub url: String,
}

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `platform`, `national_platform`, or `channel:<name>`.
    pub name: String,
    pub url: String,
    /// Which outbox topics it receives.
    pub topics: Vec<String>,
}

const PLATFORM_TOPICS: &[&str] = &[
    crate::licenses::PLATFORM_LICENSE_TOPIC,
    crate::catalog::PLATFORM_CATALOG_TOPIC,
];
const CHANNEL_TOPICS: &[&str] = &[crate::licenses::PLATFORM_LICENSE_TOPIC];

impl Destination {
    /// The regional government platform: every license and catalog change.
    pub fn platform(url: &str) -> Self {
        Self {
            name: "platform".into(),
            url: url.into(),
            topics: PLATFORM_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    /// The national platform (Art. 17): the same messages.
    pub fn national_platform(url: &str) -> Self {
        Self {
            name: "national_platform".into(),
            url: url.into(),
            // And the objections about other provinces' licenses (Art. 17, 19).
            topics: PLATFORM_TOPICS
                .iter()
                .map(|t| (*t).to_owned())
                .chain([crate::objections::NATIONAL_TOPIC.to_owned()])
                .collect(),
        }
    }

    /// A delivery channel: license changes, and the answers to the
    /// objections that came through a channel of its name.
    pub fn channel(c: &DeliveryChannel) -> Self {
        Self {
            name: format!("channel:{}", c.name),
            url: c.url.clone(),
            topics: CHANNEL_TOPICS
                .iter()
                .map(|t| (*t).to_owned())
                .chain([crate::objections::channel_topic(&c.name)])
                .collect(),
        }
    }
}

/// Why a send did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The receiver says the content is wrong (a 4xx other than 408/429).
    Rejected(String),
    /// Anything worth trying again: no connection, a timeout, a 5xx, 408, 429.
    Failed(String),
}

/// One signed message, ready to POST.
#[derive(Debug, Clone)]
pub struct SignedMessage {
    pub event_id: String,
    pub body: Vec<u8>,
    /// Base64 DER SM2-with-SM3 signature over `body`, by the region's key.
    pub signature: String,
    /// SM3 (hex) of the signer's certificate PEM, as `/api/v1/certificates` lists it.
    pub certificate_sm3: String,
}

/// How a message leaves the library. The core decides what to send, when,
/// and what an outcome means; a transport only carries it (the HTTP
/// crate's client in a server, a fake in tests).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, url: &str, message: &SignedMessage) -> std::result::Result<(), SendError>;
}

/// The wait before attempt `n + 1` (base × 2ⁿ, at most an hour), less a
/// random part of up to half, so retries of many messages spread out.
pub fn backoff(base: Duration, attempts_so_far: u32, jitter: f64) -> Duration {
    let full = base
        .saturating_mul(1u32 << attempts_so_far.min(10))
        .min(Duration::from_secs(3600));
    full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

/// One destination's row as the operator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: i64,
    pub destination: String,
    /// The message's id: the receiver's idempotency key.
    pub event_id: String,
    pub kind: String,
    pub license_id: Option<String>,
    /// `pending`, `in_flight`, `delivered`, `rejected` or `parked`.
    pub state: String,
    pub attempts: u32,
    #[schema(value_type = String)]
    pub next_attempt_at: jiff::Timestamp,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<jiff::Timestamp>,
    #[schema(value_type = String)]
    pub created_at: jiff::Timestamp,
}

/// The message kind a topic and event name stand for.
fn kind_of(d: &OutboxDelivery) -> String {
    let event = d.message.message.payload["event"].as_str().unwrap_or("");
    if d.message.message.topic == crate::catalog::PLATFORM_CATALOG_TOPIC {
        "catalog.changed".into()
    } else {
        event.to_owned()
    }
}

impl From<&OutboxDelivery> for OutboxEntry {
    fn from(d: &OutboxDelivery) -> Self {
        Self {
            id: d.id,
            destination: d.destination.clone(),
            event_id: d.message.message.id.to_string(),
            kind: kind_of(d),
            license_id: d.message.message.payload["license_id"]
                .as_str()
                .map(str::to_owned),
            state: d.state.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error.clone(),
            delivered_at: d.delivered_at,
            created_at: d.message.created_at,
        }
    }
}

impl Library {
    /// The body a destination receives for a row: `event_id`, `kind`, and
    /// for a license its record under the national share-data field names
    /// (`share_record`) with the signed document; for the catalog, the type.
    pub async fn outbox_body(&self, d: &OutboxDelivery) -> Result<Value> {
        let m = &d.message.message;
        let kind = kind_of(d);
        if m.topic.starts_with("objection:") {
            let mut body = m.payload.clone();
            if let Some(b) = body.as_object_mut() {
                b.remove("code");
                b.remove("event");
                b.insert("event_id".into(), json!(m.id));
                b.insert("kind".into(), json!(kind));
                b.insert("occurred_at".into(), json!(d.message.created_at));
            }
            return Ok(body);
        }
        if m.topic == crate::catalog::PLATFORM_CATALOG_TOPIC {
            return Ok(json!({
                "event_id": m.id,
                "kind": kind,
                "occurred_at": d.message.created_at,
                "type_code": m.payload["code"],
                "type_version": m.payload["version"],
                "license_type": m.payload["license_type"],
            }));
        }
        let id = m.payload["license_id"]
            .as_str()
            .ok_or_else(|| Error::Internal(format!("outbox message {} names no license", m.id)))?;
        let (l, asked) = self.find_license(id).await?;
        let v = l
            .versions
            .iter()
            .find(|v| v.license_id == asked)
            .ok_or_else(|| Error::NotFound(format!("license {asked}")))?;
        let certificate = self
            .store
            .signing_key(v.key_id)
            .await?
            .map(|k| k.certificate_pem)
            .unwrap_or_default();
        let record = self.share_record(&l, v).await?;
        use base64::Engine;
        Ok(json!({
            "event_id": m.id,
            "kind": kind,
            "occurred_at": d.message.created_at,
            "license_id": v.license_id,
            "version": v.version,
            "record": record,
            "document": {
                "payload": v.payload,
                "signature": base64::engine::general_purpose::STANDARD.encode(&v.signature),
                "certificate": certificate,
            },
        }))
    }

    /// Sign a body with the region's key for sending.
    async fn sign_message(&self, event_id: String, body: &Value) -> Result<SignedMessage> {
        use sm3::Digest;
        let body = serde_json::to_vec(body).map_err(|e| Error::Internal(e.to_string()))?;
        let (signature, certificate) = self.sign_as_region(&body).await?;
        Ok(SignedMessage {
            event_id,
            body,
            signature,
            certificate_sm3: hex::encode(sm3::Sm3::digest(certificate.as_bytes())),
        })
    }

    /// Rows of the relay, newest first (the region's administrators).
    pub async fn outbox_entries(
        &self,
        caller: &Principal,
        filter: &OutboxFilter,
    ) -> Result<Vec<OutboxEntry>> {
        crate::policy::require(caller, crate::policy::Action::OperateOutbox)?;
        self.list_outbox(filter).await
    }

    /// [`Self::outbox_entries`] for the command line's operator.
    pub async fn list_outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxEntry>> {
        let mut filter = filter.clone();
        filter.limit = filter.limit.clamp(1, 500);
        Ok(self
            .store
            .outbox_deliveries(&filter)
            .await?
            .iter()
            .map(OutboxEntry::from)
            .collect())
    }

    /// One row, without its body: the body carries the holder's data in
    /// full (for the platform), which staff other than the issuing clerks
    /// see masked; the operator at the command line sees it (`show_outbox`).
    pub async fn outbox_entry(&self, caller: &Principal, id: i64) -> Result<OutboxEntry> {
        crate::policy::require(caller, crate::policy::Action::OperateOutbox)?;
        let d = self
            .store
            .outbox_delivery(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("outbox entry {id}")))?;
        Ok(OutboxEntry::from(&d))
    }

    /// [`Self::outbox_entry`] for the command line's operator.
    pub async fn show_outbox(&self, id: i64) -> Result<(OutboxEntry, Value)> {
        let d = self
            .store
            .outbox_delivery(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("outbox entry {id}")))?;
        let body = self.outbox_body(&d).await?;
        Ok((OutboxEntry::from(&d), body))
    }

    /// Send a rejected or parked row again (after the cause was fixed).
    pub async fn replay_outbox(&self, caller: &Principal, id: i64) -> Result<OutboxEntry> {
        crate::policy::require(caller, crate::policy::Action::OperateOutbox)?;
        self.replay_outbox_as(&Actor::from(caller), id).await
    }

    /// [`Self::replay_outbox`] for the command line's operator.
    pub async fn replay_outbox_as(&self, actor: &Actor, id: i64) -> Result<OutboxEntry> {
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "outbox.replay",
            format!("outbox:{id}"),
            json!({}),
        ));
        let d = self.store.replay_outbox(id, self.now(), &log).await?;
        Ok(OutboxEntry::from(&d))
    }

    /// Each destination's backlog (for the metrics and the operator).
    pub async fn outbox_summary(&self) -> Result<Vec<OutboxSummary>> {
        Ok(self.store.outbox_summary().await?)
    }
}

/// The relay's worker: every destination, round after round.
pub struct OutboxRelay {
    pub library: Library,
    pub destinations: Vec<Destination>,
    pub transport: Arc<dyn Transport>,
    pub retry_base: Duration,
    /// Failed attempts before a message is parked ([`MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// How long a claim lasts ([`LEASE`]); longer than any one send.
    pub lease: Duration,
}

impl OutboxRelay {
    /// Make the destinations known to the store (each receives every
    /// message from the first on).
    pub async fn register(&self) -> Result<()> {
        for d in &self.destinations {
            self.library.store.register_destination(&d.name).await?;
        }
        Ok(())
    }

    /// One round over every destination; how many rows were attempted.
    pub async fn run_once(&self) -> usize {
        let mut attempted = 0;
        for d in &self.destinations {
            match self.round(d).await {
                Ok(n) => attempted += n,
                Err(e) => tracing::warn!(destination = %d.name, error = %e, "outbox round failed"),
            }
        }
        attempted
    }

    async fn round(&self, dest: &Destination) -> Result<usize> {
        let store = &self.library.store;
        let now = self.library.now();
        store
            .fan_out(
                &dest.name,
                &dest.topics.iter().map(String::as_str).collect::<Vec<_>>(),
                now,
                FAN_OUT_BATCH,
            )
            .await?;

        let lease = jiff::SignedDuration::try_from(self.lease)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let lease_until = now
            .checked_add(lease)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let claimed = store
            .claim_outbox(&dest.name, now, lease_until, CLAIM_BATCH)
            .await?;
        let n = claimed.len();
        // Claimed rows are of different licenses: they may go at once.
        let sends = claimed.iter().map(|d| self.deliver(dest, d));
        futures_util::future::join_all(sends).await;
        Ok(n)
    }

    async fn deliver(&self, dest: &Destination, d: &OutboxDelivery) {
        let sent = match self.prepare(d).await {
            Ok(message) => self.transport.send(&dest.url, &message).await,
            Err(e) => Err(SendError::Failed(format!("cannot build the message: {e}"))),
        };
        let lib = &self.library;
        let outcome = match sent {
            Ok(()) => OutboxOutcome::Delivered { at: lib.now() },
            Err(SendError::Rejected(error)) => OutboxOutcome::Rejected { error },
            Err(SendError::Failed(error)) if d.attempts >= self.max_attempts => {
                OutboxOutcome::Parked { error }
            }
            Err(SendError::Failed(error)) => {
                let wait = jiff::SignedDuration::try_from(backoff(
                    self.retry_base,
                    d.attempts.saturating_sub(1),
                    jitter(),
                ))
                .unwrap_or(jiff::SignedDuration::ZERO);
                OutboxOutcome::Retry {
                    error,
                    next_attempt_at: lib.now().checked_add(wait).unwrap_or_else(|_| lib.now()),
                }
            }
        };
        let log = self.outcome_event(d, &outcome);
        if let Err(e) = lib
            .store
            .record_outbox_attempt(d.id, &outcome, log.as_ref())
            .await
        {
            // Another worker took the row over after its lease ran out.
            tracing::warn!(error = %e, row = d.id, "cannot record an outbox attempt");
        }
    }

    async fn prepare(&self, d: &OutboxDelivery) -> Result<SignedMessage> {
        let body = self.library.outbox_body(d).await?;
        self.library
            .sign_message(d.message.message.id.to_string(), &body)
            .await
    }

    /// Delivered, rejected and parked rows are audited (a channel's
    /// delivery is the license's delivery, Art. 8); retries are not.
    fn outcome_event(&self, d: &OutboxDelivery, outcome: &OutboxOutcome) -> Option<ChangeLog> {
        let (outcome_text, reason) = match outcome {
            OutboxOutcome::Delivered { .. } => ("success", None),
            OutboxOutcome::Rejected { error } => ("rejected", Some(error.clone())),
            OutboxOutcome::Parked { error } => ("failed", Some(error.clone())),
            OutboxOutcome::Retry { .. } => return None,
        };
        let target = match d.message.message.payload["license_id"].as_str() {
            Some(id) => format!("license:{id}"),
            None => format!("outbox:{}", d.id),
        };
        let mut e = self.library.audit_event(
            &Actor::system(),
            "outbox.deliver",
            target,
            json!({"destination": d.destination, "event_id": d.message.message.id,
                   "kind": kind_of(d), "attempts": d.attempts}),
        );
        e.outcome = outcome_text.into();
        e.reason = reason;
        Some(ChangeLog::audit_only(e))
    }

    /// Run until `stop` turns true, polling every `every` when idle.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        if let Err(e) = self.register().await {
            tracing::error!(error = %e, "cannot register the outbox destinations");
        }
        loop {
            let worked = self.run_once().await;
            if worked > 0 && !*stop.borrow() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {},
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// The states the API and the command line accept.
pub fn parse_state(s: &str) -> Result<OutboxState> {
    OutboxState::parse(s).ok_or_else(|| {
        Error::field(
            "state",
            "state",
            "state must be pending, in_flight, delivered, rejected or parked",
            "state应为pending、in_flight、delivered、rejected或parked",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_spreads() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 0, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(base, 1, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(base, 5, 0.0), Duration::from_secs(160));
        assert_eq!(backoff(base, 11, 0.0), Duration::from_secs(3600));
        assert_eq!(backoff(base, u32::MAX, 0.0), Duration::from_secs(3600));
        // Jitter takes off up to half, never more, never adds.
        assert_eq!(backoff(base, 1, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(base, 1, 7.0), Duration::from_secs(5));
        assert!(backoff(base, 1, 0.5) < Duration::from_secs(10));
    }
}
