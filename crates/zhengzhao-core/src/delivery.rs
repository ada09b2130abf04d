//! Delivery (送达, Art. 8): a background worker posts each new license
//! version to every configured channel's webhook, retrying with backoff; the
//! first success is the version's delivery time.

use super::{Actor, Library};
use base64::Engine;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use zhengzhao_store::{ChangeLog, DeliveryOutcome, DeliveryRecord};

/// A configured delivery channel: a name and the webhook its messages go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryChannel {
    pub name: String,
    pub url: String,
}

/// How a message leaves the library. The core decides what to send, when,
/// and what an outcome means; a transport only carries it (the HTTP crate's
/// webhook client in a server, a recording fake in tests).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Send `body` to `channel`. `Ok` means the receiver accepted it; the
    /// error text is kept on the delivery record for the operator.
    /// `idempotency_key` is the same on every retry of one delivery.
    async fn send(
        &self,
        channel: &DeliveryChannel,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<(), String>;
}

/// After this many failed attempts a delivery is marked failed.
pub const MAX_ATTEMPTS: u32 = 12;

/// Wait before attempt `n + 1`: base, 2×base, 4×base … capped at one hour.
pub fn backoff(base: Duration, attempts_so_far: u32) -> Duration {
    base.saturating_mul(1u32 << attempts_so_far.min(10))
        .min(Duration::from_secs(3600))
}

pub struct DeliveryWorker {
    pub library: Library,
    pub channels: Vec<DeliveryChannel>,
    pub transport: Arc<dyn Transport>,
    pub retry_base: Duration,
}

impl DeliveryWorker {
    pub fn new(
        library: Library,
        channels: Vec<DeliveryChannel>,
        retry_base: Duration,
        transport: Arc<dyn Transport>,
    ) -> Self {
        Self {
            library,
            channels,
            transport,
            retry_base,
        }
    }

    /// Deliver what is due; returns how many deliveries were attempted.
    pub async fn run_once(&self) -> usize {
        let due = match self
            .library
            .store
            .due_deliveries(self.library.now(), 50)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read due deliveries");
                return 0;
            }
        };
        for d in &due {
            self.deliver(d).await;
        }
        due.len()
    }

    async fn deliver(&self, d: &DeliveryRecord) {
        let outcome = match self.attempt(d).await {
            Ok(()) => DeliveryOutcome::Delivered {
                at: self.library.now(),
            },
            Err(error) if d.attempts + 1 >= MAX_ATTEMPTS => DeliveryOutcome::GiveUp { error },
            Err(error) => DeliveryOutcome::Retry {
                next_attempt_at: self
                    .library
                    .now()
                    .checked_add(
                        jiff::SignedDuration::try_from(backoff(self.retry_base, d.attempts))
                            .unwrap_or(jiff::SignedDuration::ZERO),
                    )
                    .unwrap_or_else(|_| self.library.now()),
                error,
            },
        };
        let log = match &outcome {
            DeliveryOutcome::Delivered { at } => {
                let mut e = self.library.audit_event(
                    &Actor::system(),
                    "license.deliver",
                    format!("license:{}", d.license_id),
                    json!({"channel": d.channel, "attempts": d.attempts + 1}),
                );
                e.at = *at;
                Some(ChangeLog::audit_only(e))
            }
            DeliveryOutcome::GiveUp { error } => {
                let mut e = self.library.audit_event(
                    &Actor::system(),
                    "license.deliver",
                    format!("license:{}", d.license_id),
                    json!({"channel": d.channel, "attempts": d.attempts + 1}),
                );
                e.outcome = "failed".into();
                e.reason = Some(error.clone());
                Some(ChangeLog::audit_only(e))
            }
            DeliveryOutcome::Retry { .. } => None,
        };
        if let Err(e) = self
            .library
            .store
            .record_delivery(d.id, &outcome, log.as_ref())
            .await
        {
            tracing::warn!(error = %e, delivery = d.id, "cannot record delivery outcome");
        }
    }

    async fn attempt(&self, d: &DeliveryRecord) -> Result<(), String> {
        let channel = self
            .channels
            .iter()
            .find(|c| c.name == d.channel)
            .ok_or_else(|| format!("channel '{}' is not configured", d.channel))?;
        let (l, _) = self
            .library
            .find_license(d.license_id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let v = l
            .versions
            .iter()
            .find(|v| v.license_id == d.license_id)
            .ok_or_else(|| "version not found".to_owned())?;
        let cert = self
            .library
            .store
            .signing_key(v.key_id)
            .await
            .map_err(|e| e.to_string())?
            .map(|k| k.certificate_pem)
            .unwrap_or_default();
        let body = json!({
            "license_id": v.license_id,
            "version": v.version,
            "holder": {"name": v.holder.name, "id_type": v.holder.id_type, "id": v.holder.id},
            "document": {
                "payload": v.payload,
                "signature": base64::engine::general_purpose::STANDARD.encode(&v.signature),
                "certificate": cert,
            },
        });
        self.transport
            .send(channel, &format!("{}:{}", d.license_id, d.channel), &body)
            .await
    }

    /// Run until `stop` resolves, polling every `every`.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let worked = self.run_once().await;
            if worked > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 0), Duration::from_secs(5));
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 5), Duration::from_secs(160));
        assert_eq!(backoff(base, 11), Duration::from_secs(3600));
        assert_eq!(backoff(base, u32::MAX), Duration::from_secs(3600));
    }
}
