//! The audit log and the outbox: appended in the same transaction as every change.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, params};
use zhengzhao_store::{
    AuditEvent, AuditQuery, AuditRecord, ChangeLog, OutboxMessage, OutboxRecord, StoreError,
    StoreResult,
};

/// A change log rendered to column values before it reaches the writer
/// thread: the single writer only binds and inserts, while the formatting
/// (ids, times, JSON) runs on the callers' threads in parallel.
pub(crate) struct PreparedLog {
    audit: [Option<String>; 11],
    outbox: Vec<[String; 4]>,
}

impl PreparedLog {
    pub(crate) fn new(log: &ChangeLog) -> Self {
        let e = &log.audit;
        let at = e.at.to_string();
        PreparedLog {
            audit: [
                Some(e.id.to_string()),
                Some(at.clone()),
                Some(e.actor.clone()),
                e.org.clone(),
                e.role.clone(),
                e.client_addr.clone(),
                Some(e.action.clone()),
                Some(e.target.clone()),
                Some(e.outcome.clone()),
                e.reason.clone(),
                Some(e.detail.to_string()),
            ],
            outbox: log
                .outbox
                .iter()
                .map(|m| {
                    [
                        m.id.to_string(),
                        m.topic.clone(),
                        m.payload.to_string(),
                        at.clone(),
                    ]
                })
                .collect(),
        }
    }
}

pub(crate) fn append(c: &Connection, log: &PreparedLog) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO audit_events (id, at, actor, org, role, client_addr, action, target, outcome, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| s.execute(rusqlite::params_from_iter(log.audit.iter())))
    .map_err(backend)?;
    for m in &log.outbox {
        c.prepare_cached(
            "INSERT INTO outbox (id, topic, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| s.execute(rusqlite::params_from_iter(m.iter())))
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn is_seeded(c: &Connection) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM library_meta WHERE key = 'seeded_at'")
        .and_then(|mut s| s.exists([]))
        .map_err(backend)
}

fn json(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("json: {e}")))
}

pub(crate) fn audit_after(c: &Connection, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
    audit_rows(
        c,
        "SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
         FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        params![after, limit],
    )
}

/// Audit search: every filter optional. Only the filters given become SQL
/// conditions, so each can use its index (`V11__lookup_indexes.sql`); time
/// is compared as instants (the stored text has varying fraction digits, so
/// not as strings).
pub(crate) fn audit_search(
    c: &Connection,
    q: &AuditQuery,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    let (sql, args) = audit_search_sql(q, after, limit)?;
    audit_rows(c, &sql, rusqlite::params_from_iter(args))
}

/// An event's time as text that sorts as the time does: stored times are
/// RFC 3339 in UTC (`…THH:MM:SS[.fraction]Z`, as many fraction digits as
/// needed), and this pads the fraction to nine digits. [`sortable_at`] does
/// the same to a bound, so the two agree to the nanosecond.
const SORTABLE_AT: &str = "(substr(at, 1, 19) || '.' || substr(CASE WHEN substr(at, 20, 1) = '.' \
     THEN substr(at, 21, length(at) - 21) ELSE '' END || '000000000', 1, 9))";

/// What [`SORTABLE_AT`] makes of a stored time, for a bound.
fn sortable_at(rfc3339: &str) -> String {
    let (whole, fraction) = match rfc3339.get(19..20) {
        Some(".") => (
            rfc3339.get(..19).unwrap_or(rfc3339),
            rfc3339
                .get(20..rfc3339.len().saturating_sub(1))
                .unwrap_or(""),
        ),
        _ => (rfc3339.get(..19).unwrap_or(rfc3339), ""),
    };
    let mut digits = format!("{fraction}000000000");
    digits.truncate(9);
    format!("{whole}.{digits}")
}

/// The audit search's statement and its arguments (tested for its plan).
fn audit_search_sql(
    q: &AuditQuery,
    after: i64,
    limit: u32,
) -> StoreResult<(String, Vec<rusqlite::types::Value>)> {
    use rusqlite::types::Value as Sql;
    let mut sql = String::from(
        "SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
         FROM audit_events WHERE seq > ?1",
    );
    let mut args: Vec<Sql> = vec![Sql::Integer(after), Sql::Integer(i64::from(limit))];
    let mut bind = |sql: &mut String, condition: &str, value: Sql| {
        args.push(value);
        sql.push_str(&condition.replace('?', &format!("?{}", args.len())));
    };
    // The index `audit_events_time` is on julianday(at), which keeps only
    // milliseconds: it narrows the range with a millisecond to spare, and
    // the exact comparison of fixed-width text (`SORTABLE_AT`) decides.
    if let Some(from) = q.from {
        bind(
            &mut sql,
            " AND julianday(at) >= julianday(?) - 0.00000002",
            Sql::Text(from.to_string()),
        );
        bind(
            &mut sql,
            &format!(" AND {SORTABLE_AT} >= ?"),
            Sql::Text(sortable_at(&from.to_string())),
        );
    }
    if let Some(to) = q.to {
        bind(
            &mut sql,
            " AND julianday(at) < julianday(?) + 0.00000002",
            Sql::Text(to.to_string()),
        );
        bind(
            &mut sql,
            &format!(" AND {SORTABLE_AT} < ?"),
            Sql::Text(sortable_at(&to.to_string())),
        );
    }
    if let Some(actor) = &q.actor {
        bind(&mut sql, " AND actor = ?", Sql::Text(actor.clone()));
    }
    if let Some(orgs) = &q.orgs {
        let list = serde_json::to_string(orgs).map_err(|e| StoreError::Backend(e.to_string()))?;
        bind(
            &mut sql,
            " AND org IN (SELECT value FROM json_each(?))",
            Sql::Text(list),
        );
    }
    if let Some(action) = &q.action {
        bind(&mut sql, " AND action = ?", Sql::Text(action.clone()));
    }
    if let Some(targets) = &q.targets {
        let list =
            serde_json::to_string(targets).map_err(|e| StoreError::Backend(e.to_string()))?;
        bind(
            &mut sql,
            " AND target IN (SELECT value FROM json_each(?))",
            Sql::Text(list),
        );
    }
    sql.push_str(" ORDER BY seq LIMIT ?2");
    Ok((sql, args))
}

