-- Fewer pages written per license (the issuing hot path, see BENCHMARKS.md).
--
-- 1. A version's face data is stored once, inside the signed payload that
--    already holds it; reads take it from there.
ALTER TABLE license_versions DROP COLUMN face;

-- 2. The audit log and the outbox number their rows with a plain rowid
--    instead of AUTOINCREMENT (which updates sqlite_sequence on every insert).
--    Rows are never deleted from either table, so the next rowid is always
--    max + 1 and `seq` keeps increasing exactly as before.
CREATE TABLE audit_events_v3 (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    org         TEXT,
    role        TEXT,
    client_addr TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    detail      TEXT NOT NULL
);
INSERT INTO audit_events_v3 SELECT seq, id, at, actor, org, role, client_addr, action, target, outcome, reason, detail
FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_v3 RENAME TO audit_events;
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
-- The application has no UPDATE or DELETE path for the audit log; these
-- triggers refuse one from anywhere else that does not first drop them.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE outbox_v3 (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT
);
INSERT INTO outbox_v3 SELECT seq, id, topic, payload, created_at, attempts, next_attempt_at, delivered_at
FROM outbox ORDER BY seq;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (delivered_at, seq);
