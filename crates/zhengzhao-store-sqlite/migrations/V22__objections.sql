-- Objections (异议核查, Art. 19): an applicant says a license is inaccurate,
-- incomplete or out of date; the issuing org investigates and answers.
-- The workflow's details live in `data` (JSON, shaped by the core; the
-- applicant's contact and statement sealed); the columns are what is
-- looked up or must be unique.
CREATE TABLE objections (
    id            TEXT PRIMARY KEY,
    ticket        TEXT NOT NULL UNIQUE,
    -- SM3 of the applicant's tracking code; the code itself is never kept.
    tracking_hash BLOB NOT NULL,
    -- The license objected to; NULL for one another province issued (the
    -- national route).
    license_key   INTEGER REFERENCES licenses (id),
    -- The org that handles it: the issuing org, or the region.
    org           TEXT NOT NULL,
    state         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    -- The channel's own reference: a second submission with it is the same objection.
    external_ref  TEXT,
    submitted_at  TEXT NOT NULL,
    row_version   INTEGER NOT NULL,
    -- JSON array of the face fields concerned while the license is flagged
    -- (异议标注: from acceptance to the outcome); NULL otherwise.
    flag_fields   TEXT,
    data          TEXT NOT NULL,
    UNIQUE (channel, external_ref)
) WITHOUT ROWID;
CREATE INDEX objections_state ON objections (state, submitted_at);
CREATE INDEX objections_license ON objections (license_key) WHERE flag_fields IS NOT NULL;

-- Attachments, kept with their SM3 hash and shown to the handlers only.
CREATE TABLE objection_attachments (
    objection_id TEXT NOT NULL REFERENCES objections (id),
    n            INTEGER NOT NULL,
    name         TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    sm3          TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    PRIMARY KEY (objection_id, n)
);

-- The union of the fields its open objections concern (JSON array), or
-- NULL: what the public check, relying parties and the status lists show.
ALTER TABLE licenses ADD COLUMN objection_fields TEXT;
CREATE INDEX licenses_under_objection ON licenses (id) WHERE objection_fields IS NOT NULL;

-- The objection (its ticket) a correcting version answers.
ALTER TABLE license_versions ADD COLUMN reason_objection TEXT;
