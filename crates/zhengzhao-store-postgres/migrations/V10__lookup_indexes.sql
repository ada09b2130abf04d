-- Audit search filters by org subtree, actor and time (GET /api/v1/audit/events):
-- each gets an index that keeps the keyset order (seq).
CREATE INDEX audit_events_org ON audit_events (org, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_time ON audit_events (at);

-- An org's name is unique (a rename to another org's name is refused).
CREATE UNIQUE INDEX orgs_name ON orgs (name);
