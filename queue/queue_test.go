package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func consumeUntil(t *testing.T, q *Queue, want int, handler Handler) map[string]int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := map[string]int{}
	ok := map[string]bool{}
	done := make(chan struct{})
	go func() {
		q.Consume(ctx, context.Background(), 2, func(ctx context.Context, id string) error {
			err := handler(ctx, id)
			mu.Lock()
			seen[id]++
			if err == nil {
				ok[id] = true
			}
			n := len(ok)
			mu.Unlock()
			if n == want {
				cancel()
			}
			return err
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cancel()
		<-done
		t.Fatalf("timed out; handled %v", seen)
	}
	return seen
}

func TestEmbeddedPublishConsume(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, Config{DataDir: t.TempDir(), AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := q.Publish(ctx, fmt.Sprintf("job-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A duplicate publish of one ID is dropped by JetStream's dedup window.
	if err := q.Publish(ctx, "job-0"); err != nil {
		t.Fatal(err)
	}
	// The consumer's pending count trails the publish acks by a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := q.Pending(ctx)
		if err == nil && n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, %v; want 5", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	failedOnce := false
	seen := consumeUntil(t, q, 5, func(ctx context.Context, id string) error {
		if id == "job-3" && !failedOnce {
			failedOnce = true
			return fmt.Errorf("store unavailable")
		}
		return nil
	})
	if len(seen) != 5 || seen["job-3"] != 2 {
		t.Fatalf("handled %v; want 5 jobs, job-3 twice (redelivered after an error)", seen)
	}
	if n, _ := q.Pending(ctx); n != 0 {
		t.Fatalf("pending %d after all acked", n)
	}
}

// A job whose handler outlives AckWait is not redelivered while heartbeats go.
func TestHeartbeatsPreventRedelivery(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, Config{DataDir: t.TempDir(), AckWait: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Publish(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	seen := consumeUntil(t, q, 1, func(ctx context.Context, id string) error {
		time.Sleep(2 * time.Second)
		return nil
	})
	if seen["slow"] != 1 {
		t.Fatalf("slow job handled %d times", seen["slow"])
	}
}

// Two nodes on one external NATS server share the work queue; a job held by
// a node that vanishes without acking is redelivered to the other.
func TestExternalServerRedeliversAbandonedJob(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	ctx := context.Background()
	cfg := Config{URL: srv.ClientURL(), AckWait: time.Second}
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Publish(ctx, "orphan"); err != nil {
		t.Fatal(err)
	}
	// Node A takes the job and dies (connection closed, no ack).
	msg, err := a.cons.Next()
	if err != nil || string(msg.Data()) != "orphan" {
		t.Fatalf("node A fetch: %v", err)
	}
	a.Close()
	seen := consumeUntil(t, b, 1, func(context.Context, string) error { return nil })
	if seen["orphan"] != 1 {
		t.Fatalf("node B handled %v", seen)
	}
}

// A handler that panics does not kill the worker: the job is redelivered.
func TestPanickingHandlerIsRedelivered(t *testing.T) {
	ctx := context.Background()
	q, err := Open(ctx, Config{DataDir: t.TempDir(), AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Publish(ctx, "poison"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	seen := consumeUntil(t, q, 1, func(context.Context, string) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			panic("bad input")
		}
		return nil
	})
	if seen["poison"] != 1 || calls != 2 {
		t.Fatalf("handled %v, %d calls; want one success after one panic", seen, calls)
	}
}

// When heartbeats cannot reach NATS for most of the lease, the job's
// context ends with ErrLeaseLost, so this node stops a job that NATS is
// about to hand to another.
func TestLostHeartbeatsCancelJob(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats not ready")
	}
	ctx := context.Background()
	q, err := Open(ctx, Config{URL: srv.ClientURL(), AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Publish(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	msg, err := q.cons.Next()
	if err != nil {
		t.Fatal(err)
	}
	cause := make(chan error, 1)
	go q.handle(ctx, msg, func(ctx context.Context, _ string) error {
		srv.Shutdown() // NATS goes away mid-job
		select {
		case <-ctx.Done():
			cause <- context.Cause(ctx)
		case <-time.After(20 * time.Second):
			cause <- nil
		}
		return ctx.Err()
	})
	if err := <-cause; !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("job context ended with %v, want ErrLeaseLost", err)
	}
}
