-- Performance (issue 16). GetProblemByKey finds a key's record in the
-- current generation of its project with a condition correlated on the
-- row's own project, which the (project_uid, problem_key) constraint
-- cannot serve: without an index on the key alone, every lookup read the
-- whole table, and the intake's deduplication slowed as problems
-- accumulated.
CREATE INDEX problems_by_key ON problems (problem_key);
