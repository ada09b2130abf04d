-- Holders signed in through the region's identity provider (OpenID Connect).
-- A sign-in under way: taken (deleted) by its one callback. Times in whole
-- seconds since the epoch, so expiry compares as numbers.
CREATE TABLE holder_sign_ins (
    state_hash    BLOB PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX holder_sign_ins_expiry ON holder_sign_ins (expires_at);

-- A holder's session. No resident id in clear: the holder's storage key
-- (a blind index for a natural person) and its masked form.
CREATE TABLE holder_sessions (
    hash         BLOB PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    id_type      TEXT NOT NULL,
    holder_key   TEXT NOT NULL,
    holder_shown TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject_sm3  TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    client_addr  TEXT,
    ended_at     TEXT
) WITHOUT ROWID;

CREATE INDEX holder_sessions_holder ON holder_sessions (holder_key) WHERE ended_at IS NULL;
