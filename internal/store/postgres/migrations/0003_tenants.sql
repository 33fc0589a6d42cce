-- Tenant isolation (issue 12). A project gets a uid at creation; problems,
-- remediations and events carry the uid of the project they belong to, so
-- a project deleted and created again under the same name starts empty.
-- Problem keys name their project ("alertmanager/<project>/<fingerprint>/
-- <startsAt>", "dynatrace/<project>/<PID>", "keptn/<project>/<context>",
-- "unmatched/<project>/<key>") and are unique per project generation.
-- Existing keys are rewritten to that form here, so a problem accepted
-- before the upgrade is found by the notifications that follow it.

ALTER TABLE projects ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE projects SET uid = replace(gen_random_uuid()::text, '-', '');

ALTER TABLE remediations ADD COLUMN project_uid TEXT NOT NULL DEFAULT '';
UPDATE remediations SET project_uid = COALESCE((SELECT uid FROM projects WHERE projects.name = remediations.project), '');
CREATE INDEX remediations_project_uid ON remediations (project_uid, seq);

ALTER TABLE events ADD COLUMN project_uid TEXT NOT NULL DEFAULT '';
UPDATE events SET project_uid = COALESCE((SELECT uid FROM projects WHERE projects.name = events.project), '')
	WHERE project <> '';

ALTER TABLE problems ADD COLUMN project_uid TEXT NOT NULL DEFAULT '';
UPDATE problems SET
	project_uid = COALESCE((SELECT uid FROM projects WHERE projects.name = problems.project), ''),
	problem_key = CASE
		WHEN problem_key LIKE 'unmatched/%' THEN 'unmatched/' || project || '/' || substr(problem_key, 11)
		WHEN problem_key LIKE 'alertmanager/%' THEN 'alertmanager/' || project || '/' || substr(problem_key, 14)
		WHEN problem_key LIKE 'dynatrace/%' THEN 'dynatrace/' || project || '/' || substr(problem_key, 11)
		WHEN problem_key LIKE 'keptn/%' THEN 'keptn/' || project || '/' || substr(problem_key, 7)
		ELSE problem_key
	END;
ALTER TABLE problems DROP CONSTRAINT problems_problem_key_key;
ALTER TABLE problems ADD CONSTRAINT problems_key UNIQUE (project_uid, problem_key);
