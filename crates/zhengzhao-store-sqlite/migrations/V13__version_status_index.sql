-- Per-version status (issue 11): every license version has its own entry in
-- the status lists, reserved before the version is signed and signed into
-- its payload (document schema zhengzhao.license/2). Versions stored before
-- get indexes in storage order; the counter continues after them.
ALTER TABLE license_versions ADD COLUMN status_index INTEGER;
UPDATE license_versions SET status_index = numbered.n
FROM (SELECT license_id AS k, version AS v,
             ROW_NUMBER() OVER (ORDER BY license_id, version) - 1 AS n
      FROM license_versions) AS numbered
WHERE numbered.k = license_versions.license_id AND numbered.v = license_versions.version;
-- No two versions share an entry.
CREATE UNIQUE INDEX license_versions_status_index ON license_versions (status_index);

CREATE TABLE status_index_counter (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    next_index INTEGER NOT NULL
);
INSERT INTO status_index_counter (id, next_index)
SELECT 1, COALESCE(MAX(status_index) + 1, 0) FROM license_versions;

-- The licenses whose versions are not all in force (revoked, or updated at
-- least once): what the status lists are built from, without a full scan.
CREATE INDEX licenses_not_plain ON licenses (id)
WHERE revoked_at IS NOT NULL OR current_version > 1;
