-- Shipyard sequences (issue 14). At most one sequence per project, stage
-- and service is active (started or paused) at a time: a partial unique
-- index, so replicas starting sequences concurrently cannot run two; the
-- others wait. A version makes updates compare-and-set.

CREATE TABLE sequences (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT NOT NULL UNIQUE,
	shkeptncontext TEXT NOT NULL,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	name           TEXT NOT NULL,
	state          TEXT NOT NULL,
	active         INTEGER NOT NULL,
	doc            BLOB NOT NULL,
	version        INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX sequences_active ON sequences (project, stage, service) WHERE active = 1;
CREATE INDEX sequences_project ON sequences (project, seq);
CREATE INDEX sequences_context ON sequences (shkeptncontext);
CREATE INDEX sequences_waiting ON sequences (project, stage, service, state, seq);
