//! The delivery transport of a running server: each message is POSTed as
//! JSON to the channel's webhook (`zhengzhao_core::delivery::Transport`).

use std::time::Duration;
use zhengzhao_core::delivery::{DeliveryChannel, Transport};

pub struct WebhookTransport {
    client: reqwest::Client,
}

impl WebhookTransport {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait::async_trait]
impl Transport for WebhookTransport {
    async fn send(
        &self,
        channel: &DeliveryChannel,
        idempotency_key: &str,
        body: &serde_json::Value,
    ) -> Result<(), String> {
        let resp = self
            .client
            .post(&channel.url)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status().as_u16()))
        }
    }
}
