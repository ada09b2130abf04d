-- Signing keys, licenses with their signed versions, deliveries.

CREATE TABLE signing_keys (
    id                  UUID PRIMARY KEY,
    org_id              BIGINT REFERENCES orgs (id),
    purpose             TEXT NOT NULL CHECK (purpose IN ('ca', 'license')),
    source              TEXT NOT NULL CHECK (source IN ('local_ca', 'imported')),
    public_key          BYTEA NOT NULL,
    wrapped_private_key BYTEA NOT NULL,
    certificate_pem     TEXT NOT NULL,
    not_before          TIMESTAMPTZ NOT NULL,
    not_after           TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    retired_at          TIMESTAMPTZ
);
-- One active key per org and purpose (the CA's org is NULL: COALESCE keeps it unique too).
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (COALESCE(org_id, 0), purpose) WHERE retired_at IS NULL;
CREATE INDEX signing_keys_org ON signing_keys (org_id, created_at);

CREATE TABLE licenses (
    id               BIGSERIAL PRIMARY KEY,
    type_id          BIGINT NOT NULL REFERENCES license_types (id),
    issuer_id        BIGINT NOT NULL REFERENCES orgs (id),
    serial           TEXT NOT NULL,
    holder_id        TEXT NOT NULL,
    current_version  INTEGER NOT NULL,
    source_system    TEXT NOT NULL,
    source_record_id TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ,
    revoked_by       TEXT,
    revoke_reason    TEXT,
    UNIQUE (issuer_id, serial),
    UNIQUE (source_system, source_record_id)
);
CREATE INDEX licenses_holder ON licenses (holder_id, id);
CREATE INDEX licenses_type ON licenses (type_id, id);
CREATE INDEX licenses_issuer ON licenses (issuer_id, id);

CREATE TABLE license_versions (
    license_id     BIGINT NOT NULL REFERENCES licenses (id),
    version        INTEGER NOT NULL,
    identifier     TEXT NOT NULL UNIQUE,
    type_version   INTEGER NOT NULL,
    holder_name    TEXT NOT NULL,
    holder_id_type TEXT NOT NULL,
    holder_id      TEXT NOT NULL,
    face           JSONB NOT NULL,
    license_number TEXT,
    valid_from     DATE NOT NULL,
    valid_until    DATE,
    issued_at      TIMESTAMPTZ NOT NULL,
    payload        TEXT NOT NULL,
    signature      BYTEA NOT NULL,
    key_id         UUID NOT NULL REFERENCES signing_keys (id),
    PRIMARY KEY (license_id, version)
);

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    license_id      BIGINT NOT NULL REFERENCES licenses (id),
    version         INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (license_id, version, channel)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