fn audit_rows(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<AuditRecord>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    type Raw = (
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
        Option<String>,
        String,
    );
    let raw: Vec<Raw> = stmt
        .query_map(p, |r| TryFrom::try_from(r))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    raw.into_iter()
        .map(
            |(
                seq,
                id,
                at,
                actor,
                org,
                role,
                client_addr,
                action,
                target,
                outcome,
                reason,
                detail,
            )| {
                Ok(AuditRecord {
                    seq,
                    event: AuditEvent {
                        id: uuid_of(&id)?,
                        at: ts(&at)?,
                        actor,
                        org,
                        role,
                        client_addr,
                        action,
                        target,
                        outcome,
                        reason,
                        detail: json(&detail)?,
                    },
                })
            },
        )
        .collect()
}

pub(crate) fn pending_outbox(c: &Connection, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, id, topic, payload, created_at FROM outbox
             WHERE delivered_at IS NULL ORDER BY seq LIMIT ?1",
        )
        .map_err(backend)?;
    let raw: Vec<(i64, String, String, String, String)> = stmt
        .query_map([limit], |r| TryFrom::try_from(r))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    raw.into_iter()
        .map(|(seq, id, topic, payload, created)| {
            Ok(OutboxRecord {
                seq,
                message: OutboxMessage {
                    id: uuid_of(&id)?,
                    topic,
                    payload: json(&payload)?,
                },
                created_at: ts(&created)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQL expression and its Rust twin agree, and sort as time does.
    #[test]
    fn stored_times_compare_to_the_nanosecond() {
        let c = Connection::open_in_memory().unwrap();
        let times = [
            "2026-12-05T14:04:27Z",
            "2026-12-05T14:04:27.0004Z",
            "2026-12-05T14:04:27.0015Z",
            "2026-12-05T14:04:27.002Z",
            "2026-12-05T14:04:27.123456789Z",
            "2026-12-05T14:04:27.5Z",
            "2026-12-05T14:04:28Z",
        ];
        let mut keys = Vec::new();
        for t in times {
            let at: jiff::Timestamp = t.parse().unwrap();
            assert_eq!(at.to_string(), t, "stored as jiff writes it");
            let sql: String = c
                .query_row(
                    &format!("SELECT {SORTABLE_AT} FROM (SELECT ?1 AS at)"),
                    [t],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(sql, sortable_at(t));
            keys.push(sql);
        }
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            sortable_at("2026-12-05T14:04:27.0015Z"),
            "2026-12-05T14:04:27.001500000"
        );
    }

    /// The plan SQLite chooses for a search with only `q`'s filters.
    fn plan(c: &Connection, q: &AuditQuery) -> String {
        let (sql, args) = audit_search_sql(q, 0, 100).unwrap();
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    /// Each filter the audit search API offers is answered from an index,
    /// not by scanning the log (V11 added org, actor and time).
    #[tokio::test]
    async fn audit_search_filters_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        drop(crate::SqliteStore::open(path.clone()).await.unwrap());
        let c = Connection::open(path).unwrap();
        let by_org = AuditQuery {
            orgs: Some(vec!["150100".into(), "150102".into()]),
            ..Default::default()
        };
        assert!(
            plan(&c, &by_org).contains("audit_events_org"),
            "{}",
            plan(&c, &by_org)
        );
        let by_actor = AuditQuery {
            actor: Some("user:x".into()),
            ..Default::default()
        };
        assert!(
            plan(&c, &by_actor).contains("audit_events_actor"),
            "{}",
            plan(&c, &by_actor)
        );
        let by_time = AuditQuery {
            from: Some(jiff::Timestamp::UNIX_EPOCH),
            to: Some(jiff::Timestamp::MAX),
            ..Default::default()
        };
        assert!(
            plan(&c, &by_time).contains("audit_events_time"),
            "{}",
            plan(&c, &by_time)
        );
    }
}
