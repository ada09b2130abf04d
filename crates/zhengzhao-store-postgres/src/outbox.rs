//! The outbox relay's rows (`outbox_destinations`, `outbox_deliveries`).
//! Several `serve` processes may share one database: a claim locks its
//! rows and skips rows another claim holds (`FOR UPDATE SKIP LOCKED`), and
//! a fan-out holds its destination's row for its transaction.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_store::{
    DeliveryRecord, OutboxDelivery, OutboxFilter, OutboxMessage, OutboxOutcome, OutboxRecord,
    OutboxState, OutboxSummary, StoreError, StoreResult,
};

const SELECT: &str = "SELECT d.id, d.destination, o.seq, o.id, o.topic, o.payload, o.created_at,
        d.stream, d.license_key, d.state, d.attempts, d.next_attempt_ms, d.last_error, d.delivered_at
    FROM outbox_deliveries d JOIN outbox o ON o.seq = d.message_seq";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{v}'"))
}

fn delivery(r: &Row) -> StoreResult<OutboxDelivery> {
    let what = "outbox delivery";
    let state: String = r.col(9, what)?;
    let attempts: i32 = r.col(10, what)?;
    let next: i64 = r.col(11, what)?;
    Ok(OutboxDelivery {
        id: r.col(0, what)?,
        destination: r.col(1, what)?,
        message: OutboxRecord {
            seq: r.col(2, what)?,
            message: OutboxMessage {
                id: r.col(3, what)?,
                topic: r.col(4, what)?,
                payload: r.col(5, what)?,
            },
            created_at: r.col(6, what)?,
        },
        stream: r.col(7, what)?,
        license_key: r.col(8, what)?,
        state: OutboxState::parse(&state).ok_or_else(|| corrupt("outbox state", &state))?,
        attempts: u32::try_from(attempts).unwrap_or_default(),
        next_attempt_at: jiff::Timestamp::from_millisecond(next)
            .map_err(|e| corrupt("outbox time", &e.to_string()))?,
        last_error: r.col(12, what)?,
        delivered_at: r.col(13, what)?,
    })
}

async fn rows<C: Db + ?Sized>(
    c: &C,
    sql: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<OutboxDelivery>> {
    c.query(sql, p)
        .await
        .map_err(backend)?
        .iter()
        .map(delivery)
        .collect()
}

pub(crate) async fn register<C: Db + ?Sized>(c: &C, name: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO outbox_destinations (name, cursor, created_at) VALUES ($1, 0, now())
         ON CONFLICT (name) DO NOTHING",
        &[&name],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

/// In a transaction: the destination's row is held until it commits.
pub(crate) async fn fan_out<C: Db + ?Sized>(
    c: &C,
    name: &str,
    topics: &[String],
    now: jiff::Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let cursor: i64 = c
        .query_opt(
            "SELECT cursor FROM outbox_destinations WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("outbox destination {name}")))?
        .col(0, "outbox destination")?;
    let upto: Option<i64> = c
        .query_one(
            "SELECT max(seq) FROM (SELECT seq FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2) w",
            &[&cursor, &i64::from(limit)],
        )
        .await
        .map_err(backend)?
        .col(0, "outbox")?;
    let Some(upto) = upto else { return Ok(0) };
    let made = c
        .execute(
            "INSERT INTO outbox_deliveries (message_seq, destination, stream, license_key, state, attempts, next_attempt_ms)
             SELECT o.seq, $1,
                    CASE WHEN v.license_id IS NOT NULL THEN 'license:' || v.license_id
                         ELSE o.topic || ':' || COALESCE(o.payload->>'code', o.id::text) END,
                    v.license_id, 'pending', 0, $2
             FROM outbox o
             LEFT JOIN license_versions v ON v.identifier = o.payload->>'license_id'
             WHERE o.seq > $3 AND o.seq <= $4 AND o.topic = ANY($5)
             ORDER BY o.seq
             ON CONFLICT (destination, message_seq) DO NOTHING",
            &[&name, &now.as_millisecond(), &cursor, &upto, &topics],
        )
        .await
        .map_err(backend)?;
    c.execute(
        "UPDATE outbox_destinations SET cursor = $2 WHERE name = $1 AND cursor < $2",
        &[&name, &upto],
    )
    .await
    .map_err(backend)?;
    Ok(made)
}

pub(crate) async fn claim<C: Db + ?Sized>(
    c: &C,
    name: &str,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
    limit: u32,
) -> StoreResult<Vec<OutboxDelivery>> {
    let now = now.as_millisecond();
    let ids: Vec<i64> = c
        .query(
            "WITH due AS (
                 SELECT d.id FROM outbox_deliveries d
                 WHERE d.destination = $1 AND d.state IN ('pending', 'in_flight')
                   AND d.next_attempt_ms <= $2
                   AND (d.state = 'pending' OR d.lease_until_ms <= $2)
                   AND NOT EXISTS (
                       SELECT 1 FROM outbox_deliveries e
                       WHERE e.destination = d.destination AND e.stream = d.stream
                         AND e.message_seq < d.message_seq AND e.state <> 'delivered')
                 ORDER BY d.message_seq LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE outbox_deliveries x SET state = 'in_flight', attempts = x.attempts + 1,
                 lease_until_ms = $3
             FROM due WHERE x.id = due.id
             RETURNING x.id",
            &[
                &name,
                &now,
                &lease_until.as_millisecond(),
                &i64::from(limit),
            ],
        )
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.col(0, "outbox delivery"))
        .collect::<StoreResult<_>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    rows(
        c,
        &format!("{SELECT} WHERE d.id = ANY($1) ORDER BY d.message_seq"),
        &[&ids],
    )
    .await
}

pub(crate) async fn record<C: Db + ?Sized>(
    c: &C,
    id: i64,
    outcome: &OutboxOutcome,
) -> StoreResult<()> {
    let n = match outcome {
        OutboxOutcome::Delivered { at } => {
            c.execute(
                "UPDATE outbox_deliveries SET state = 'delivered', delivered_at = $2, last_error = NULL,
                     lease_until_ms = NULL WHERE id = $1 AND state = 'in_flight'",
                &[&id, at],
            )
            .await
        }
        OutboxOutcome::Retry {
            error,
            next_attempt_at,
        } => {
            c.execute(
                "UPDATE outbox_deliveries SET state = 'pending', last_error = $2, next_attempt_ms = $3,
                     lease_until_ms = NULL WHERE id = $1 AND state = 'in_flight'",
                &[&id, error, &next_attempt_at.as_millisecond()],
            )
            .await
        }
        OutboxOutcome::Rejected { error } | OutboxOutcome::Parked { error } => {
            let state = if matches!(outcome, OutboxOutcome::Rejected { .. }) {
                "rejected"
            } else {
                "parked"
            };
            c.execute(
                "UPDATE outbox_deliveries SET state = $2, last_error = $3, lease_until_ms = NULL
                 WHERE id = $1 AND state = 'in_flight'",
                &[&id, &state, error],
            )
            .await
        }
    }
    .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "outbox delivery {id} is not in flight"
        )));
    }
    Ok(())
}

