-- Relying parties' scenarios (Art. 14-16): one intended use by one relying
-- party. The checked application is kept as JSON text; its state moves by
-- the region's decisions ('expired' is derived from valid_until, not stored).
CREATE TABLE scenarios (
    id                        UUID PRIMARY KEY,
    application               TEXT NOT NULL,
    relying_party_credit_code TEXT NOT NULL,
    state                     TEXT NOT NULL
        CHECK (state IN ('submitted', 'approved', 'rejected', 'suspended', 'revoked')),
    filed_by                  BIGINT REFERENCES orgs (id),
    tracking_hash             BYTEA,
    submitted_at              TIMESTAMPTZ NOT NULL,
    decided_at                TIMESTAMPTZ,
    decided_by                TEXT,
    decision_reason           TEXT
);
CREATE INDEX scenarios_relying_party ON scenarios (relying_party_credit_code);

-- Reads per scenario per China day, for its daily quota.
CREATE TABLE scenario_use (
    scenario_id UUID NOT NULL REFERENCES scenarios (id),
    day         DATE NOT NULL,
    reads       INTEGER NOT NULL,
    PRIMARY KEY (scenario_id, day)
);

-- A relying party's credential names its one scenario.
ALTER TABLE api_tokens ADD COLUMN scenario_id UUID REFERENCES scenarios (id);

-- A holder's consent to a social scenario (Art. 22): what it covers
-- (types or licenses, and fields, as JSON), why, until when or once.
CREATE TABLE consents (
    id           UUID PRIMARY KEY,
    holder_key   TEXT NOT NULL,
    scenario_id  UUID NOT NULL REFERENCES scenarios (id),
    scope        TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    valid_until  DATE,
    single_use   BOOLEAN NOT NULL,
    method       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('granted', 'used', 'withdrawn')),
    granted_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    withdrawn_at TIMESTAMPTZ
);
CREATE INDEX consents_holder ON consents (holder_key, scenario_id);
