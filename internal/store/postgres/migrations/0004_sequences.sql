-- Shipyard sequences (issue 14). At most one sequence per project, stage
-- and service is active (started or paused) at a time: a partial unique
-- index, so replicas starting sequences concurrently cannot run two; the
-- others wait. A version makes updates compare-and-set.

CREATE TABLE sequences (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	shkeptncontext TEXT NOT NULL,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	name           TEXT NOT NULL,
	state          TEXT NOT NULL,
	active         BIGINT NOT NULL,
	doc            BYTEA NOT NULL,
	version        BIGINT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX sequences_active ON sequences (project, stage, service) WHERE active = 1;
CREATE INDEX sequences_project ON sequences (project, seq);
CREATE INDEX sequences_context ON sequences (shkeptncontext);
CREATE INDEX sequences_waiting ON sequences (project, stage, service, state, seq);
