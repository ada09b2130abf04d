//! The outbox relay's transport in a running server: each message is
//! POSTed as JSON to its destination (`zhengzhao_core::outbox::Transport`),
//! with its event id and SM2 signature in headers. Redirects are not
//! followed: a destination is the configured URL and nothing else.
//!
//! Headers: `Idempotency-Key` and `X-ZZ-Event-Id` (the same event id on
//! every retry), `X-ZZ-Signature` (base64 DER SM2-with-SM3 over the exact
//! body bytes, by the region's key) with `X-ZZ-Signature-Alg: SM2-SM3`, and
//! `X-ZZ-Certificate-SM3` (which certificate of `/api/v1/certificates`).

use std::time::Duration;
use zhengzhao_core::outbox::{SendError, SignedMessage, Transport};

pub struct WebhookTransport {
    client: reqwest::Client,
}

impl WebhookTransport {
    /// A receiver gets 10 s to answer (5 s to accept the connection).
    pub fn new() -> Result<Self, reqwest::Error> {
        Self::with_timeout(Duration::from_secs(10))
    }

    /// With another limit on the whole exchange (tests of slow receivers).
    pub fn with_timeout(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }
}

/// What a receiver's status means: 2xx delivered; 408, 429 and 5xx worth
/// another try; any other 4xx (or a redirect) says the content is wrong.
pub fn classify(status: reqwest::StatusCode) -> Result<(), SendError> {
    let text = format!("HTTP {}", status.as_u16());
    if status.is_success() {
        Ok(())
    } else if status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
    {
        Err(SendError::Failed(text))
    } else {
        Err(SendError::Rejected(text))
    }
}

#[async_trait::async_trait]
impl Transport for WebhookTransport {
    async fn send(&self, url: &str, m: &SignedMessage) -> Result<(), SendError> {
        let resp = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &m.event_id)
            .header("X-ZZ-Event-Id", &m.event_id)
            .header("X-ZZ-Signature-Alg", "SM2-SM3")
            .header("X-ZZ-Signature", &m.signature)
            .header("X-ZZ-Certificate-SM3", &m.certificate_sm3)
            .body(m.body.clone())
            .send()
            .await
            .map_err(|e| SendError::Failed(format!("request failed: {e}")))?;
        classify(resp.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use reqwest::StatusCode as S;
        assert_eq!(classify(S::OK), Ok(()));
        assert_eq!(classify(S::ACCEPTED), Ok(()));
        for retry in [
            S::INTERNAL_SERVER_ERROR,
            S::BAD_GATEWAY,
            S::REQUEST_TIMEOUT,
            S::TOO_MANY_REQUESTS,
        ] {
            assert!(
                matches!(classify(retry), Err(SendError::Failed(_))),
                "{retry}"
            );
        }
        for wrong in [
            S::BAD_REQUEST,
            S::UNPROCESSABLE_ENTITY,
            S::CONFLICT,
            S::FOUND,
        ] {
            assert!(
                matches!(classify(wrong), Err(SendError::Rejected(_))),
                "{wrong}"
            );
        }
    }
}
