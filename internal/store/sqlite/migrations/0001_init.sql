-- tend's first schema. Times are microseconds since the Unix epoch (UTC),
-- the same on SQLite and PostgreSQL so that one implementation serves both.

CREATE TABLE projects (
	name           TEXT PRIMARY KEY,
	shipyard       BLOB NOT NULL,
	upstream_url   TEXT NOT NULL DEFAULT '',
	upstream_user  TEXT NOT NULL DEFAULT '',
	-- Plain text: pushing to the upstream needs it. Never part of API answers.
	upstream_token TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE services (
	project    TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (project, name)
);

CREATE TABLE tokens (
	name       TEXT PRIMARY KEY,
	scope      TEXT NOT NULL,
	project    TEXT NOT NULL DEFAULT '',
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE events (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT NOT NULL,
	source         TEXT NOT NULL,
	type           TEXT NOT NULL,
	event_time     INTEGER NOT NULL,
	specversion    TEXT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	triggeredid    TEXT NOT NULL,
	project        TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	body           BLOB NOT NULL,
	UNIQUE (source, id)
);
CREATE INDEX events_project ON events (project, seq);
CREATE INDEX events_context ON events (shkeptncontext, seq);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_triggeredid ON events (triggeredid) WHERE triggeredid <> '';
CREATE INDEX events_id ON events (id);

CREATE TABLE jobs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	kind         TEXT NOT NULL,
	payload      BLOB NOT NULL,
	unique_key   TEXT UNIQUE,
	state        TEXT NOT NULL,
	run_at       INTEGER NOT NULL,
	attempt      INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL,
	lease_token  TEXT NOT NULL DEFAULT '',
	leased_by    TEXT NOT NULL DEFAULT '',
	lease_until  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_pending ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE settings (
	project       TEXT NOT NULL,
	stage         TEXT NOT NULL,
	service       TEXT NOT NULL,
	setting_key   TEXT NOT NULL,
	setting_value BLOB NOT NULL,
	updated_at    INTEGER NOT NULL,
	PRIMARY KEY (project, stage, service, setting_key)
);
