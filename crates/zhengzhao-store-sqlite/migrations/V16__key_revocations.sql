-- Revoked signing keys (issue 11 §6): a compromised key's certificate is
-- listed on the local CA's CRL, and what it signed from `revoked_at` on is
-- not genuine. A separate table: signing_keys rows stay as they were.
CREATE TABLE key_revocations (
    key_id      TEXT PRIMARY KEY REFERENCES signing_keys (id),
    revoked_at  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
