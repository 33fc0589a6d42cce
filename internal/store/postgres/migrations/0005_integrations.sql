-- Keptn integrations (issue 14): what registered through the uniform API,
-- its subscriptions and its log lines. An integration's id is derived from
-- its name, namespace and node, so a restart registers the same row again.
-- Subscription filters are JSON arrays of names. Logs outlive the
-- integration that wrote them.

CREATE TABLE integrations (
	id                  TEXT PRIMARY KEY,
	name                TEXT NOT NULL,
	project             TEXT NOT NULL,
	hostname            TEXT NOT NULL,
	integration_version TEXT NOT NULL,
	distributor_version TEXT NOT NULL,
	location            TEXT NOT NULL,
	namespace           TEXT NOT NULL,
	pod_name            TEXT NOT NULL,
	deployment_name     TEXT NOT NULL,
	registered_at       BIGINT NOT NULL,
	last_seen           BIGINT NOT NULL
);

CREATE TABLE integration_subscriptions (
	id             TEXT PRIMARY KEY,
	integration_id TEXT NOT NULL,
	position       BIGINT NOT NULL,
	event          TEXT NOT NULL,
	projects       TEXT NOT NULL,
	stages         TEXT NOT NULL,
	services       TEXT NOT NULL
);
CREATE INDEX integration_subscriptions_integration ON integration_subscriptions (integration_id, position);

CREATE TABLE integration_logs (
	seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	integration_id TEXT NOT NULL,
	project        TEXT NOT NULL,
	shkeptncontext TEXT NOT NULL,
	triggeredid    TEXT NOT NULL,
	task           TEXT NOT NULL,
	message        TEXT NOT NULL,
	logged_at      BIGINT NOT NULL
);
CREATE INDEX integration_logs_integration ON integration_logs (integration_id, seq);
CREATE INDEX integration_logs_context ON integration_logs (shkeptncontext, seq);
