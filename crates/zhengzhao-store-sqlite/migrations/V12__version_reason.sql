-- Why an update issued a version (change 变更 / correction 更正 /
-- reissue 补发) and the clerk's words; empty for first versions.
ALTER TABLE license_versions ADD COLUMN reason_kind TEXT
    CHECK (reason_kind IN ('change', 'correction', 'reissue'));
ALTER TABLE license_versions ADD COLUMN reason_text TEXT;
