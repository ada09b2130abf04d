-- Nonces of signed requests (tokens made with --signed), kept for their
-- replay window so a captured request cannot be replayed after a restart.
-- expires_at is Unix seconds: the end of the window; expired rows are purged.
CREATE TABLE request_nonces (
    token_id   TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (token_id, nonce)
) WITHOUT ROWID;
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
