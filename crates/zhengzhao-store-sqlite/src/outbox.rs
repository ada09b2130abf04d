//! The outbox relay's rows (`outbox_destinations`, `outbox_deliveries`).
//! SQLite has one writer, so a claim needs no row locks: the claiming
//! UPDATE runs alone.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
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

fn millis(ms: i64) -> StoreResult<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(ms).map_err(|e| corrupt("time", &format!("{ms}: {e}")))
}

struct Raw {
    id: i64,
    destination: String,
    seq: i64,
    message_id: String,
    topic: String,
    payload: String,
    created_at: String,
    stream: String,
    license_key: Option<i64>,
    state: String,
    attempts: u32,
    next_attempt_ms: i64,
    last_error: Option<String>,
    delivered_at: Option<String>,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        id: r.get(0)?,
        destination: r.get(1)?,
        seq: r.get(2)?,
        message_id: r.get(3)?,
        topic: r.get(4)?,
        payload: r.get(5)?,
        created_at: r.get(6)?,
        stream: r.get(7)?,
        license_key: r.get(8)?,
        state: r.get(9)?,
        attempts: r.get(10)?,
        next_attempt_ms: r.get(11)?,
        last_error: r.get(12)?,
        delivered_at: r.get(13)?,
    })
}

fn delivery(r: Raw) -> StoreResult<OutboxDelivery> {
    Ok(OutboxDelivery {
        id: r.id,
        destination: r.destination,
        message: OutboxRecord {
            seq: r.seq,
            message: OutboxMessage {
                id: uuid_of(&r.message_id)?,
                topic: r.topic,
                payload: serde_json::from_str(&r.payload)
                    .map_err(|e| corrupt("outbox payload", &e.to_string()))?,
            },
            created_at: ts(&r.created_at)?,
        },
        stream: r.stream,
        license_key: r.license_key,
        state: OutboxState::parse(&r.state).ok_or_else(|| corrupt("outbox state", &r.state))?,
        attempts: r.attempts,
        next_attempt_at: millis(r.next_attempt_ms)?,
        last_error: r.last_error,
        delivered_at: r.delivered_at.map(|s| ts(&s)).transpose()?,
    })
}

fn rows(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<OutboxDelivery>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let raws: Vec<Raw> = stmt
        .query_map(p, raw)
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    raws.into_iter().map(delivery).collect()
}

