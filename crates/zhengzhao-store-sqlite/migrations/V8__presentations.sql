-- Single-use presentation tokens (亮证) already scanned: the token id, once.
CREATE TABLE presentation_uses (
    jti     TEXT PRIMARY KEY,
    used_at TEXT NOT NULL
) WITHOUT ROWID;
