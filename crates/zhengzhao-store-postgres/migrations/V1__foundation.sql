-- Foundation: library metadata, org tree with closure table, catalog with
-- versions, API tokens, append-only audit log, outbox.
-- Released migrations are never edited; add V2__… instead (refinery checks).

CREATE TABLE library_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE orgs (
    id                      BIGSERIAL PRIMARY KEY,
    code                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('market_regulation', 'approval_bureau')),
    level                   TEXT NOT NULL CHECK (level IN ('region', 'league', 'banner')),
    parent_id               BIGINT REFERENCES orgs (id),
    credit_code             TEXT NOT NULL UNIQUE,
    credit_code_placeholder BOOLEAN NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX orgs_parent ON orgs (parent_id);

-- Every (ancestor, descendant) pair including (org, org) at depth 0, so that
-- "is X within Y's subtree" is one primary-key lookup.
CREATE TABLE org_closure (
    ancestor_id   BIGINT NOT NULL REFERENCES orgs (id),
    descendant_id BIGINT NOT NULL REFERENCES orgs (id),
    depth         INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX org_closure_descendant ON org_closure (descendant_id, depth);

CREATE TABLE license_types (
    id              BIGSERIAL PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    current_version INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- Old versions stay: licenses point at the version they were issued under.
CREATE TABLE license_type_versions (
    type_id    BIGINT NOT NULL REFERENCES license_types (id),
    version    INTEGER NOT NULL,
    spec       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (type_id, version)
);

CREATE TABLE api_tokens (
    id         UUID PRIMARY KEY,
    hash       BYTEA NOT NULL UNIQUE,
    org_id     BIGINT NOT NULL REFERENCES orgs (id),
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE audit_events (
    seq         BIGSERIAL PRIMARY KEY,
    id          UUID NOT NULL UNIQUE,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    org         TEXT,
    role        TEXT,
    client_addr TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    detail      JSONB NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);

-- The application has no UPDATE or DELETE path for the audit log; this
-- trigger refuses one from anywhere else that does not first drop it.
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    id              UUID NOT NULL UNIQUE,
    topic           TEXT NOT NULL,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (delivered_at, seq);
