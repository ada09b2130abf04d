-- One current license per holder, for license types that allow only one
-- (one_current_license_per_holder; 营业执照: one per credit code).
-- sole_current_holder_id holds the license's holder id (as in holder_id)
-- while the license is current (not revoked: expired ones count) and its
-- type had the rule when it was issued; revocation clears it. The unique
-- index then refuses a second such license even when two issues race.
-- Other licenses keep it NULL; nothing to fill in for existing rows, which
-- were issued under catalogs without the rule.
ALTER TABLE licenses ADD COLUMN sole_current_holder_id TEXT;
CREATE UNIQUE INDEX licenses_one_current_per_holder
    ON licenses (type_id, sole_current_holder_id)
    WHERE sole_current_holder_id IS NOT NULL;
