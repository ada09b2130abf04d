-- Staff accounts, their sessions, and signed requests for API tokens.

CREATE TABLE staff_users (
    id                   UUID PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    org_id               BIGINT NOT NULL REFERENCES orgs (id),
    roles                TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    totp_secret          BYTEA NOT NULL,
    totp_last_step       BIGINT NOT NULL DEFAULT 0,
    must_change_password BOOLEAN NOT NULL,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         TIMESTAMPTZ,
    password_changed_at  TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    disabled_at          TIMESTAMPTZ
);

CREATE TABLE staff_sessions (
    hash         BYTEA PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES staff_users (id),
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    client_addr  TEXT,
    ended_at     TIMESTAMPTZ
);

CREATE INDEX staff_sessions_user ON staff_sessions (user_id) WHERE ended_at IS NULL;

-- The HMAC key of a token that must sign its requests, wrapped under the master key.
ALTER TABLE api_tokens ADD COLUMN signing_secret BYTEA;
