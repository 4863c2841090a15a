-- Live streams (POST /v1/live). Identical in both dialects. The token is
-- stored hashed and is single-use: a stream leaves 'created' exactly once.
-- seen_at is the serving node's heartbeat, so a stream whose node died stops
-- counting against its team's concurrency limit.

-- +goose Up
CREATE TABLE live_streams (
    id               TEXT PRIMARY KEY,
    team_id          TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    request          TEXT NOT NULL,
    status           TEXT NOT NULL,
    error            TEXT NOT NULL DEFAULT '',
    node             TEXT NOT NULL DEFAULT '',
    audio_seconds    DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    token_expires_at BIGINT NOT NULL,
    started_at       BIGINT,
    ended_at         BIGINT,
    seen_at          BIGINT NOT NULL
);
CREATE INDEX live_streams_team_status ON live_streams (team_id, status);
CREATE INDEX live_streams_status_seen ON live_streams (status, seen_at);

-- +goose Down
DROP TABLE live_streams;
