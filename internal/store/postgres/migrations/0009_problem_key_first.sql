-- Performance (issue 16). The problem key comes first in the unique key,
-- (problem_key, project_uid) instead of (project_uid, problem_key), so the
-- one index both enforces uniqueness and serves GetProblemByKey's lookup
-- by key, and problems_by_key (0006), which only served that lookup, is
-- dropped: every new problem updates one index fewer. No query used the
-- old order's leading project_uid.
ALTER TABLE problems DROP CONSTRAINT problems_key;
ALTER TABLE problems ADD CONSTRAINT problems_key UNIQUE (problem_key, project_uid);
DROP INDEX problems_by_key;
