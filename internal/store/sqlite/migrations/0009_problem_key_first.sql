-- Performance (issue 16). The problem key comes first in the unique key,
-- (problem_key, project_uid) instead of (project_uid, problem_key), so the
-- one index both enforces uniqueness and serves GetProblemByKey's lookup
-- by key, and problems_by_key (0006), which only served that lookup, is
-- dropped: every new problem updates one index fewer. No query used the
-- old order's leading project_uid. SQLite cannot change a table's UNIQUE
-- constraint: the table is rebuilt, keeping its AUTOINCREMENT counter, so
-- that no sequence number is handed out twice.
CREATE TABLE problems_v9 (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	id             TEXT NOT NULL UNIQUE,
	problem_key    TEXT NOT NULL,
	source         TEXT NOT NULL,
	project        TEXT NOT NULL,
	project_uid    TEXT NOT NULL,
	stage          TEXT NOT NULL,
	service        TEXT NOT NULL,
	state          TEXT NOT NULL,
	title          TEXT NOT NULL,
	remediation_id TEXT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	reason         TEXT NOT NULL,
	opened_at      INTEGER NOT NULL,
	closed_at      INTEGER NOT NULL,
	doc            BLOB NOT NULL,
	version        INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	UNIQUE (problem_key, project_uid)
);
INSERT INTO problems_v9 (seq, id, problem_key, source, project, project_uid, stage, service, state, title, remediation_id,
		shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at)
	SELECT seq, id, problem_key, source, project, project_uid, stage, service, state, title, remediation_id,
		shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at
	FROM problems;
DELETE FROM sqlite_sequence WHERE name = 'problems_v9';
INSERT INTO sqlite_sequence (name, seq) SELECT 'problems_v9', seq FROM sqlite_sequence WHERE name = 'problems';
DROP TABLE problems;
ALTER TABLE problems_v9 RENAME TO problems;
CREATE INDEX problems_project ON problems (project, seq);
CREATE INDEX problems_state ON problems (state, seq);
CREATE INDEX problems_remediation ON problems (remediation_id) WHERE remediation_id <> '';
