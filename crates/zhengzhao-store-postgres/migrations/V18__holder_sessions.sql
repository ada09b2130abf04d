-- Holders signed in through the region's identity provider (OpenID Connect).
-- A sign-in under way: taken (deleted) by its one callback. Times in whole
-- seconds since the epoch, as in SQLite.
CREATE TABLE holder_sign_ins (
    state_hash    BYTEA PRIMARY KEY,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE INDEX holder_sign_ins_expiry ON holder_sign_ins (expires_at);

-- A holder's session. No resident id in clear: the holder's storage key
-- (a blind index for a natural person) and its masked form.
CREATE TABLE holder_sessions (
    hash         BYTEA PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    id_type      TEXT NOT NULL,
    holder_key   TEXT NOT NULL,
    holder_shown TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject_sm3  TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    client_addr  TEXT,
    ended_at     TIMESTAMPTZ
);

CREATE INDEX holder_sessions_holder ON holder_sessions (holder_key) WHERE ended_at IS NULL;
