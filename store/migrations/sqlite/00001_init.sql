-- SQLite flavour of the schema. It must stay column-for-column identical to
-- ../postgres/00001_init.sql; only the auto-increment key and the binary
-- type are spelled differently. Times are UTC Unix nanoseconds (BIGINT), so
-- that both databases store and compare them the same way.

-- +goose Up
CREATE TABLE teams (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    webhook_secret TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    permissions TEXT NOT NULL, -- JSON array of strings
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_team ON api_keys (team_id, created_at, id);

CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    team_id             TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL,
    request             TEXT NOT NULL,
    output              TEXT,
    webhook             TEXT NOT NULL DEFAULT '',
    webhook_status_only BOOLEAN NOT NULL DEFAULT FALSE,
    attempts            INTEGER NOT NULL DEFAULT 0,
    worker              TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    completed_at        BIGINT
);
CREATE INDEX jobs_team_created ON jobs (team_id, created_at, id);
CREATE INDEX jobs_team_status_created ON jobs (team_id, status, created_at, id);
CREATE INDEX jobs_status ON jobs (status);
CREATE INDEX jobs_purgeable ON jobs (completed_at) WHERE output IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    body       BLOB NOT NULL,
    attempt    INTEGER NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    status     TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE jobs;
DROP TABLE api_keys;
DROP TABLE teams;
