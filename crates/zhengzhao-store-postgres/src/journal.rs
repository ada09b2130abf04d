//! The audit log and the outbox: appended in the same transaction as every change.

use crate::backend;
use crate::db::Db;
use crate::row::RowExt;
use zhengzhao_store::{
    AuditEvent, AuditQuery, AuditRecord, ChangeLog, OutboxMessage, OutboxRecord, StoreResult,
};

pub(crate) async fn append<C: Db + ?Sized>(c: &C, log: &ChangeLog) -> StoreResult<()> {
    let e = &log.audit;
    c.execute(
        "INSERT INTO audit_events (id, at, actor, org, role, client_addr, action, target, outcome, reason, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &e.id, &e.at, &e.actor, &e.org, &e.role, &e.client_addr, &e.action, &e.target, &e.outcome, &e.reason,
            &e.detail,
        ],
    )
    .await
    .map_err(backend)?;
    for m in &log.outbox {
        c.execute(
            "INSERT INTO outbox (id, topic, payload, created_at) VALUES ($1, $2, $3, $4)",
            &[&m.id, &m.topic, &m.payload, &e.at],
        )
        .await
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) async fn is_seeded<C: Db + ?Sized>(c: &C) -> StoreResult<bool> {
    Ok(
        c.query_opt("SELECT 1 FROM library_meta WHERE key = 'seeded_at'", &[])
            .await
            .map_err(backend)?
            .is_some(),
    )
}

pub(crate) async fn audit_after<C: Db + ?Sized>(
    c: &C,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    let rows = c
        .query(
            "SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
             FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &i64::from(limit)],
        )
        .await
        .map_err(backend)?;
    to_records(&rows)
}

/// Audit search: only the filters given become SQL conditions, so each can
/// use its index (`V10__lookup_indexes.sql`) in a prepared statement.
pub(crate) async fn audit_search<C: Db + ?Sized>(
    c: &C,
    q: &AuditQuery,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    use tokio_postgres::types::ToSql;
    let limit = i64::from(limit);
    let mut sql = String::from(
        "SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
         FROM audit_events WHERE seq > $1",
    );
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after, &limit];
    let filters: [(&str, Option<&(dyn ToSql + Sync)>); 6] = [
        (" AND at >= $", q.from.as_ref().map(|v| v as _)),
        (" AND at < $", q.to.as_ref().map(|v| v as _)),
        (" AND actor = $", q.actor.as_ref().map(|v| v as _)),
        (" AND org = ANY($)", q.orgs.as_ref().map(|v| v as _)),
        (" AND action = $", q.action.as_ref().map(|v| v as _)),
        (" AND target = ANY($)", q.targets.as_ref().map(|v| v as _)),
    ];
    for (condition, value) in filters {
        if let Some(value) = value {
            args.push(value);
            sql.push_str(&condition.replace('$', &format!("${}", args.len())));
        }
    }
    sql.push_str(" ORDER BY seq LIMIT $2");
    let rows = c.query(&sql, &args).await.map_err(backend)?;
    to_records(&rows)
}

fn to_records(rows: &[tokio_postgres::Row]) -> StoreResult<Vec<AuditRecord>> {
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                seq: r.col(0, "audit event")?,
                event: AuditEvent {
                    id: r.col(1, "audit event")?,
                    at: r.col(2, "audit event")?,
                    actor: r.col(3, "audit event")?,
                    org: r.col(4, "audit event")?,
                    role: r.col(5, "audit event")?,
                    client_addr: r.col(6, "audit event")?,
                    action: r.col(7, "audit event")?,
                    target: r.col(8, "audit event")?,
                    outcome: r.col(9, "audit event")?,
                    reason: r.col(10, "audit event")?,
                    detail: r.col(11, "audit event")?,
                },
            })
        })
        .collect()
}

pub(crate) async fn pending_outbox<C: Db + ?Sized>(
    c: &C,
    limit: u32,
) -> StoreResult<Vec<OutboxRecord>> {
    let rows = c
        .query(
            "SELECT seq, id, topic, payload, created_at FROM outbox
             WHERE delivered_at IS NULL ORDER BY seq LIMIT $1",
            &[&i64::from(limit)],
        )
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(OutboxRecord {
                seq: r.col(0, "outbox")?,
                message: OutboxMessage {
                    id: r.col(1, "outbox")?,
                    topic: r.col(2, "outbox")?,
                    payload: r.col(3, "outbox")?,
                },
                created_at: r.col(4, "outbox")?,
            })
        })
        .collect()
}
