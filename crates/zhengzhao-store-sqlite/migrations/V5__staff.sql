-- Staff accounts, their sessions, and signed requests for API tokens.

CREATE TABLE staff_users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    org_id               INTEGER NOT NULL REFERENCES orgs (id),
    roles                TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    totp_secret          BLOB NOT NULL,
    totp_last_step       INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT,
    password_changed_at  TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    disabled_at          TEXT
);

CREATE TABLE staff_sessions (
    hash         BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES staff_users (id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    client_addr  TEXT,
    ended_at     TEXT
) WITHOUT ROWID;

CREATE INDEX staff_sessions_user ON staff_sessions (user_id) WHERE ended_at IS NULL;

-- The HMAC key of a token that must sign its requests, wrapped under the master key.
ALTER TABLE api_tokens ADD COLUMN signing_secret BLOB;
