package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/whospoke/whospoke/api"
)

// Errors of live streams.
var (
	// ErrLimit means the team already has as many active streams as allowed.
	ErrLimit = errors.New("too many concurrent live streams")
	// ErrTokenUsed means a stream's single-use token was presented before.
	ErrTokenUsed = errors.New("stream token already used")
	// ErrTokenExpired means a stream's token was not used in time.
	ErrTokenExpired = errors.New("stream token expired")
)

// StreamStale is how long a running stream may go without a heartbeat
// (TouchStream) before it is taken for lost with its node: it then stops
// counting against its team's limit and the janitor ends it.
const StreamStale = 30 * time.Second

// LiveStream is one live diarization session.
type LiveStream struct {
	ID             string
	TeamID         string
	TokenHash      string // hex SHA-256 of the single-use WebSocket token
	Request        []byte // the validated POST /v1/live body
	Status         string // api.Live…
	Error          string
	Node           string
	AudioSeconds   float64
	CreatedAt      time.Time
	TokenExpiresAt time.Time
	StartedAt      *time.Time
	EndedAt        *time.Time
	SeenAt         time.Time
}

const streamCols = `id, team_id, token_hash, request, status, error, node, audio_seconds,
	created_at, token_expires_at, started_at, ended_at, seen_at`

func scanStream(row interface{ Scan(...any) error }) (LiveStream, error) {
	var (
		l                      LiveStream
		req                    string
		created, expires, seen int64
		started, ended         sql.NullInt64
	)
	if err := row.Scan(&l.ID, &l.TeamID, &l.TokenHash, &req, &l.Status, &l.Error, &l.Node, &l.AudioSeconds,
		&created, &expires, &started, &ended, &seen); err != nil {
		return LiveStream{}, notFound(err)
	}
	l.Request = []byte(req)
	l.CreatedAt, l.TokenExpiresAt, l.SeenAt = fromTS(created), fromTS(expires), fromTS(seen)
	l.StartedAt, l.EndedAt = fromNullTS(started), fromNullTS(ended)
	return l, nil
}

// activeStreams counts a team's streams that hold a slot: running with a
// recent heartbeat and, when withCreated, created with a token still valid
// (creation reserves a slot; starting needs only the running ones below the
// limit, so that a client may create several streams before connecting them).
func (s *sqlStore) activeStreams(ctx context.Context, q querier, teamID, except string, withCreated bool, t time.Time) (int, error) {
	created := ""
	if withCreated {
		created = api.LiveCreated
	}
	var n int
	err := q.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM live_streams
		WHERE team_id = ? AND id <> ? AND (
			(status = ? AND seen_at >= ?) OR (status = ? AND token_expires_at > ?))`),
		teamID, except, api.LiveRunning, ts(t.Add(-StreamStale)), created, ts(t)).Scan(&n)
	return n, err
}

// lockTeam serialises the limit check of one team's concurrent calls on
// PostgreSQL (SQLite transactions here already hold the write lock).
func (s *sqlStore) lockTeam(ctx context.Context, tx *sql.Tx, teamID string) error {
	if !s.pg {
		return nil
	}
	var id string
	return notFound(tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE id = $1 FOR UPDATE`, teamID).Scan(&id))
}

