//! Delivery (送达, Art. 8): a background worker posts each new license
//! version to every configured channel's webhook, retrying with backoff; the
//! first success is the version's delivery time.

use super::{Actor, Library, audit_event, now};
use crate::config::DeliveryChannel;
use base64::Engine;
use serde_json::json;
use std::time::Duration;
use zhengzhao_store::{ChangeLog, DeliveryOutcome, DeliveryRecord};

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
    pub client: reqwest::Client,
    pub retry_base: Duration,
}

impl DeliveryWorker {
    pub fn new(
        library: Library,
        channels: Vec<DeliveryChannel>,
        retry_base: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            library,
            channels,
            client,
            retry_base,
        })
    }

    /// Deliver what is due; returns how many deliveries were attempted.
    pub async fn run_once(&self) -> usize {
        let due = match self.library.store.due_deliveries(now(), 50).await {
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
            Ok(()) => DeliveryOutcome::Delivered { at: now() },
            Err(error) if d.attempts + 1 >= MAX_ATTEMPTS => DeliveryOutcome::GiveUp { error },
            Err(error) => DeliveryOutcome::Retry {
                next_attempt_at: now()
                    .checked_add(
                        jiff::SignedDuration::try_from(backoff(self.retry_base, d.attempts))
                            .unwrap_or(jiff::SignedDuration::ZERO),
                    )
                    .unwrap_or_else(|_| now()),
                error,
            },
        };
        let log = match &outcome {
            DeliveryOutcome::Delivered { at } => {
                let mut e = audit_event(
                    &Actor::system(),
                    "license.deliver",
                    format!("license:{}", d.license_id),
                    json!({"channel": d.channel, "attempts": d.attempts + 1}),
                );
                e.at = *at;
                Some(ChangeLog::audit_only(e))
            }
            DeliveryOutcome::GiveUp { error } => {
                let mut e = audit_event(
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
        let resp = self
            .client
            .post(&channel.url)
            .header("Idempotency-Key", format!("{}:{}", d.license_id, d.channel))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status().as_u16()))
        }
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
