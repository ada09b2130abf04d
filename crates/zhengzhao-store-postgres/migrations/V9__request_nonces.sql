-- Nonces of signed requests (tokens made with --signed), kept for their
-- replay window so a captured request cannot be replayed after a restart,
-- nor on another node of the same database. Expired rows are purged.
CREATE TABLE request_nonces (
    token_id   UUID        NOT NULL,
    nonce      TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (token_id, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
