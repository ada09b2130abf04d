-- Usage lists (用证清单, Art. 11-12): each org's service items and the
-- materials each needs, mapped to license types. Versioned: a change adds
-- the next version; the highest is current.
CREATE TABLE usage_list_items (
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    item_code  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT NOT NULL,
    materials  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (org_id, item_code, version)
);
