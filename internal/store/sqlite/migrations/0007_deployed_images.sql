-- Deployed images (issue 15). DeployedImages reads a project's newest
-- deployment, release and rollback finished events on every project
-- board, service list and Keptn project answer. Without an index it read
-- every event of the project; this partial index holds only those three
-- types, so the event intake pays for it only when one of them arrives.
-- The query repeats the predicate with the same literals, which lets
-- both databases use the index.
CREATE INDEX events_delivery ON events (project, seq)
	WHERE type IN ('sh.keptn.event.deployment.finished', 'sh.keptn.event.release.finished', 'sh.keptn.event.rollback.finished');
