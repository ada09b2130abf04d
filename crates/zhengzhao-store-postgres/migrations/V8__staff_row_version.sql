-- Every write to a staff account bumps its row version; a change is saved
-- only over the version it was based on (no lost updates between an
-- administrator's change and concurrent logins).
ALTER TABLE staff_users ADD COLUMN row_version BIGINT NOT NULL DEFAULT 0;
