package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/whospoke/whospoke/api"
)

//go:embed migrations
var migrations embed.FS

// NewID returns a fresh random identifier, in the form teams and keys use.
func NewID() string { return uuid.NewString() }

// Open opens the store named by dsn and brings its schema up to date.
// "postgres://…" and "postgresql://…" select PostgreSQL; "sqlite://PATH" or a
// plain file path select SQLite, the file being created if missing.
func Open(ctx context.Context, dsn string) (Store, error) {
	var (
		s   *sqlStore
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err = openPostgres(dsn)
	default:
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			return nil, errors.New("store: empty SQLite path")
		}
		s, err = openSQLite(path)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(path string) (*sqlStore, error) {
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as connection parameters.
		return nil, fmt.Errorf("store: SQLite path %q must not contain '?' or '#'", path)
	}
	// busy_timeout makes a writer wait for another process's write lock
	// instead of failing at once; _txlock=immediate takes that lock at BEGIN,
	// so a transaction that reads and then writes cannot deadlock against
	// another process doing the same.
	params := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", path+params+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite admits one writer at a time; queueing writers on one connection
	// in-process is cheaper than having them spin on the busy handler.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", path+params)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// In WAL mode readers run alongside the writer.
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return &sqlStore{w: w, r: r}, nil
}

func openPostgres(dsn string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	// Bound the pool so that several nodes stay under the server's
	// max_connections.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(5)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &sqlStore{w: db, r: db, pg: true}, nil
}

func (s *sqlStore) migrate(ctx context.Context) error {
	var (
		dialect = goose.DialectSQLite3
		dir     = "migrations/sqlite"
		opts    []goose.ProviderOption
	)
	if s.pg {
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		// Nodes starting together take turns migrating.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, s.w, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// sqlStore implements Store over database/sql for both dialects. Queries are
// written with '?' placeholders and rewritten for PostgreSQL.
type sqlStore struct {
	w  *sql.DB // writes (for SQLite, a single connection)
	r  *sql.DB // reads (the same pool as w for PostgreSQL)
	pg bool
}

// q rewrites '?' placeholders to PostgreSQL's $n. No query here has a '?'
// inside a literal.
func (s *sqlStore) q(query string) string {
	if !s.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return err
	}
	return s.r.PingContext(ctx)
}

func (s *sqlStore) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Times are stored as UTC Unix nanoseconds: exact, and compared the same way
// by both databases.
func ts(t time.Time) int64 { return t.UnixNano() }

func fromTS(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullTS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromTS(n.Int64)
	return &t
}

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func now() time.Time { return time.Now().UTC() }

// classify maps constraint violations to the package's errors.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", ErrExists, pe.Message)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %s", ErrNotFound, pe.Message)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %s", ErrExists, se.Error())
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %s", ErrNotFound, se.Error())
		}
	}
	return err
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// Teams and keys.

const teamCols = "id, name, webhook_secret, created_at"

func scanTeam(row interface{ Scan(...any) error }) (Team, error) {
	var (
		t       Team
		created int64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.WebhookSecret, &created); err != nil {
		return Team{}, notFound(err)
	}
	t.CreatedAt = fromTS(created)
	return t, nil
}

func (s *sqlStore) EnsureTeam(ctx context.Context, name string) (Team, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Team{}, err
	}
	// ON CONFLICT makes concurrent EnsureTeam calls agree on one team.
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO teams (`+teamCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), NewID(), name, hex.EncodeToString(secret), ts(now()))
	if err != nil {
		return Team{}, err
	}
	return s.TeamByName(ctx, name)
}

func (s *sqlStore) TeamByName(ctx context.Context, name string) (Team, error) {
	return scanTeam(s.r.QueryRowContext(ctx, s.q(`SELECT `+teamCols+` FROM teams WHERE name = ?`), name))
}

func (s *sqlStore) Team(ctx context.Context, id string) (Team, error) {
	return scanTeam(s.r.QueryRowContext(ctx, s.q(`SELECT `+teamCols+` FROM teams WHERE id = ?`), id))
}

func (s *sqlStore) SetWebhookSecret(ctx context.Context, teamID, secret string) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE teams SET webhook_secret = ? WHERE id = ?`), secret, teamID)
	return affected(res, err)
}

