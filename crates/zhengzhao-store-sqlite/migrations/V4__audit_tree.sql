-- The audit log's Merkle tree (RFC 9162 shape, SM3) and its signed checkpoints.
-- All three tables are append-only, like the audit log itself.

CREATE TABLE audit_leaves (
    leaf_index INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    hash       BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Complete interior nodes: (level, idx) covers leaves idx*2^level .. (idx+1)*2^level.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL CHECK (level >= 1),
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE audit_checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    root       BLOB NOT NULL CHECK (length(root) = 32),
    created_at TEXT NOT NULL,
    key_id     TEXT NOT NULL REFERENCES signing_keys (id),
    note       TEXT NOT NULL,
    signature  BLOB NOT NULL
);

CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only'); END;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
