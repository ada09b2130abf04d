-- The audit log's Merkle tree (RFC 9162 shape, SM3) and its signed checkpoints.
-- All three tables are append-only, like the audit log itself.

CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    seq        BIGINT NOT NULL UNIQUE,
    hash       BYTEA NOT NULL CHECK (length(hash) = 32)
);

-- Complete interior nodes: (level, idx) covers leaves idx*2^level .. (idx+1)*2^level.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL CHECK (level >= 1),
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL CHECK (length(root) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    key_id     UUID NOT NULL REFERENCES signing_keys (id),
    note       TEXT NOT NULL,
    signature  BYTEA NOT NULL
);

CREATE TRIGGER audit_leaves_no_change BEFORE UPDATE OR DELETE ON audit_leaves
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_nodes_no_change BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
