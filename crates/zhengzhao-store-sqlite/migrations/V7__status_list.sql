-- The revocation status list reads every revoked license: keep them indexed.
CREATE INDEX licenses_revoked ON licenses (id) WHERE revoked_at IS NOT NULL;
