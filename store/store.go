// Package store keeps whospoke's durable state — teams, API keys, jobs,
// queued webhook deliveries and live streams — in SQLite (the embedded
// default) or PostgreSQL, one schema for both, migrated with goose.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	// ErrTerminal means a job is already succeeded, failed or canceled and
	// cannot change again.
	ErrTerminal = errors.New("job already finished")
	ErrExists   = errors.New("already exists")
	// ErrInvalidCursor means a ListJobs cursor was not issued by ListJobs.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// Team owns keys, jobs and media.
type Team struct {
	ID            string
	Name          string
	WebhookSecret string // hex; signs webhook deliveries
	CreatedAt     time.Time
}

// Key is an API key. Only its SHA-256 hash is stored.
type Key struct {
	ID          string
	TeamID      string
	Name        string
	Hash        string // hex SHA-256 of the secret
	Prefix      string // first characters of the secret, to recognise it in lists
	Permissions []string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// Job is one asynchronous request and its result.
type Job struct {
	ID                string
	TeamID            string
	Kind              string          // api.KindDiarize, …
	Status            string          // api.Status…
	Request           json.RawMessage // the validated request body
	Output            json.RawMessage // nil until finished; nil again after retention
	Webhook           string
	WebhookStatusOnly bool
	Attempts          int    // how many times a worker started it
	Worker            string // the node that last started it
	CreatedAt         time.Time
	UpdatedAt         time.Time
	CompletedAt       *time.Time
}

// Delivery is one queued webhook POST. It lives in the store so that it
// survives a restart.
type Delivery struct {
	ID        int64
	JobID     string
	TeamID    string
	URL       string
	Body      []byte
	Attempt   int // deliveries made so far (0 = none yet)
	NextAt    time.Time
	Status    string // DeliveryPending, DeliveryDone, DeliveryFailed
	LastError string
	CreatedAt time.Time
}

// Delivery statuses.
const (
	DeliveryPending = "pending"
	DeliveryDone    = "delivered"
	DeliveryFailed  = "failed"
)

// ClaimOptions bound a claim of webhook deliveries so that no team takes
// every slot: a team with a backlog of slow receivers must not hold back
// the others' webhooks.
type ClaimOptions struct {
	Limit     int      // deliveries in all
	PerTeam   int      // most of one team's (0 = no bound)
	SkipTeams []string // teams to leave out (already busy on this node)
}

// ListOptions select a page of a team's jobs, newest first.
type ListOptions struct {
	Status string // "" = any
	Cursor string // opaque, from a previous page; "" = first page
	Limit  int    // 1–100
}

// Store is whospoke's durable state. Every method is safe for concurrent use,
// also across processes sharing one database.
type Store interface {
	// Teams and keys.
	EnsureTeam(ctx context.Context, name string) (Team, error) // creates it, with a fresh webhook secret, if missing
	TeamByName(ctx context.Context, name string) (Team, error)
	Team(ctx context.Context, id string) (Team, error)
	SetWebhookSecret(ctx context.Context, teamID, secret string) error
	CreateKey(ctx context.Context, k Key) error
	// KeyByHash finds an unrevoked or revoked key by hash; callers check RevokedAt.
	KeyByHash(ctx context.Context, hash string) (Key, error)
	ListKeys(ctx context.Context, teamID string) ([]Key, error)
	RevokeKey(ctx context.Context, teamID, keyID string) error

	// Jobs.
	CreateJob(ctx context.Context, j Job) error
	// Job returns a job; teamID "" means any team (workers).
	Job(ctx context.Context, teamID, id string) (Job, error)
	// ListJobs returns a page and the cursor of the next one ("" when none).
	ListJobs(ctx context.Context, teamID string, opt ListOptions) ([]Job, string, error)
	// StartJob marks a non-terminal job running on worker and counts the
	// attempt; ErrTerminal if it has finished.
	StartJob(ctx context.Context, id, worker string) (Job, error)
	// ReleaseJob hands a running job back uncounted (its worker stopped
	// cleanly, e.g. at shutdown): the attempt StartJob counted is taken back,
	// so that only attempts that ended in a crash count toward the cap.
	ReleaseJob(ctx context.Context, id string) error
	// FinishJob sets a terminal status and output, only if the job is not
	// terminal yet (ErrTerminal otherwise): two workers never both finish one.
	// When d is not nil the delivery is queued in the same transaction.
	FinishJob(ctx context.Context, id, status string, output json.RawMessage, d *Delivery) (Job, error)
	// PurgeOutputs drops the outputs of jobs completed before t; it returns how many.
	PurgeOutputs(ctx context.Context, before time.Time) (int, error)
	// CountJobs counts jobs by status (for metrics).
	CountJobs(ctx context.Context) (map[string]int, error)

	// Webhook deliveries.
	// ClaimDeliveries returns pending deliveries due at now (see
	// ClaimOptions) and pushes their NextAt by lease, so that another node
	// does not take them meanwhile.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, opt ClaimOptions) ([]Delivery, error)
	UpdateDelivery(ctx context.Context, d Delivery) error
	Deliveries(ctx context.Context, jobID string) ([]Delivery, error)

	// Live streams (see LiveStream). limit is the most active streams a
	// team may hold; the check and the change are one transaction.
	CreateStream(ctx context.Context, l LiveStream, limit int) error
	StartStream(ctx context.Context, id, tokenHash, node string, limit int) (LiveStream, error)
	TouchStream(ctx context.Context, id string, audioSeconds float64) error
	EndStream(ctx context.Context, id, status, msg string, audioSeconds float64) error
	Stream(ctx context.Context, teamID, id string) (LiveStream, error)
	ExpireStreams(ctx context.Context) (int, error)

	Ping(ctx context.Context) error
	Close() error
}
