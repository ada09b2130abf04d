-- Emergency incidents (Art. 9): a fault that stopped issuance, updates or
-- revocations at an org, and the source records it left undone.
CREATE TABLE incidents (
    id         TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    cause      TEXT NOT NULL,
    started_at TEXT NOT NULL,
    -- JSON array of `issue`, `update`, `revoke`.
    operations TEXT NOT NULL,
    cleared_at TEXT,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE backlog_items (
    seq             INTEGER PRIMARY KEY,
    incident_id     TEXT NOT NULL REFERENCES incidents (id),
    source_system   TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    operation       TEXT NOT NULL CHECK (operation IN ('issue', 'update', 'revoke')),
    paper_issued_on TEXT NOT NULL,
    registered_at   TEXT NOT NULL,
    UNIQUE (incident_id, source_system, record_id, operation)
);

-- Working-day calendar files the operator imported (`zhengzhao calendar
-- import`), merged over the shipped one in this order.
CREATE TABLE calendar_imports (
    seq         INTEGER PRIMARY KEY,
    text        TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