// affected turns "no row matched" into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

const keyCols = "id, team_id, name, hash, prefix, permissions, created_at, revoked_at"

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var (
		k       Key
		perms   string
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.TeamID, &k.Name, &k.Hash, &k.Prefix, &perms, &created, &revoked); err != nil {
		return Key{}, notFound(err)
	}
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return Key{}, fmt.Errorf("store: key %s permissions: %w", k.ID, err)
	}
	k.CreatedAt = fromTS(created)
	k.RevokedAt = fromNullTS(revoked)
	return k, nil
}

// CreateKey stores k. An empty ID is replaced by a fresh one (callers that
// need it should set it with NewID); a zero CreatedAt means now.
func (s *sqlStore) CreateKey(ctx context.Context, k Key) error {
	if k.ID == "" {
		k.ID = NewID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	if k.Permissions == nil {
		k.Permissions = []string{}
	}
	perms, err := json.Marshal(k.Permissions)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, s.q(`INSERT INTO api_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.TeamID, k.Name, k.Hash, k.Prefix, string(perms), ts(k.CreatedAt), nullTS(k.RevokedAt))
	return classify(err)
}

func (s *sqlStore) KeyByHash(ctx context.Context, hash string) (Key, error) {
	return scanKey(s.r.QueryRowContext(ctx, s.q(`SELECT `+keyCols+` FROM api_keys WHERE hash = ?`), hash))
}

func (s *sqlStore) ListKeys(ctx context.Context, teamID string) ([]Key, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+keyCols+` FROM api_keys WHERE team_id = ?
		ORDER BY created_at, id`), teamID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeKey revokes a team's key. Revoking a revoked key keeps its first
// revocation time and succeeds; a key of another team is ErrNotFound.
func (s *sqlStore) RevokeKey(ctx context.Context, teamID, keyID string) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
		WHERE id = ? AND team_id = ?`), ts(now()), keyID, teamID)
	return affected(res, err)
}

// Jobs.

const jobCols = "id, team_id, kind, status, request, output, webhook, webhook_status_only, " +
	"attempts, worker, created_at, updated_at, completed_at"

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var (
		j                 Job
		request           string
		output            sql.NullString
		created, updated  int64
		completed         sql.NullInt64
		webhookStatusOnly bool
	)
	err := row.Scan(&j.ID, &j.TeamID, &j.Kind, &j.Status, &request, &output, &j.Webhook,
		&webhookStatusOnly, &j.Attempts, &j.Worker, &created, &updated, &completed)
	if err != nil {
		return Job{}, notFound(err)
	}
	j.Request = json.RawMessage(request)
	if output.Valid {
		j.Output = json.RawMessage(output.String)
	}
	j.WebhookStatusOnly = webhookStatusOnly
	j.CreatedAt = fromTS(created)
	j.UpdatedAt = fromTS(updated)
	j.CompletedAt = fromNullTS(completed)
	return j, nil
}