pub(crate) fn register(c: &Connection, name: &str, now: jiff::Timestamp) -> StoreResult<()> {
    c.execute(
        "INSERT INTO outbox_destinations (name, cursor, created_at) VALUES (?1, 0, ?2)
         ON CONFLICT (name) DO NOTHING",
        params![name, now.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn fan_out(
    c: &Connection,
    name: &str,
    topics: &str,
    now: jiff::Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let cursor: i64 = c
        .query_row(
            "SELECT cursor FROM outbox_destinations WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("outbox destination {name}")))?;
    let upto: Option<i64> = c
        .query_row(
            "SELECT max(seq) FROM (SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
            params![cursor, limit],
            |r| r.get(0),
        )
        .map_err(backend)?;
    let Some(upto) = upto else { return Ok(0) };
    // A license message's stream is its license (found by the version's
    // identifier); any other message's its topic and catalog code.
    let made = c
        .prepare_cached(
            "INSERT INTO outbox_deliveries (message_seq, destination, stream, license_key, state, attempts, next_attempt_ms)
             SELECT o.seq, ?1,
                    CASE WHEN v.license_id IS NOT NULL THEN 'license:' || v.license_id
                         ELSE o.topic || ':' || COALESCE(json_extract(o.payload, '$.code'), o.id) END,
                    v.license_id, 'pending', 0, ?2
             FROM outbox o
             LEFT JOIN license_versions v ON v.identifier = json_extract(o.payload, '$.license_id')
             WHERE o.seq > ?3 AND o.seq <= ?4 AND o.topic IN (SELECT value FROM json_each(?5))
             ORDER BY o.seq
             ON CONFLICT (destination, message_seq) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![name, now.as_millisecond(), cursor, upto, topics]))
        .map_err(backend)?;
    c.execute(
        "UPDATE outbox_destinations SET cursor = ?2 WHERE name = ?1 AND cursor < ?2",
        params![name, upto],
    )
    .map_err(backend)?;
    Ok(made as u64)
}

pub(crate) fn claim(
    c: &Connection,
    name: &str,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
    limit: u32,
) -> StoreResult<Vec<OutboxDelivery>> {
    let now = now.as_millisecond();
    let ids: Vec<i64> = c
        .prepare_cached(
            "UPDATE outbox_deliveries SET state = 'in_flight', attempts = attempts + 1, lease_until_ms = ?3
             WHERE id IN (
                 SELECT d.id FROM outbox_deliveries d
                 WHERE d.destination = ?1 AND d.state IN ('pending', 'in_flight')
                   AND d.next_attempt_ms <= ?2
                   AND (d.state = 'pending' OR d.lease_until_ms <= ?2)
                   AND NOT EXISTS (
                       SELECT 1 FROM outbox_deliveries e
                       WHERE e.destination = d.destination AND e.stream = d.stream
                         AND e.message_seq < d.message_seq AND e.state <> 'delivered')
                 ORDER BY d.message_seq LIMIT ?4)
             RETURNING id",
        )
        .and_then(|mut s| {
            s.query_map(params![name, now, lease_until.as_millisecond(), limit], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()
        })
        .map_err(backend)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.to_string()))?;
    rows(
        c,
        &format!("{SELECT} WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.message_seq"),
        [ids],
    )
}

pub(crate) fn record(c: &Connection, id: i64, outcome: &OutboxOutcome) -> StoreResult<()> {
    let n = match outcome {
        OutboxOutcome::Delivered { at } => c.execute(
            "UPDATE outbox_deliveries SET state = 'delivered', delivered_at = ?2, last_error = NULL,
                 lease_until_ms = NULL WHERE id = ?1 AND state = 'in_flight'",
            params![id, at.to_string()],
        ),
        OutboxOutcome::Retry {
            error,
            next_attempt_at,
        } => c.execute(
            "UPDATE outbox_deliveries SET state = 'pending', last_error = ?2, next_attempt_ms = ?3,
                 lease_until_ms = NULL WHERE id = ?1 AND state = 'in_flight'",
            params![id, error, next_attempt_at.as_millisecond()],
        ),
        OutboxOutcome::Rejected { error } | OutboxOutcome::Parked { error } => {
            let state = if matches!(outcome, OutboxOutcome::Rejected { .. }) {
                "rejected"
            } else {
                "parked"
            };
            c.execute(
                "UPDATE outbox_deliveries SET state = ?2, last_error = ?3, lease_until_ms = NULL
                 WHERE id = ?1 AND state = 'in_flight'",
                params![id, state, error],
            )
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

pub(crate) fn list(c: &Connection, f: &OutboxFilter) -> StoreResult<Vec<OutboxDelivery>> {
    rows(
        c,
        &format!(
            "{SELECT} WHERE (?1 IS NULL OR d.destination = ?1) AND (?2 IS NULL OR d.state = ?2)
               AND (?3 IS NULL OR d.id < ?3)
             ORDER BY d.id DESC LIMIT ?4"
        ),
        params![
            f.destination,
            f.state.map(OutboxState::as_str),
            f.before_id,
            f.limit
        ],
    )
}

pub(crate) fn one(c: &Connection, id: i64) -> StoreResult<Option<OutboxDelivery>> {
    Ok(rows(c, &format!("{SELECT} WHERE d.id = ?1"), [id])?
        .into_iter()
        .next())
}

pub(crate) fn replay(c: &Connection, id: i64, now: jiff::Timestamp) -> StoreResult<OutboxDelivery> {
    let n = c
        .execute(
            "UPDATE outbox_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?2,
                 last_error = NULL, lease_until_ms = NULL
             WHERE id = ?1 AND state IN ('rejected', 'parked')",
            params![id, now.as_millisecond()],
        )
        .map_err(backend)?;
    let row = one(c, id)?.ok_or_else(|| StoreError::NotFound(format!("outbox delivery {id}")))?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "outbox delivery {id} is {}, not rejected or parked",
            row.state.as_str()
        )));
    }
    Ok(row)
}

pub(crate) fn summary(c: &Connection) -> StoreResult<Vec<OutboxSummary>> {
    let mut out: Vec<OutboxSummary> = c
        .prepare_cached("SELECT name FROM outbox_destinations ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(OutboxSummary {
                    destination: r.get(0)?,
                    ..OutboxSummary::default()
                })
            })?
            .collect::<rusqlite::Result<_>>()
        })
        .map_err(backend)?;
    for s in &mut out {
        let counts: Vec<(String, u64)> = c
            .prepare_cached(
                "SELECT state, count(*) FROM outbox_deliveries
                 WHERE destination = ?1 AND state IN ('pending', 'in_flight', 'rejected', 'parked')
                 GROUP BY state",
            )
            .and_then(|mut st| {
                st.query_map([&s.destination], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(backend)?;
        for (state, n) in counts {
            match state.as_str() {
                "pending" => s.pending = n,
                "in_flight" => s.in_flight = n,
                "rejected" => s.rejected = n,
                _ => s.parked = n,
            }
        }
        let oldest: Option<String> = c
            .prepare_cached(
                "SELECT o.created_at FROM outbox_deliveries d JOIN outbox o ON o.seq = d.message_seq
                 WHERE d.destination = ?1 AND d.state IN ('pending', 'in_flight', 'rejected', 'parked')
                 ORDER BY d.message_seq LIMIT 1",
            )
            .and_then(|mut st| st.query_row([&s.destination], |r| r.get(0)).optional())
            .map_err(backend)?;
        s.oldest_undelivered_at = oldest.map(|t| ts(&t)).transpose()?;
    }
    Ok(out)
}

/// The channel deliveries (Art. 8) of the licenses with these keys, as
/// the license views show them.
pub(crate) fn channel_deliveries(c: &Connection, keys: &str) -> StoreResult<Vec<DeliveryRecord>> {
    let all = rows(
        c,
        &format!(
            "{SELECT} WHERE d.license_key IN (SELECT value FROM json_each(?1))
               AND d.destination LIKE 'channel:%'
             ORDER BY d.license_key, d.message_seq, d.destination"
        ),
        [keys],
    )?;
    all.into_iter()
        .map(zhengzhao_store::channel_delivery)
        .collect()
}
