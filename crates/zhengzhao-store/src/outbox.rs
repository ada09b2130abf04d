//! The outbox relay's bookkeeping: for each destination (the regional and
//! national platforms, each delivery channel) and each outbox message, one
//! delivery row with its state, attempts and next attempt.

use crate::{DeliveryRecord, DeliveryStatus, OutboxRecord, StoreError, StoreResult};
use serde::Serialize;

/// Where a delivery row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its next attempt (or for an older message of its license).
    Pending,
    /// Claimed by a worker until its lease ends.
    InFlight,
    Delivered,
    /// The receiver said the content is wrong (a 4xx): not retried; fix and replay.
    Rejected,
    /// Out of retries: not retried until replayed.
    Parked,
}

impl OutboxState {
    pub const ALL: [OutboxState; 5] = [
        Self::Pending,
        Self::InFlight,
        Self::Delivered,
        Self::Rejected,
        Self::Parked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Delivered => "delivered",
            Self::Rejected => "rejected",
            Self::Parked => "parked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One message on its way to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDelivery {
    pub id: i64,
    pub destination: String,
    pub message: OutboxRecord,
    /// The order key: messages of one stream (one license, one catalog
    /// type) reach a destination one at a time, oldest first.
    pub stream: String,
    /// The license the message is about, by row key (`None`: catalog).
    pub license_key: Option<i64>,
    pub state: OutboxState,
    /// Attempts so far, each counted when claimed.
    pub attempts: u32,
    pub next_attempt_at: jiff::Timestamp,
    pub last_error: Option<String>,
    pub delivered_at: Option<jiff::Timestamp>,
}

/// The outcome of one claimed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    Delivered {
        at: jiff::Timestamp,
    },
    Retry {
        error: String,
        next_attempt_at: jiff::Timestamp,
    },
    Rejected {
        error: String,
    },
    Parked {
        error: String,
    },
}

/// Which delivery rows to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    pub destination: Option<String>,
    pub state: Option<OutboxState>,
    /// Rows with a smaller id only (the next page).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// One destination's rows by state, and how old its backlog is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxSummary {
    pub destination: String,
    pub pending: u64,
    pub in_flight: u64,
    pub delivered: u64,
    pub rejected: u64,
    pub parked: u64,
    /// When the oldest message not yet delivered was written.
    pub oldest_undelivered_at: Option<jiff::Timestamp>,
}

/// A channel's row as the license views show a delivery (Art. 8).
pub fn channel_delivery(d: OutboxDelivery) -> StoreResult<DeliveryRecord> {
    let id = d.message.message.payload["license_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(DeliveryRecord {
        id: d.id,
        license_id: zhengzhao_domain::license_id::LicenseId::parse(&id)
            .map_err(|_| StoreError::Corrupt(format!("outbox license_id '{id}'")))?,
        channel: d
            .destination
            .strip_prefix("channel:")
            .unwrap_or(&d.destination)
            .to_owned(),
        status: match d.state {
            OutboxState::Delivered => DeliveryStatus::Delivered,
            OutboxState::Rejected | OutboxState::Parked => DeliveryStatus::Failed,
            OutboxState::Pending | OutboxState::InFlight => DeliveryStatus::Pending,
        },
        attempts: d.attempts,
        next_attempt_at: Some(d.next_attempt_at),
        last_error: d.last_error,
        delivered_at: d.delivered_at,
        created_at: d.message.created_at,
    })
}