// nullJSON stores an absent document as NULL.
func nullJSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// CreateJob stores a new job. An empty Status means api.StatusCreated, zero
// times mean now; ErrExists if the ID is taken, ErrNotFound if the team is
// missing.
func (s *sqlStore) CreateJob(ctx context.Context, j Job) error {
	if j.ID == "" {
		return errors.New("store: job without ID")
	}
	if j.Status == "" {
		j.Status = api.StatusCreated
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = now()
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	if j.CompletedAt == nil && api.Terminal(j.Status) {
		j.CompletedAt = &j.UpdatedAt
	}
	request := string(j.Request)
	if request == "" {
		request = "{}"
	}
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO jobs (`+jobCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		j.ID, j.TeamID, j.Kind, j.Status, request, nullJSON(j.Output), j.Webhook, j.WebhookStatusOnly,
		j.Attempts, j.Worker, ts(j.CreatedAt), ts(j.UpdatedAt), nullTS(j.CompletedAt))
	return classify(err)
}

func (s *sqlStore) Job(ctx context.Context, teamID, id string) (Job, error) {
	if teamID == "" {
		return scanJob(s.r.QueryRowContext(ctx, s.q(`SELECT `+jobCols+` FROM jobs WHERE id = ?`), id))
	}
	return scanJob(s.r.QueryRowContext(ctx, s.q(`SELECT `+jobCols+` FROM jobs WHERE id = ? AND team_id = ?`), id, teamID))
}

// Cursors are the (created_at, id) of the last job of a page, so that a page
// stays stable while new jobs arrive.
func encodeCursor(j Job) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ts(j.CreatedAt), 10) + ":" + j.ID))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrInvalidCursor
	}
	n, id, ok := strings.Cut(string(b), ":")
	if !ok || id == "" {
		return 0, "", ErrInvalidCursor
	}
	created, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, "", ErrInvalidCursor
	}
	return created, id, nil
}

// ListJobs returns a page of a team's jobs, newest first. A Limit outside
// 1–100 is clamped to it, 0 meaning 100; a bad cursor is ErrInvalidCursor.
func (s *sqlStore) ListJobs(ctx context.Context, teamID string, opt ListOptions) ([]Job, string, error) {
	limit := opt.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	query := `SELECT ` + jobCols + ` FROM jobs WHERE team_id = ?`
	args := []any{teamID}
	if opt.Status != "" {
		query += ` AND status = ?`
		args = append(args, opt.Status)
	}
	if opt.Cursor != "" {
		created, id, err := decodeCursor(opt.Cursor)
		if err != nil {
			return nil, "", err
		}
		query += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, created, created, id)
	}
	// One extra row tells whether there is a next page.
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, "", err
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(jobs) > limit {
		jobs = jobs[:limit]
		next = encodeCursor(jobs[limit-1])
	}
	return jobs, next, nil
}

// terminalStatuses is the SQL list of api.Terminal's statuses.
var terminalStatuses = "'" + api.StatusSucceeded + "', '" + api.StatusFailed + "', '" + api.StatusCanceled + "'"

// jobGone tells why a conditional job update matched nothing.
func (s *sqlStore) jobGone(ctx context.Context, q querier, id string) error {
	var status string
	err := q.QueryRowContext(ctx, s.q(`SELECT status FROM jobs WHERE id = ?`), id).Scan(&status)
	if err != nil {
		return notFound(err)
	}
	return ErrTerminal
}

func (s *sqlStore) StartJob(ctx context.Context, id, worker string) (Job, error) {
	t := ts(now())
	j, err := scanJob(s.w.QueryRowContext(ctx, s.q(`UPDATE jobs
		SET status = ?, worker = ?, attempts = attempts + 1, updated_at = ?
		WHERE id = ? AND status NOT IN (`+terminalStatuses+`)
		RETURNING `+jobCols), api.StatusRunning, worker, t, id))
	if errors.Is(err, ErrNotFound) {
		return Job{}, s.jobGone(ctx, s.w, id)
	}
	return j, err
}

// ReleaseJob takes back the attempt StartJob counted; a finished job is left alone.
func (s *sqlStore) ReleaseJob(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, s.q(`UPDATE jobs SET attempts = attempts - 1, updated_at = ?
		WHERE id = ? AND status = ? AND attempts > 0`), ts(now()), id, api.StatusRunning)
	return err
}

// FinishJob sets a terminal status. The status condition in the UPDATE is
// what makes it safe: of two racing callers the database lets exactly one
// match the row. d, if given, gets its ID, JobID and (if empty) TeamID,
// Status (pending), NextAt and CreatedAt (now) filled in.
func (s *sqlStore) FinishJob(ctx context.Context, id, status string, output json.RawMessage, d *Delivery) (Job, error) {
	if !api.Terminal(status) {
		return Job{}, fmt.Errorf("store: FinishJob with non-terminal status %q", status)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Job{}, err
	}
	defer tx.Rollback()
	t := now()
	j, err := scanJob(tx.QueryRowContext(ctx, s.q(`UPDATE jobs
		SET status = ?, output = ?, updated_at = ?, completed_at = ?
		WHERE id = ? AND status NOT IN (`+terminalStatuses+`)
		RETURNING `+jobCols), status, nullJSON(output), ts(t), ts(t), id))
	if errors.Is(err, ErrNotFound) {
		return Job{}, s.jobGone(ctx, tx, id)
	}
	if err != nil {
		return Job{}, err
	}
	if d != nil {
		d.JobID = j.ID
		if d.TeamID == "" {
			d.TeamID = j.TeamID
		}
		if err := s.insertDelivery(ctx, tx, d, t); err != nil {
			return Job{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Job{}, err
	}
	return j, nil
}

func (s *sqlStore) PurgeOutputs(ctx context.Context, before time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE jobs SET output = NULL
		WHERE completed_at < ? AND output IS NOT NULL`), ts(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (s *sqlStore) CountJobs(ctx context.Context) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM jobs GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		counts[status] = n
	}
	return counts, rows.Err()
}

// Webhook deliveries.

const deliveryCols = "id, job_id, team_id, url, body, attempt, next_at, status, last_error, created_at"

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var (
		d               Delivery
		next, createdAt int64
	)
	err := row.Scan(&d.ID, &d.JobID, &d.TeamID, &d.URL, &d.Body, &d.Attempt, &next, &d.Status, &d.LastError, &createdAt)
	if err != nil {
		return Delivery{}, notFound(err)
	}
	d.NextAt = fromTS(next)
	d.CreatedAt = fromTS(createdAt)
	return d, nil
}

