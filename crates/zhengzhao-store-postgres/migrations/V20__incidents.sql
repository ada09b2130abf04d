-- Emergency incidents (Art. 9): a fault that stopped issuance, updates or
-- revocations at an org, and the source records it left undone.
CREATE TABLE incidents (
    id         UUID PRIMARY KEY,
    org        TEXT NOT NULL,
    cause      TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    -- JSON array of `issue`, `update`, `revoke`.
    operations JSONB NOT NULL,
    cleared_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE backlog_items (
    seq             BIGSERIAL PRIMARY KEY,
    incident_id     UUID NOT NULL REFERENCES incidents (id),
    source_system   TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    operation       TEXT NOT NULL CHECK (operation IN ('issue', 'update', 'revoke')),
    paper_issued_on DATE NOT NULL,
    registered_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (incident_id, source_system, record_id, operation)
);

-- Working-day calendar files the operator imported (`zhengzhao calendar
-- import`), merged over the shipped one in this order.
CREATE TABLE calendar_imports (
    seq         BIGSERIAL PRIMARY KEY,
    text        TEXT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);
