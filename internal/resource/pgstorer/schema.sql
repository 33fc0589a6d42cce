-- Git repositories of tend projects, shared by every tend replica.
-- Objects are stored uncompressed; PostgreSQL compresses large values itself.
CREATE TABLE IF NOT EXISTS git_repositories (
    project    text PRIMARY KEY,
    config     bytea,
    shallow    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS git_objects (
    project text     NOT NULL REFERENCES git_repositories (project) ON DELETE CASCADE,
    hash    bytea    NOT NULL,
    type    smallint NOT NULL,
    size    bigint   NOT NULL,
    data    bytea    NOT NULL,
    PRIMARY KEY (project, hash)
);

CREATE TABLE IF NOT EXISTS git_references (
    project text NOT NULL REFERENCES git_repositories (project) ON DELETE CASCADE,
    name    text NOT NULL,
    target  text NOT NULL,
    PRIMARY KEY (project, name)
);
