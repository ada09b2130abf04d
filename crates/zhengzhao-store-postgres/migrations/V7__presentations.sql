-- Single-use presentation tokens (亮证) already scanned: the token id, once.
CREATE TABLE presentation_uses (
    jti     UUID PRIMARY KEY,
    used_at TIMESTAMPTZ NOT NULL
);
