-- The outbox relay (issue 14): one delivery row per destination (the
-- platforms, each delivery channel) and outbox message, in place of the
-- `deliveries` table, whose rows are carried over.
CREATE TABLE outbox_destinations (
    name       TEXT PRIMARY KEY,
    -- The last outbox seq this destination has been given rows for.
    cursor     BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE outbox_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    message_seq     BIGINT NOT NULL REFERENCES outbox (seq),
    destination     TEXT NOT NULL REFERENCES outbox_destinations (name),
    -- Messages of one stream (a license, a catalog type) go one at a time.
    stream          TEXT NOT NULL,
    license_key     BIGINT REFERENCES licenses (id),
    state           TEXT NOT NULL
                    CHECK (state IN ('pending', 'in_flight', 'delivered', 'rejected', 'parked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds since the epoch, as in SQLite.
    next_attempt_ms BIGINT NOT NULL,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (destination, message_seq)
);

CREATE INDEX outbox_deliveries_due ON outbox_deliveries (destination, state, next_attempt_ms);
CREATE INDEX outbox_deliveries_stream ON outbox_deliveries (destination, stream, message_seq);
CREATE INDEX outbox_deliveries_license ON outbox_deliveries (license_key) WHERE license_key IS NOT NULL;

-- Each channel of the old rows becomes a destination that has been given
-- every message so far; its rows keep their state (failed ones are parked).
INSERT INTO outbox_destinations (name, cursor, created_at)
SELECT DISTINCT 'channel:' || channel, (SELECT COALESCE(max(seq), 0) FROM outbox), now()
FROM deliveries;

INSERT INTO outbox_deliveries (message_seq, destination, stream, license_key, state, attempts,
                               next_attempt_ms, last_error, delivered_at)
SELECT o.seq, 'channel:' || d.channel, 'license:' || d.license_id, d.license_id,
       CASE d.status WHEN 'delivered' THEN 'delivered' WHEN 'failed' THEN 'parked' ELSE 'pending' END,
       d.attempts,
       (extract(epoch FROM COALESCE(d.next_attempt_at, d.created_at)) * 1000)::bigint,
       d.last_error, d.delivered_at
FROM deliveries d
JOIN license_versions v ON v.license_id = d.license_id AND v.version = d.version
JOIN outbox o ON o.topic = 'platform.license' AND o.payload->>'license_id' = v.identifier;

DROP TABLE deliveries;
