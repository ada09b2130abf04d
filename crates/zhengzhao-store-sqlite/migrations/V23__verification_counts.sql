-- Checks of licenses per China day and per way in (identifier, QR code,
-- credit code and name, uploaded file, relying party's batch): statistics
-- for the console's chart, not a record of who checked what (public
-- checks are anonymous). Counted in memory, added here each minute.
CREATE TABLE verification_counts (
    day   TEXT NOT NULL,
    kind  TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, kind)
) WITHOUT ROWID;
