-- Relying parties' scenarios (Art. 14-16): one intended use by one relying
-- party. The checked application is kept as JSON text; its state moves by
-- the region's decisions ('expired' is derived from valid_until, not stored).
CREATE TABLE scenarios (
    id                        TEXT PRIMARY KEY,
    application               TEXT NOT NULL,
    relying_party_credit_code TEXT NOT NULL,
    state                     TEXT NOT NULL
        CHECK (state IN ('submitted', 'approved', 'rejected', 'suspended', 'revoked')),
    filed_by                  INTEGER REFERENCES orgs (id),
    tracking_hash             BLOB,
    submitted_at              TEXT NOT NULL,
    decided_at                TEXT,
    decided_by                TEXT,
    decision_reason           TEXT
);
CREATE INDEX scenarios_relying_party ON scenarios (relying_party_credit_code);

-- Reads per scenario per China day, for its daily quota.
CREATE TABLE scenario_use (
    scenario_id TEXT NOT NULL REFERENCES scenarios (id),
    day         TEXT NOT NULL,
    reads       INTEGER NOT NULL,
    PRIMARY KEY (scenario_id, day)
) WITHOUT ROWID;

-- A relying party's credential names its one scenario.
ALTER TABLE api_tokens ADD COLUMN scenario_id TEXT REFERENCES scenarios (id);

-- A holder's consent to a social scenario (Art. 22): what it covers
-- (types or licenses, and fields, as JSON), why, until when or once.
CREATE TABLE consents (
    id           TEXT PRIMARY KEY,
    holder_key   TEXT NOT NULL,
    scenario_id  TEXT NOT NULL REFERENCES scenarios (id),
    scope        TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    valid_until  TEXT,
    single_use   INTEGER NOT NULL,
    method       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('granted', 'used', 'withdrawn')),
    granted_at   TEXT NOT NULL,
    used_at      TEXT,
    withdrawn_at TEXT
);
CREATE INDEX consents_holder ON consents (holder_key, scenario_id);
