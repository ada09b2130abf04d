//! The audit log and the outbox: appended in the same transaction as every change.

use crate::backend;
use tokio_postgres::GenericClient;
use zhengzhao_store::{
    AuditEvent, AuditQuery, AuditRecord, ChangeLog, OutboxMessage, OutboxRecord, StoreResult,
};

pub(crate) async fn append<C: GenericClient + Sync>(c: &C, log: &ChangeLog) -> StoreResult<()> {
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

pub(crate) async fn is_seeded<C: GenericClient + Sync>(c: &C) -> StoreResult<bool> {
    Ok(
        c.query_opt("SELECT 1 FROM library_meta WHERE key = 'seeded_at'", &[])
            .await
            .map_err(backend)?
            .is_some(),
    )
}

pub(crate) async fn audit_after<C: GenericClient + Sync>(
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
    Ok(to_records(&rows))
}

pub(crate) async fn audit_search<C: GenericClient + Sync>(
    c: &C,
    q: &AuditQuery,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<AuditRecord>> {
    let rows = c
        .query(
            "SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
             FROM audit_events
             WHERE seq > $1
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::text IS NULL OR actor = $5)
               AND ($6::text[] IS NULL OR org = ANY($6))
               AND ($7::text IS NULL OR action = $7)
               AND ($8::text[] IS NULL OR target = ANY($8))
             ORDER BY seq LIMIT $2",
            &[
                &after,
                &i64::from(limit),
                &q.from,
                &q.to,
                &q.actor,
                &q.orgs,
                &q.action,
                &q.targets,
            ],
        )
        .await
        .map_err(backend)?;
    Ok(to_records(&rows))
}

fn to_records(rows: &[tokio_postgres::Row]) -> Vec<AuditRecord> {
    rows.iter()
        .map(|r| AuditRecord {
            seq: r.get(0),
            event: AuditEvent {
                id: r.get(1),
                at: r.get(2),
                actor: r.get(3),
                org: r.get(4),
                role: r.get(5),
                client_addr: r.get(6),
                action: r.get(7),
                target: r.get(8),
                outcome: r.get(9),
                reason: r.get(10),
                detail: r.get(11),
            },
        })
        .collect()
}

pub(crate) async fn pending_outbox<C: GenericClient + Sync>(
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
    Ok(rows
        .iter()
        .map(|r| OutboxRecord {
            seq: r.get(0),
            message: OutboxMessage {
                id: r.get(1),
                topic: r.get(2),
                payload: r.get(3),
            },
            created_at: r.get(4),
        })
        .collect())
}