func (s *sqlStore) insertDelivery(ctx context.Context, q querier, d *Delivery, t time.Time) error {
	if d.Status == "" {
		d.Status = DeliveryPending
	}
	if d.NextAt.IsZero() {
		d.NextAt = t
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = t
	}
	if d.Body == nil {
		d.Body = []byte{}
	}
	err := q.QueryRowContext(ctx, s.q(`INSERT INTO webhook_deliveries
		(job_id, team_id, url, body, attempt, next_at, status, last_error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		d.JobID, d.TeamID, d.URL, d.Body, d.Attempt, ts(d.NextAt), d.Status, d.LastError, ts(d.CreatedAt)).Scan(&d.ID)
	return classify(err)
}

// ClaimDeliveries leases due deliveries in one statement, at most
// opt.PerTeam of each team (oldest first). On PostgreSQL SKIP LOCKED lets
// nodes claiming at once take disjoint sets instead of waiting on each
// other, and the outer next_at condition, rechecked on a row another claim
// just leased, keeps it from being taken twice; on SQLite the statement
// holds the write lock.
func (s *sqlStore) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, opt ClaimOptions) ([]Delivery, error) {
	if opt.Limit <= 0 {
		return nil, nil
	}
	perTeam := opt.PerTeam
	if perTeam <= 0 {
		perTeam = opt.Limit
	}
	skip, lock := "", ""
	args := []any{ts(now.Add(lease)), DeliveryPending, ts(now)}
	if len(opt.SkipTeams) > 0 {
		skip = " AND team_id NOT IN (?" + strings.Repeat(", ?", len(opt.SkipTeams)-1) + ")"
		for _, t := range opt.SkipTeams {
			args = append(args, t)
		}
	}
	if s.pg {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	args = append(args, perTeam, opt.Limit, ts(now))
	rows, err := s.w.QueryContext(ctx, s.q(`UPDATE webhook_deliveries SET next_at = ?
		WHERE id IN (SELECT id FROM (
				SELECT id, next_at, ROW_NUMBER() OVER (PARTITION BY team_id ORDER BY next_at, id) AS rn
				FROM (SELECT id, team_id, next_at FROM webhook_deliveries
					WHERE status = ? AND next_at <= ?`+skip+lock+`) due
			) ranked WHERE rn <= ? ORDER BY next_at, id LIMIT ?)
		AND next_at <= ?
		RETURNING `+deliveryCols), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// RETURNING has no defined order; oldest first is the natural one.
	sort.Slice(ds, func(i, k int) bool { return ds[i].ID < ds[k].ID })
	return ds, nil
}

// UpdateDelivery records the outcome of an attempt: Attempt, NextAt, Status
// and LastError of d.ID.
func (s *sqlStore) UpdateDelivery(ctx context.Context, d Delivery) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE webhook_deliveries
		SET attempt = ?, next_at = ?, status = ?, last_error = ? WHERE id = ?`),
		d.Attempt, ts(d.NextAt), d.Status, d.LastError, d.ID)
	return affected(res, err)
}

func (s *sqlStore) Deliveries(ctx context.Context, jobID string) ([]Delivery, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+deliveryCols+` FROM webhook_deliveries
		WHERE job_id = ? ORDER BY id`), jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}