pub(crate) async fn list<C: Db + ?Sized>(
    c: &C,
    f: &OutboxFilter,
) -> StoreResult<Vec<OutboxDelivery>> {
    rows(
        c,
        &format!(
            "{SELECT} WHERE ($1::text IS NULL OR d.destination = $1) AND ($2::text IS NULL OR d.state = $2)
               AND ($3::bigint IS NULL OR d.id < $3)
             ORDER BY d.id DESC LIMIT $4"
        ),
        &[
            &f.destination,
            &f.state.map(OutboxState::as_str),
            &f.before_id,
            &i64::from(f.limit),
        ],
    )
    .await
}

pub(crate) async fn one<C: Db + ?Sized>(c: &C, id: i64) -> StoreResult<Option<OutboxDelivery>> {
    Ok(rows(c, &format!("{SELECT} WHERE d.id = $1"), &[&id])
        .await?
        .into_iter()
        .next())
}

pub(crate) async fn replay<C: Db + ?Sized>(
    c: &C,
    id: i64,
    now: jiff::Timestamp,
) -> StoreResult<OutboxDelivery> {
    let n = c
        .execute(
            "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $2,
                 last_error = NULL, lease_until_ms = NULL
             WHERE id = $1 AND state IN ('rejected', 'parked')",
            &[&id, &now.as_millisecond()],
        )
        .await
        .map_err(backend)?;
    let row = one(c, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("outbox delivery {id}")))?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "outbox delivery {id} is {}, not rejected or parked",
            row.state.as_str()
        )));
    }
    Ok(row)
}

pub(crate) async fn summary<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<OutboxSummary>> {
    let names: Vec<String> = c
        .query("SELECT name FROM outbox_destinations ORDER BY name", &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.col(0, "outbox destination"))
        .collect::<StoreResult<_>>()?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut s = OutboxSummary {
            destination: name,
            ..OutboxSummary::default()
        };
        for r in c
            .query(
                "SELECT state, count(*) FROM outbox_deliveries
                 WHERE destination = $1 AND state IN ('pending', 'in_flight', 'rejected', 'parked')
                 GROUP BY state",
                &[&s.destination],
            )
            .await
            .map_err(backend)?
        {
            let state: String = r.col(0, "outbox summary")?;
            let n: i64 = r.col(1, "outbox summary")?;
            let n = u64::try_from(n).unwrap_or_default();
            match state.as_str() {
                "pending" => s.pending = n,
                "in_flight" => s.in_flight = n,
                "rejected" => s.rejected = n,
                _ => s.parked = n,
            }
        }
        s.oldest_undelivered_at = c
            .query_opt(
                "SELECT o.created_at FROM outbox_deliveries d JOIN outbox o ON o.seq = d.message_seq
                 WHERE d.destination = $1 AND d.state IN ('pending', 'in_flight', 'rejected', 'parked')
                 ORDER BY d.message_seq LIMIT 1",
                &[&s.destination],
            )
            .await
            .map_err(backend)?
            .map(|r| r.col(0, "outbox summary"))
            .transpose()?;
        out.push(s);
    }
    Ok(out)
}

/// The channel deliveries (Art. 8) of the licenses with these keys.
pub(crate) async fn channel_deliveries<C: Db + ?Sized>(
    c: &C,
    keys: &[i64],
) -> StoreResult<Vec<DeliveryRecord>> {
    let all = rows(
        c,
        &format!(
            "{SELECT} WHERE d.license_key = ANY($1) AND d.destination LIKE 'channel:%'
             ORDER BY d.license_key, d.message_seq, d.destination"
        ),
        &[&keys],
    )
    .await?;
    all.into_iter()
        .map(zhengzhao_store::channel_delivery)
        .collect()
}