// CreateStream stores a new stream in status created, unless its team has
// limit active streams already (ErrLimit). Zero times mean now.
func (s *sqlStore) CreateStream(ctx context.Context, l LiveStream, limit int) error {
	t := now()
	if l.CreatedAt.IsZero() {
		l.CreatedAt = t
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.lockTeam(ctx, tx, l.TeamID); err != nil {
		return err
	}
	n, err := s.activeStreams(ctx, tx, l.TeamID, "", true, t)
	if err != nil {
		return err
	}
	if n >= limit {
		return ErrLimit
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO live_streams (`+streamCols+`)
		VALUES (?, ?, ?, ?, ?, '', '', 0, ?, ?, NULL, NULL, ?)`),
		l.ID, l.TeamID, l.TokenHash, string(l.Request), api.LiveCreated, ts(l.CreatedAt), ts(l.TokenExpiresAt), ts(t))
	if err != nil {
		return classify(err)
	}
	return tx.Commit()
}

// StartStream redeems a token: stream id, which the token must belong to,
// goes from created to running on node. ErrNotFound for an unknown token or
// one of another stream, ErrTokenUsed,
// ErrTokenExpired, or ErrLimit when the team's other active streams fill its
// limit.
func (s *sqlStore) StartStream(ctx context.Context, id, tokenHash, node string, limit int) (LiveStream, error) {
	t := now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return LiveStream{}, err
	}
	defer tx.Rollback()
	l, err := scanStream(tx.QueryRowContext(ctx, s.q(`SELECT `+streamCols+` FROM live_streams WHERE id = ? AND token_hash = ?`), id, tokenHash))
	if err != nil {
		return LiveStream{}, err
	}
	switch {
	case l.Status != api.LiveCreated:
		return LiveStream{}, ErrTokenUsed
	case !t.Before(l.TokenExpiresAt):
		return LiveStream{}, ErrTokenExpired
	}
	if err := s.lockTeam(ctx, tx, l.TeamID); err != nil {
		return LiveStream{}, err
	}
	n, err := s.activeStreams(ctx, tx, l.TeamID, l.ID, false, t)
	if err != nil {
		return LiveStream{}, err
	}
	if n >= limit {
		return LiveStream{}, ErrLimit
	}
	// The status condition makes the token single-use when two nodes race.
	l, err = scanStream(tx.QueryRowContext(ctx, s.q(`UPDATE live_streams
		SET status = ?, node = ?, started_at = ?, seen_at = ?
		WHERE id = ? AND status = ? RETURNING `+streamCols), api.LiveRunning, node, ts(t), ts(t), l.ID, api.LiveCreated))
	if errors.Is(err, ErrNotFound) {
		return LiveStream{}, ErrTokenUsed
	}
	if err != nil {
		return LiveStream{}, err
	}
	return l, tx.Commit()
}

// TouchStream is a running stream's heartbeat; it records the audio so far.
func (s *sqlStore) TouchStream(ctx context.Context, id string, audioSeconds float64) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE live_streams SET seen_at = ?, audio_seconds = ?
		WHERE id = ? AND status = ?`), ts(now()), audioSeconds, id, api.LiveRunning)
	return affected(res, err)
}

// EndStream moves a running stream to done or error (ErrNotFound if it is
// not running).
func (s *sqlStore) EndStream(ctx context.Context, id, status, msg string, audioSeconds float64) error {
	t := ts(now())
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE live_streams
		SET status = ?, error = ?, audio_seconds = ?, ended_at = ?, seen_at = ?
		WHERE id = ? AND status = ?`), status, msg, audioSeconds, t, t, id, api.LiveRunning)
	return affected(res, err)
}

// Stream returns one of a team's streams.
func (s *sqlStore) Stream(ctx context.Context, teamID, id string) (LiveStream, error) {
	return scanStream(s.r.QueryRowContext(ctx, s.q(`SELECT `+streamCols+` FROM live_streams
		WHERE id = ? AND team_id = ?`), id, teamID))
}

// ExpireStreams ends streams nobody will finish: created ones whose token
// expired unused, and running ones whose node stopped sending heartbeats.
// It returns how many it ended.
func (s *sqlStore) ExpireStreams(ctx context.Context) (int, error) {
	t := now()
	total := 0
	for _, u := range []struct {
		status, cond, msg string
		arg               int64
	}{
		{api.LiveCreated, "token_expires_at <= ?", "The stream's token expired before a client connected", ts(t)},
		{api.LiveRunning, "seen_at < ?", "The stream was lost with the node serving it", ts(t.Add(-StreamStale))},
	} {
		res, err := s.w.ExecContext(ctx, s.q(`UPDATE live_streams SET status = ?, error = ?, ended_at = ?
			WHERE status = ? AND `+u.cond), api.LiveError, u.msg, ts(t), u.status, u.arg)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	return total, nil
}
