-- tend's first schema. Times are microseconds since the Unix epoch (UTC),
-- the same on PostgreSQL and SQLite so that one implementation serves both.

CREATE TABLE projects (
	name           TEXT PRIMARY KEY,
	shipyard       BYTEA NOT NULL,
	upstream_url   TEXT NOT NULL DEFAULT '',
	upstream_user  TEXT NOT NULL DEFAULT '',
	-- Plain text: pushing to the upstream needs it. Never part of API answers.
	upstream_token TEXT NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL
);

CREATE TABLE services (
	project    TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (project, name)
);

CREATE TABLE tokens (
	name       TEXT PRIMARY KEY,
	scope      TEXT NOT NULL,
	project    TEXT NOT NULL DEFAULT '',
	hash       BYTEA NOT NULL UNIQUE,
	created_at BIGINT NOT NULL
);

CREATE TABLE events (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             TEXT NOT NULL,
	source         TEXT NOT NULL,
	type           TEXT NOT NULL,
	event_time     BIGINT NOT NULL,
	specversion    TEXT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	triggeredid    TEXT NOT NULL,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	body           BYTEA NOT NULL,
	UNIQUE (source, id)
);
CREATE INDEX events_project ON events (project, seq);
CREATE INDEX events_context ON events (shkeptncontext, seq);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_triggeredid ON events (triggeredid) WHERE triggeredid <> '';
CREATE INDEX events_id ON events (id);

CREATE TABLE jobs (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind         TEXT NOT NULL,
	payload      BYTEA NOT NULL,
	unique_key   TEXT UNIQUE,
	state        TEXT NOT NULL,
	run_at       BIGINT NOT NULL,
	attempt      BIGINT NOT NULL DEFAULT 0,
	max_attempts BIGINT NOT NULL,
	lease_token  TEXT NOT NULL DEFAULT '',
	leased_by    TEXT NOT NULL DEFAULT '',
	lease_until  BIGINT NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_pending ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE settings (
	project       TEXT NOT NULL,
	stage         TEXT NOT NULL,
	service       TEXT NOT NULL,
	setting_key   TEXT NOT NULL,
	setting_value BYTEA NOT NULL,
	updated_at    BIGINT NOT NULL,
	PRIMARY KEY (project, stage, service, setting_key)
);
