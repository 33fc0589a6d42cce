-- Problems and remediations (issue 5). A problem's key is unique, so every
-- notification of one problem instance finds the same record; at most one
-- remediation per service runs at a time (a partial unique index), so
-- concurrent intakes cannot start two. Both carry a version for
-- compare-and-set updates.

CREATE TABLE problems (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	problem_key    TEXT NOT NULL UNIQUE,
	source         TEXT NOT NULL,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	state          TEXT NOT NULL,
	title          TEXT NOT NULL,
	remediation_id TEXT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	reason         TEXT NOT NULL,
	opened_at      BIGINT NOT NULL,
	closed_at      BIGINT NOT NULL,
	doc            BYTEA NOT NULL,
	version        BIGINT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);
CREATE INDEX problems_project ON problems (project, seq);
CREATE INDEX problems_state ON problems (state, seq);
CREATE INDEX problems_remediation ON problems (remediation_id) WHERE remediation_id <> '';

CREATE TABLE remediations (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	state          TEXT NOT NULL,
	running        BIGINT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	doc            BYTEA NOT NULL,
	version        BIGINT NOT NULL,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX remediations_running ON remediations (project, stage, service) WHERE running = 1;
CREATE INDEX remediations_project ON remediations (project, seq);
