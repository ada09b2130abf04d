-- Keys that encrypt personal face fields at rest (SM4-GCM), each wrapped
-- under the master key. The newest is used for new data; older ones stay
-- for reading what they sealed. Keys are never updated or deleted.

CREATE TABLE data_keys (
    id          TEXT PRIMARY KEY,
    wrapped_key BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TRIGGER data_keys_no_update BEFORE UPDATE ON data_keys
BEGIN SELECT RAISE(ABORT, 'data_keys is append-only'); END;
CREATE TRIGGER data_keys_no_delete BEFORE DELETE ON data_keys
BEGIN SELECT RAISE(ABORT, 'data_keys is append-only'); END;
