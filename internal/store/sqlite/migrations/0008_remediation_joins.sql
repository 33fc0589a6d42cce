-- Performance (issue 16). A problem that joins a running remediation used
-- to rewrite the remediation's document, which lists every problem it acts
-- on, so a flood of new problems cost more with each one that joined. A join
-- is now a row here, beside the document, when it changes nothing else
-- (joinable); reads fold the rows into the document, and the next write of
-- the document, which was read with them, deletes them. pending_joins
-- counts them, so that a read of a remediation without joins reads no
-- more than before. Existing remediations are not joinable until their
-- next write.
ALTER TABLE remediations ADD COLUMN joinable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remediations ADD COLUMN pending_joins INTEGER NOT NULL DEFAULT 0;

CREATE TABLE remediation_joins (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	remediation_id TEXT NOT NULL,
	problem_id     TEXT NOT NULL,
	joined_at      INTEGER NOT NULL
);
CREATE INDEX remediation_joins_remediation ON remediation_joins (remediation_id, seq);
