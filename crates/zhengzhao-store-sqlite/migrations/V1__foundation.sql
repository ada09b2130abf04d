-- Foundation: library metadata, org tree with closure table, catalog with
-- versions, API tokens, append-only audit log, outbox.
-- Released migrations are never edited; add V2__… instead (refinery checks).

CREATE TABLE library_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id                      INTEGER PRIMARY KEY,
    code                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('market_regulation', 'approval_bureau')),
    level                   TEXT NOT NULL CHECK (level IN ('region', 'league', 'banner')),
    parent_id               INTEGER REFERENCES orgs (id),
    credit_code             TEXT NOT NULL UNIQUE,
    credit_code_placeholder INTEGER NOT NULL,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX orgs_parent ON orgs (parent_id);

-- Every (ancestor, descendant) pair including (org, org) at depth 0, so that
-- "is X within Y's subtree" is one primary-key lookup.
CREATE TABLE org_closure (
    ancestor_id   INTEGER NOT NULL REFERENCES orgs (id),
    descendant_id INTEGER NOT NULL REFERENCES orgs (id),
    depth         INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX org_closure_descendant ON org_closure (descendant_id, depth);

CREATE TABLE license_types (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    current_version  INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- Old versions stay: licenses point at the version they were issued under.
CREATE TABLE license_type_versions (
    type_id    INTEGER NOT NULL REFERENCES license_types (id),
    version    INTEGER NOT NULL,
    spec       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (type_id, version)
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);

-- The application has no UPDATE or DELETE path for the audit log; these
-- triggers refuse one from anywhere else that does not first drop them.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    topic           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, seq);
