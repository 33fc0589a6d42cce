-- Tenant isolation (issue 12). A project gets a uid at creation; problems,
-- remediations and events carry the uid of the project they belong to, so
-- a project deleted and created again under the same name starts empty.
-- Problem keys name their project ("alertmanager/<project>/<fingerprint>/
-- <startsAt>", "dynatrace/<project>/<PID>", "keptn/<project>/<context>",
-- "unmatched/<project>/<key>") and are unique per project generation.
-- Existing keys are rewritten to that form here, so a problem accepted
-- before the upgrade is found by the notifications that follow it.

ALTER TABLE projects ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE projects SET uid = lower(hex(randomblob(16)));

ALTER TABLE remediations ADD COLUMN project_uid TEXT NOT NULL DEFAULT '';
UPDATE remediations SET project_uid = COALESCE((SELECT uid FROM projects WHERE projects.name = remediations.project), '');
CREATE INDEX remediations_project_uid ON remediations (project_uid, seq);

ALTER TABLE events ADD COLUMN project_uid TEXT NOT NULL DEFAULT '';
UPDATE events SET project_uid = COALESCE((SELECT uid FROM projects WHERE projects.name = events.project), '')
	WHERE project <> '';

-- SQLite cannot drop the old UNIQUE (problem_key): the table is rebuilt.
CREATE TABLE problems_v3 (
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
	UNIQUE (project_uid, problem_key)
);
INSERT INTO problems_v3 (seq, id, problem_key, source, project, project_uid, stage, service, state, title, remediation_id,
		shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at)
	SELECT seq, id,
		CASE
			WHEN problem_key LIKE 'unmatched/%' THEN 'unmatched/' || project || '/' || substr(problem_key, 11)
			WHEN problem_key LIKE 'alertmanager/%' THEN 'alertmanager/' || project || '/' || substr(problem_key, 14)
			WHEN problem_key LIKE 'dynatrace/%' THEN 'dynatrace/' || project || '/' || substr(problem_key, 11)
			WHEN problem_key LIKE 'keptn/%' THEN 'keptn/' || project || '/' || substr(problem_key, 7)
			ELSE problem_key
		END,
		source, project, COALESCE((SELECT uid FROM projects WHERE projects.name = problems.project), ''),
		stage, service, state, title, remediation_id, shkeptncontext, reason, opened_at, closed_at, doc, version, created_at, updated_at
	FROM problems;
DROP TABLE problems;
ALTER TABLE problems_v3 RENAME TO problems;
CREATE INDEX problems_project ON problems (project, seq);
CREATE INDEX problems_state ON problems (state, seq);
CREATE INDEX problems_remediation ON problems (remediation_id) WHERE remediation_id <> '';
