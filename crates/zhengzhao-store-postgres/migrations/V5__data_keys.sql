-- Keys that encrypt personal face fields at rest (SM4-GCM), each wrapped
-- under the master key. The newest is used for new data; older ones stay
-- for reading what they sealed. Keys are never updated or deleted.

CREATE TABLE data_keys (
    id          UUID PRIMARY KEY,
    wrapped_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION data_keys_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'data_keys is append-only';
END;
$$;

CREATE TRIGGER data_keys_no_change BEFORE UPDATE OR DELETE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION data_keys_append_only();
