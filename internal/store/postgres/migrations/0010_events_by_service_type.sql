-- Performance (issue 16). An evaluation's baseline search reads the newest
-- evaluation.finished and evaluation.invalidated events of one service in
-- one stage (ListEvents by project, stage, service and type, newest
-- first). The indexes before served it only by project, so the database
-- walked the project's events backwards, every type of every service,
-- until it had enough: for a type with no events (invalidations are rare)
-- that was every event of the project, on every evaluation, and the cost
-- grew with the log. This index answers that query, and any other listing
-- by service and type, from its newest match.
CREATE INDEX events_service_type ON events (project, stage, service, type, seq);
