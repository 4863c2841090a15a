// Package queue is whospoke's job queue: a NATS JetStream work queue of job
// IDs, either on an in-process embedded NATS server (the single-binary
// default) or on an external NATS cluster shared by many nodes. A job is
// acknowledged only after its result is stored, so a job whose worker dies is
// redelivered to another one.
package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the stream, its subject and the workers' shared consumer.
const (
	StreamName   = "WHOSPOKE_JOBS"
	Subject      = "whospoke.jobs"
	ConsumerName = "workers"
)

// Config selects the NATS server and the redelivery timing.
type Config struct {
	// URL of an external NATS server or cluster; "" starts an embedded one.
	URL string
	// DataDir holds the embedded server's JetStream files (required when URL is "").
	DataDir string
	// AckWait is how long a started job may go without a heartbeat before it
	// is redelivered (default 30 s; workers send heartbeats every AckWait/3).
	AckWait time.Duration
	// Replicas of the stream on a cluster (default 1).
	Replicas int
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.URL == "" && c.DataDir == "" {
		return errors.New("queue: an embedded NATS server needs a data directory")
	}
	if c.AckWait < 0 || c.Replicas < 0 {
		return errors.New("queue: AckWait and Replicas must not be negative")
	}
	return nil
}

// Queue is a connection to the job queue.
type Queue struct {
	cfg  Config
	srv  *server.Server // nil when external
	nc   *nats.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer
}

// Open connects to (or starts) NATS and makes sure the stream and the
// consumer exist.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	q := &Queue{cfg: cfg}
	var err error
	if cfg.URL == "" {
		if q.srv, err = startEmbedded(cfg.DataDir); err != nil {
			return nil, err
		}
		q.nc, err = nats.Connect("", nats.InProcessServer(q.srv), nats.Name("whospoke"))
	} else {
		q.nc, err = nats.Connect(cfg.URL, nats.Name("whospoke"), nats.MaxReconnects(-1))
	}
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("queue: connect to NATS: %w", err)
	}
	if q.js, err = jetstream.New(q.nc); err != nil {
		q.Close()
		return nil, fmt.Errorf("queue: JetStream: %w", err)
	}
	if _, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      StreamName,
		Subjects:  []string{Subject},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		Replicas:  cfg.Replicas,
	}); err != nil {
		q.Close()
		return nil, fmt.Errorf("queue: create stream: %w", err)
	}
	if q.cons, err = q.js.CreateOrUpdateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: 10000,
	}); err != nil {
		q.Close()
		return nil, fmt.Errorf("queue: create consumer: %w", err)
	}
	return q, nil
}

func startEmbedded(dir string) (*server.Server, error) {
	dir = filepath.Join(dir, "nats")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "whospoke-embedded",
		JetStream:  true,
		StoreDir:   dir,
		DontListen: true, // in-process connections only: nothing else to secure
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("queue: embedded NATS did not start")
	}
	return srv, nil
}

// Publish queues a job. It returns once JetStream has stored the message.
func (q *Queue) Publish(ctx context.Context, jobID string) error {
	// The job ID as message ID lets JetStream drop an accidental double publish.
	_, err := q.js.Publish(ctx, Subject, []byte(jobID), jetstream.WithMsgID(jobID))
	if err != nil {
		return fmt.Errorf("queue: publish: %w", err)
	}
	return nil
}

// Pending returns how many jobs wait for a worker. NATS updates the count
// just after a publish is acknowledged, so it may trail by a moment.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	info, err := q.cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.NumPending), nil
}

// Ping checks that NATS answers.
func (q *Queue) Ping(ctx context.Context) error {
	if !q.nc.IsConnected() {
		return errors.New("queue: not connected to NATS")
	}
	_, err := q.js.AccountInfo(ctx)
	return err
}

// Handler runs one job. It returns nil once the job's outcome is stored (the
// message is then acknowledged), or an error to have the job redelivered.
type Handler func(ctx context.Context, jobID string) error

// Consume runs handler for queued jobs on `workers` goroutines until ctx is
// done. A job being handled when ctx ends keeps its own context (jobCtx)
// until the handler returns; Consume returns after every handler has.
func (q *Queue) Consume(ctx, jobCtx context.Context, workers int, handler Handler) {
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				msg, err := q.cons.Next(jetstream.FetchContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						// NATS briefly unavailable: don't spin.
						select {
						case <-ctx.Done():
						case <-time.After(time.Second):
						}
					}
					continue
				}
				q.handle(jobCtx, msg, handler)
			}
		}()
	}
	wg.Wait()
}

// ErrLeaseLost is the cause of a job context canceled because its
// heartbeats failed for so long that NATS may have redelivered the job to
// another worker: stopping here keeps it from running twice.
var ErrLeaseLost = errors.New("queue: heartbeats failed; job lease lost")

func (q *Queue) handle(ctx context.Context, msg jetstream.Msg, handler Handler) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() { // heartbeats keep a long job from being redelivered while it runs
		defer cancel(nil)
		t := time.NewTicker(q.cfg.AckWait / 3)
		defer t.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// While NATS reconnects, a publish is buffered and "succeeds":
				// only a connected heartbeat counts.
				if q.nc.IsConnected() && msg.InProgress() == nil {
					lastOK = time.Now()
				} else if time.Since(lastOK) >= q.cfg.AckWait*2/3 {
					// A failed heartbeat is retried at the next tick; two
					// in a row leave too little of the lease to go on.
					cancel(ErrLeaseLost)
					return
				}
			}
		}
	}()
	err := runSafe(ctx, msg, handler)
	close(done)
	if err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// runSafe runs handler, turning a panic into an error (the job is
// redelivered, and its attempts cap ends it) instead of a dead process.
func runSafe(ctx context.Context, msg jetstream.Msg, handler Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("queue: handler panicked: %v", v)
		}
	}()
	return handler(ctx, string(msg.Data()))
}

// Close disconnects and stops the embedded server, if any.
func (q *Queue) Close() {
	if q.nc != nil {
		q.nc.Close()
	}
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv.WaitForShutdown()
	}
}
