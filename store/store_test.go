package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/internal/pgtest"
)

// opener gives each subtest a fresh, empty store; dsn returns the DSN it
// was opened with, so that a test can open a second "process" on it.
type opener func(t *testing.T) (Store, string)

func openDSN(t *testing.T, dsn string) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	testStore(t, func(t *testing.T) (Store, string) {
		dsn := "sqlite://" + filepath.Join(t.TempDir(), "whospoke.db")
		return openDSN(t, dsn), dsn
	})
}

func TestPostgres(t *testing.T) {
	server := pgtest.Start(t)
	testStore(t, func(t *testing.T) (Store, string) {
		dsn := pgtest.CreateDatabase(t, server)
		return openDSN(t, dsn), dsn
	})
}

func TestOpenPlainPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain.db")
	s := openDSN(t, path)
	if _, err := s.EnsureTeam(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening migrates nothing and sees the data.
	s = openDSN(t, "sqlite://"+path)
	if _, err := s.TeamByName(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
}

func testStore(t *testing.T, open opener) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, opener)
	}{
		{"Ping", testPing},
		{"Teams", testTeams},
		{"Keys", testKeys},
		{"Jobs", testJobs},
		{"Times", testTimes},
		{"FinishRace", testFinishRace},
		{"FinishRaceAcrossProcesses", testFinishRaceAcrossProcesses},
		{"ListJobs", testListJobs},
		{"CountJobs", testCountJobs},
		{"Purge", testPurge},
		{"Deliveries", testDeliveries},
		{"ClaimConcurrent", testClaimConcurrent},
		{"ClaimFair", testClaimFair},
		{"Reopen", testReopen},
		{"LiveStreams", testLiveStreams},
		{"StartStreamRace", testStartStreamRace},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open) })
	}
}

var ctx = context.Background()

// must(f()).get(t) is f's result, or the test fails with f's error.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// must2 is must for two results.
func must2[A, B any](a A, b B, err error) result2[A, B] { return result2[A, B]{a, b, err} }

type result2[A, B any] struct {
	a   A
	b   B
	err error
}

func (r result2[A, B]) get(t *testing.T) (A, B) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.a, r.b
}

func isUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Errorf("%s in %v, want UTC", what, tm.Location())
	}
	if tm.IsZero() {
		t.Errorf("%s is zero", what)
	}
}

func testPing(t *testing.T, open opener) {
	s, _ := open(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func testTeams(t *testing.T, open opener) {
	s, _ := open(t)
	if _, err := s.TeamByName(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TeamByName(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Team(ctx, NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Team(missing) = %v, want ErrNotFound", err)
	}
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	if team.ID == "" || team.Name != "acme" {
		t.Fatalf("EnsureTeam = %+v", team)
	}
	if b, err := hex.DecodeString(team.WebhookSecret); err != nil || len(b) != 32 {
		t.Fatalf("webhook secret %q is not 32 bytes of hex", team.WebhookSecret)
	}
	isUTC(t, "CreatedAt", team.CreatedAt)
	if again := must(s.EnsureTeam(ctx, "acme")).get(t); again != team {
		t.Fatalf("second EnsureTeam = %+v, want %+v", again, team)
	}
	if other := must(s.EnsureTeam(ctx, "other")).get(t); other.ID == team.ID || other.WebhookSecret == team.WebhookSecret {
		t.Fatalf("two teams share ID or secret: %+v %+v", team, other)
	}
	if got := must(s.Team(ctx, team.ID)).get(t); got != team {
		t.Fatalf("Team = %+v, want %+v", got, team)
	}
	if err := s.SetWebhookSecret(ctx, team.ID, "beef"); err != nil {
		t.Fatal(err)
	}
	if got := must(s.TeamByName(ctx, "acme")).get(t); got.WebhookSecret != "beef" {
		t.Fatalf("secret after SetWebhookSecret = %q", got.WebhookSecret)
	}
	if err := s.SetWebhookSecret(ctx, NewID(), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetWebhookSecret(missing) = %v, want ErrNotFound", err)
	}

	// Racing EnsureTeam calls agree on one team.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			tm, err := s.EnsureTeam(ctx, "racy")
			ids[i], errs[i] = tm.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("racing EnsureTeam: %v %v", ids, errs)
		}
	}
}

func testKeys(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	other := must(s.EnsureTeam(ctx, "other")).get(t)
	if _, err := s.KeyByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KeyByHash(missing) = %v, want ErrNotFound", err)
	}
	if keys := must(s.ListKeys(ctx, team.ID)).get(t); len(keys) != 0 {
		t.Fatalf("ListKeys of new team = %v", keys)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	k1 := Key{ID: NewID(), TeamID: team.ID, Name: "ci", Hash: "h1", Prefix: "sk_ab",
		Permissions: []string{"jobs:read", "jobs:write"}, CreatedAt: t0}
	k2 := Key{ID: NewID(), TeamID: team.ID, Name: "dev", Hash: "h2", Prefix: "sk_cd", CreatedAt: t0.Add(time.Second)}
	k3 := Key{ID: NewID(), TeamID: other.ID, Name: "x", Hash: "h3", Prefix: "sk_ef"}
	for _, k := range []Key{k2, k1, k3} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	dup := k1
	dup.ID = NewID()
	if err := s.CreateKey(ctx, dup); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateKey(same hash) = %v, want ErrExists", err)
	}
	if err := s.CreateKey(ctx, Key{ID: NewID(), TeamID: NewID(), Hash: "h4"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CreateKey(missing team) = %v, want ErrNotFound", err)
	}

	got := must(s.KeyByHash(ctx, "h1")).get(t)
	if got.ID != k1.ID || got.TeamID != team.ID || got.Name != "ci" || got.Prefix != "sk_ab" ||
		fmt.Sprint(got.Permissions) != fmt.Sprint(k1.Permissions) || !got.CreatedAt.Equal(t0) || got.RevokedAt != nil {
		t.Fatalf("KeyByHash = %+v, want %+v", got, k1)
	}
	isUTC(t, "CreatedAt", got.CreatedAt)
	if got := must(s.KeyByHash(ctx, "h3")).get(t); got.Permissions == nil || len(got.Permissions) != 0 || got.CreatedAt.IsZero() {
		t.Fatalf("defaults of key without permissions or time: %+v", got)
	}

	keys := must(s.ListKeys(ctx, team.ID)).get(t)
	if len(keys) != 2 || keys[0].ID != k1.ID || keys[1].ID != k2.ID {
		t.Fatalf("ListKeys = %+v, want k1, k2", keys)
	}

	if err := s.RevokeKey(ctx, other.ID, k1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RevokeKey(other team) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, team.ID, NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RevokeKey(missing) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, team.ID, k1.ID); err != nil {
		t.Fatal(err)
	}
	revoked := must(s.KeyByHash(ctx, "h1")).get(t)
	if revoked.RevokedAt == nil {
		t.Fatal("RevokedAt nil after RevokeKey")
	}
	isUTC(t, "RevokedAt", *revoked.RevokedAt)
	if err := s.RevokeKey(ctx, team.ID, k1.ID); err != nil {
		t.Fatalf("second RevokeKey: %v", err)
	}
	if again := must(s.KeyByHash(ctx, "h1")).get(t); !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("second RevokeKey moved RevokedAt from %v to %v", revoked.RevokedAt, again.RevokedAt)
	}
	if k := must(s.KeyByHash(ctx, "h2")).get(t); k.RevokedAt != nil {
		t.Fatal("revoking k1 revoked k2")
	}
}

func newJob(teamID string) Job {
	return Job{ID: NewID(), TeamID: teamID, Kind: api.KindDiarize,
		Request: json.RawMessage(`{"url":"https://example.com/a.wav"}`),
		Webhook: "https://example.com/hook", WebhookStatusOnly: true}
}

func testJobs(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	other := must(s.EnsureTeam(ctx, "other")).get(t)

	j := newJob(team.ID)
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateJob(ctx, j); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateJob(same ID) = %v, want ErrExists", err)
	}
	if err := s.CreateJob(ctx, newJob(NewID())); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CreateJob(missing team) = %v, want ErrNotFound", err)
	}

	got := must(s.Job(ctx, team.ID, j.ID)).get(t)
	if got.ID != j.ID || got.TeamID != team.ID || got.Kind != api.KindDiarize || got.Status != api.StatusCreated ||
		string(got.Request) != string(j.Request) || got.Output != nil || got.Webhook != j.Webhook ||
		!got.WebhookStatusOnly || got.Attempts != 0 || got.Worker != "" || got.CompletedAt != nil {
		t.Fatalf("Job = %+v", got)
	}
	isUTC(t, "CreatedAt", got.CreatedAt)
	if !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Fatalf("UpdatedAt %v != CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	if _, err := s.Job(ctx, "", j.ID); err != nil {
		t.Fatalf("Job(any team) = %v", err)
	}
	if _, err := s.Job(ctx, other.ID, j.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Job(other team) = %v, want ErrNotFound", err)
	}
	if _, err := s.Job(ctx, "", NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Job(missing) = %v, want ErrNotFound", err)
	}

	started := must(s.StartJob(ctx, j.ID, "node-1")).get(t)
	if started.Status != api.StatusRunning || started.Worker != "node-1" || started.Attempts != 1 {
		t.Fatalf("StartJob = %+v", started)
	}
	if started.UpdatedAt.Before(got.UpdatedAt) {
		t.Fatal("StartJob did not move UpdatedAt forward")
	}
	// A second worker picking up the job (after a crash) counts another attempt.
	started = must(s.StartJob(ctx, j.ID, "node-2")).get(t)
	if started.Worker != "node-2" || started.Attempts != 2 {
		t.Fatalf("second StartJob = %+v", started)
	}
	// A clean hand-back (shutdown) takes its attempt back; a crash would not.
	if err := s.ReleaseJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	started = must(s.StartJob(ctx, j.ID, "node-2")).get(t)
	if started.Attempts != 2 {
		t.Fatalf("StartJob after ReleaseJob: attempts = %d, want 2", started.Attempts)
	}
	if _, err := s.StartJob(ctx, NewID(), "node-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("StartJob(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.FinishJob(ctx, j.ID, api.StatusRunning, nil, nil); err == nil {
		t.Fatal("FinishJob with a non-terminal status succeeded")
	}

	out := json.RawMessage(`{"diarization":[]}`)
	done := must(s.FinishJob(ctx, j.ID, api.StatusSucceeded, out, nil)).get(t)
	if done.Status != api.StatusSucceeded || string(done.Output) != string(out) || done.CompletedAt == nil ||
		done.Attempts != 2 || done.Worker != "node-2" {
		t.Fatalf("FinishJob = %+v", done)
	}
	isUTC(t, "CompletedAt", *done.CompletedAt)
	if got := must(s.Job(ctx, team.ID, j.ID)).get(t); string(got.Output) != string(out) || got.Status != api.StatusSucceeded {
		t.Fatalf("Job after FinishJob = %+v", got)
	}
	if _, err := s.FinishJob(ctx, j.ID, api.StatusFailed, nil, nil); !errors.Is(err, ErrTerminal) {
		t.Fatalf("second FinishJob = %v, want ErrTerminal", err)
	}
	if _, err := s.StartJob(ctx, j.ID, "node-3"); !errors.Is(err, ErrTerminal) {
		t.Fatalf("StartJob(finished) = %v, want ErrTerminal", err)
	}
	if _, err := s.FinishJob(ctx, NewID(), api.StatusFailed, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FinishJob(missing) = %v, want ErrNotFound", err)
	}
	if got := must(s.Job(ctx, "", j.ID)).get(t); got.Status != api.StatusSucceeded || got.Worker != "node-2" {
		t.Fatalf("refused calls changed the job: %+v", got)
	}

	// A pending job can be canceled without ever starting, with no output.
	c := newJob(team.ID)
	c.Status = api.StatusPending
	if err := s.CreateJob(ctx, c); err != nil {
		t.Fatal(err)
	}
	canceled := must(s.FinishJob(ctx, c.ID, api.StatusCanceled, nil, nil)).get(t)
	if canceled.Status != api.StatusCanceled || canceled.Output != nil || canceled.Attempts != 0 {
		t.Fatalf("canceled = %+v", canceled)
	}
}

func testTimes(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	loc := time.FixedZone("UTC+5", 5*3600)
	created := time.Date(2024, 2, 29, 23, 59, 59, 987654321, loc)
	j := newJob(team.ID)
	j.CreatedAt, j.UpdatedAt = created, created.Add(time.Millisecond)
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got := must(s.Job(ctx, team.ID, j.ID)).get(t)
	isUTC(t, "CreatedAt", got.CreatedAt)
	if !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(created.Add(time.Millisecond)) {
		t.Fatalf("times %v, %v; want %v, %v", got.CreatedAt, got.UpdatedAt, created, created.Add(time.Millisecond))
	}
}

func testFinishRace(t *testing.T, open opener) {
	s, _ := open(t)
	raceFinish(t, []Store{s})
}

// testFinishRaceAcrossProcesses races two stores on one database, as two
// nodes would.
func testFinishRaceAcrossProcesses(t *testing.T, open opener) {
	s, dsn := open(t)
	raceFinish(t, []Store{s, openDSN(t, dsn)})
}

func raceFinish(t *testing.T, stores []Store) {
	team := must(stores[0].EnsureTeam(ctx, "acme")).get(t)
	for round := range 5 {
		j := newJob(team.ID)
		if err := stores[0].CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			wins   []int
			others []error
		)
		for i := range n {
			wg.Go(func() {
				s := stores[i%len(stores)]
				out := json.RawMessage(fmt.Sprintf(`{"winner":%d}`, i))
				d := &Delivery{URL: "https://example.com/hook", Body: out}
				_, err := s.FinishJob(ctx, j.ID, api.StatusSucceeded, out, d)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins = append(wins, i)
				} else if !errors.Is(err, ErrTerminal) {
					others = append(others, err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 || len(others) != 0 {
			t.Fatalf("round %d: winners %v, unexpected errors %v; want exactly one winner", round, wins, others)
		}
		got := must(stores[len(stores)-1].Job(ctx, "", j.ID)).get(t)
		if want := fmt.Sprintf(`{"winner":%d}`, wins[0]); string(got.Output) != want {
			t.Fatalf("output %s, want the winner's %s", got.Output, want)
		}
		// Only the winner's delivery was queued: losers' transactions rolled back.
		ds := must(stores[0].Deliveries(ctx, j.ID)).get(t)
		if len(ds) != 1 || string(ds[0].Body) != string(got.Output) {
			t.Fatalf("deliveries %+v, want the winner's only", ds)
		}
	}
}

func testListJobs(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	other := must(s.EnsureTeam(ctx, "other")).get(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{api.StatusCreated, api.StatusSucceeded, api.StatusFailed}
	var all []Job
	for i := range 40 {
		j := newJob(team.ID)
		// Every third pair shares a creation time, so the ID breaks ties.
		j.CreatedAt = base.Add(time.Duration(i-i%2*(i%3/2)) * time.Millisecond)
		j.Status = statuses[i%len(statuses)]
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		all = append(all, j)
		o := newJob(other.ID)
		o.CreatedAt, o.Status = j.CreatedAt, j.Status
		if err := s.CreateJob(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	newestFirst := func(js []Job) []string {
		js = append([]Job(nil), js...)
		sort.Slice(js, func(a, b int) bool {
			if !js[a].CreatedAt.Equal(js[b].CreatedAt) {
				return js[a].CreatedAt.After(js[b].CreatedAt)
			}
			return js[a].ID > js[b].ID
		})
		var ids []string
		for _, j := range js {
			ids = append(ids, j.ID)
		}
		return ids
	}
	pages := func(opt ListOptions) (ids []string, sizes []int) {
		t.Helper()
		for range 100 {
			page, next, err := s.ListJobs(ctx, team.ID, opt)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page))
			for _, j := range page {
				if j.TeamID != team.ID || (opt.Status != "" && j.Status != opt.Status) {
					t.Fatalf("ListJobs(%+v) returned %+v", opt, j)
				}
				ids = append(ids, j.ID)
			}
			if next == "" {
				return ids, sizes
			}
			opt.Cursor = next
		}
		t.Fatal("ListJobs never ran out of pages")
		return nil, nil
	}

	ids, sizes := pages(ListOptions{Limit: 7})
	if fmt.Sprint(ids) != fmt.Sprint(newestFirst(all)) {
		t.Fatalf("all pages:\n got %v\nwant %v", ids, newestFirst(all))
	}
	if fmt.Sprint(sizes) != "[7 7 7 7 7 5]" {
		t.Fatalf("page sizes %v", sizes)
	}

	var failed []Job
	for _, j := range all {
		if j.Status == api.StatusFailed {
			failed = append(failed, j)
		}
	}
	ids, sizes = pages(ListOptions{Status: api.StatusFailed, Limit: 4})
	if fmt.Sprint(ids) != fmt.Sprint(newestFirst(failed)) {
		t.Fatalf("failed pages:\n got %v\nwant %v", ids, newestFirst(failed))
	}
	// 13 failed jobs: the last page is not followed by an empty one.
	if fmt.Sprint(sizes) != "[4 4 4 1]" {
		t.Fatalf("failed page sizes %v", sizes)
	}
	if _, sizes := pages(ListOptions{Status: api.StatusFailed, Limit: 13}); fmt.Sprint(sizes) != "[13]" {
		t.Fatalf("exact page sizes %v", sizes)
	}

	// A job created between pages does not shift the next page.
	first, next := must2(s.ListJobs(ctx, team.ID, ListOptions{Limit: 5})).get(t)
	late := newJob(team.ID)
	late.CreatedAt = base.Add(time.Hour)
	if err := s.CreateJob(ctx, late); err != nil {
		t.Fatal(err)
	}
	second, _ := must2(s.ListJobs(ctx, team.ID, ListOptions{Limit: 5, Cursor: next})).get(t)
	if want := newestFirst(all)[5]; second[0].ID != want || first[4].ID != newestFirst(all)[4] {
		t.Fatalf("second page starts at %s, want %s", second[0].ID, want)
	}

	if page, _ := must2(s.ListJobs(ctx, team.ID, ListOptions{Limit: 1000})).get(t); len(page) != 41 {
		t.Fatalf("Limit 1000 gave %d jobs, want all 41 (clamped to 100)", len(page))
	}
	page, next := must2(s.ListJobs(ctx, NewID(), ListOptions{})).get(t)
	if len(page) != 0 || next != "" {
		t.Fatalf("unknown team: %v, %q", page, next)
	}
	for _, c := range []string{"!!", "bm9jb2xvbg", "YWJjOmRlZg"} {
		if _, _, err := s.ListJobs(ctx, team.ID, ListOptions{Cursor: c}); !errors.Is(err, ErrInvalidCursor) {
			t.Fatalf("cursor %q: %v, want ErrInvalidCursor", c, err)
		}
	}
}

func testCountJobs(t *testing.T, open opener) {
	s, _ := open(t)
	if counts := must(s.CountJobs(ctx)).get(t); len(counts) != 0 {
		t.Fatalf("CountJobs of empty store = %v", counts)
	}
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	var ids []string
	for range 6 {
		j := newJob(team.ID)
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	must(s.StartJob(ctx, ids[0], "n")).get(t)
	must(s.StartJob(ctx, ids[1], "n")).get(t)
	must(s.FinishJob(ctx, ids[1], api.StatusFailed, json.RawMessage(`{"error":"x"}`), nil)).get(t)
	must(s.FinishJob(ctx, ids[2], api.StatusCanceled, nil, nil)).get(t)
	counts := must(s.CountJobs(ctx)).get(t)
	want := map[string]int{api.StatusCreated: 3, api.StatusRunning: 1, api.StatusFailed: 1, api.StatusCanceled: 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("CountJobs = %v, want %v", counts, want)
	}
}

func testPurge(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	var finished []string
	for i := range 5 {
		j := newJob(team.ID)
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			must(s.FinishJob(ctx, j.ID, api.StatusSucceeded, json.RawMessage(`{"ok":true}`), nil)).get(t)
			finished = append(finished, j.ID)
		}
	}
	// A finished job whose output is already gone is not counted.
	c := newJob(team.ID)
	if err := s.CreateJob(ctx, c); err != nil {
		t.Fatal(err)
	}
	must(s.FinishJob(ctx, c.ID, api.StatusCanceled, nil, nil)).get(t)

	if n := must(s.PurgeOutputs(ctx, time.Now().Add(-time.Hour))).get(t); n != 0 {
		t.Fatalf("PurgeOutputs(an hour ago) = %d, want 0", n)
	}
	if got := must(s.Job(ctx, "", finished[0])).get(t); got.Output == nil {
		t.Fatal("output purged too early")
	}
	if n := must(s.PurgeOutputs(ctx, time.Now().Add(time.Hour))).get(t); n != 3 {
		t.Fatalf("PurgeOutputs = %d, want 3", n)
	}
	for _, id := range finished {
		got := must(s.Job(ctx, "", id)).get(t)
		if got.Output != nil || got.Status != api.StatusSucceeded || got.CompletedAt == nil {
			t.Fatalf("after purge: %+v", got)
		}
	}
	if n := must(s.PurgeOutputs(ctx, time.Now().Add(time.Hour))).get(t); n != 0 {
		t.Fatalf("second PurgeOutputs = %d, want 0", n)
	}
}

func testDeliveries(t *testing.T, open opener) {
	s, _ := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	if ds := must(s.ClaimDeliveries(ctx, time.Now(), time.Minute, ClaimOptions{Limit: 10})).get(t); len(ds) != 0 {
		t.Fatalf("claimed %v from an empty store", ds)
	}

	j := newJob(team.ID)
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"jobId":"x","status":"succeeded"}`)
	d := &Delivery{URL: "https://example.com/hook", Body: body}
	before := time.Now()
	must(s.FinishJob(ctx, j.ID, api.StatusSucceeded, json.RawMessage(`{}`), d)).get(t)
	if d.ID == 0 || d.JobID != j.ID || d.TeamID != team.ID || d.Status != DeliveryPending {
		t.Fatalf("FinishJob did not fill in the delivery: %+v", d)
	}
	ds := must(s.Deliveries(ctx, j.ID)).get(t)
	if len(ds) != 1 {
		t.Fatalf("Deliveries = %+v", ds)
	}
	got := ds[0]
	if got.ID != d.ID || got.JobID != j.ID || got.TeamID != team.ID || got.URL != d.URL ||
		string(got.Body) != string(body) || got.Attempt != 0 || got.Status != DeliveryPending ||
		got.LastError != "" || got.NextAt.Before(before.Add(-time.Millisecond)) {
		t.Fatalf("Deliveries[0] = %+v", got)
	}
	isUTC(t, "NextAt", got.NextAt)
	isUTC(t, "CreatedAt", got.CreatedAt)
	if ds := must(s.Deliveries(ctx, NewID())).get(t); len(ds) != 0 {
		t.Fatalf("Deliveries(unknown job) = %v", ds)
	}

	// A delivery scheduled later (e.g. a retry) is not due yet.
	j2 := newJob(team.ID)
	if err := s.CreateJob(ctx, j2); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(time.Second)
	d2 := &Delivery{URL: "https://example.com/2", Body: body, NextAt: t0.Add(time.Hour)}
	must(s.FinishJob(ctx, j2.ID, api.StatusFailed, json.RawMessage(`{"error":"x"}`), d2)).get(t)

	claimed := must(s.ClaimDeliveries(ctx, t0, time.Minute, ClaimOptions{Limit: 10})).get(t)
	if len(claimed) != 1 || claimed[0].ID != d.ID {
		t.Fatalf("claimed %+v, want the first delivery only", claimed)
	}
	if !claimed[0].NextAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claimed NextAt %v, want now+lease %v", claimed[0].NextAt, t0.Add(time.Minute))
	}
	// While leased, nobody else gets it.
	if again := must(s.ClaimDeliveries(ctx, t0.Add(30*time.Second), time.Minute, ClaimOptions{Limit: 10})).get(t); len(again) != 0 {
		t.Fatalf("claimed a leased delivery: %+v", again)
	}
	// A lease that runs out (the claimer died) makes it due again.
	if again := must(s.ClaimDeliveries(ctx, t0.Add(time.Minute), time.Minute, ClaimOptions{Limit: 10})).get(t); len(again) != 1 || again[0].ID != d.ID {
		t.Fatalf("expired lease: claimed %+v", again)
	}

	// A failed attempt is rescheduled, a successful one is done for good.
	retry := claimed[0]
	retry.Attempt, retry.LastError, retry.NextAt = 1, "HTTP 502", t0.Add(10*time.Minute)
	if err := s.UpdateDelivery(ctx, retry); err != nil {
		t.Fatal(err)
	}
	got = must(s.Deliveries(ctx, j.ID)).get(t)[0]
	if got.Attempt != 1 || got.LastError != "HTTP 502" || !got.NextAt.Equal(retry.NextAt) || got.Status != DeliveryPending {
		t.Fatalf("after UpdateDelivery: %+v", got)
	}
	claimed = must(s.ClaimDeliveries(ctx, t0.Add(2*time.Hour), time.Minute, ClaimOptions{Limit: 10})).get(t)
	if len(claimed) != 2 || claimed[0].ID != d.ID || claimed[1].ID != d2.ID {
		t.Fatalf("claimed %+v, want both in ID order", claimed)
	}
	for _, c := range claimed {
		c.Attempt++
		c.Status = DeliveryDone
		if c.ID == d2.ID {
			c.Status = DeliveryFailed
		}
		if err := s.UpdateDelivery(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if ds := must(s.ClaimDeliveries(ctx, t0.Add(24*time.Hour), time.Minute, ClaimOptions{Limit: 10})).get(t); len(ds) != 0 {
		t.Fatalf("claimed finished deliveries: %+v", ds)
	}
	if got := must(s.Deliveries(ctx, j2.ID)).get(t); got[0].Status != DeliveryFailed || got[0].Attempt != 1 {
		t.Fatalf("d2 = %+v", got[0])
	}
	if err := s.UpdateDelivery(ctx, Delivery{ID: 1 << 40, Status: DeliveryDone}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateDelivery(missing) = %v, want ErrNotFound", err)
	}
	if ds := must(s.ClaimDeliveries(ctx, t0, time.Minute, ClaimOptions{Limit: 0})).get(t); len(ds) != 0 {
		t.Fatalf("limit 0 claimed %v", ds)
	}
}

// testClaimFair: a claim takes at most PerTeam of one team's deliveries,
// oldest first, and none of a skipped team's, so one team's backlog does
// not crowd out another's webhook.
func testClaimFair(t *testing.T, open opener) {
	s, _ := open(t)
	busy := must(s.EnsureTeam(ctx, "busy")).get(t)
	quiet := must(s.EnsureTeam(ctx, "quiet")).get(t)
	queue := func(team string) {
		j := newJob(team)
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		must(s.FinishJob(ctx, j.ID, api.StatusSucceeded, nil, &Delivery{URL: "https://example.com", Body: []byte("{}")})).get(t)
	}
	for range 6 {
		queue(busy.ID)
	}
	queue(quiet.ID) // the newest of all
	now := time.Now().Add(time.Second)
	count := func(ds []Delivery) map[string]int {
		n := map[string]int{}
		for _, d := range ds {
			n[d.TeamID]++
		}
		return n
	}
	got := count(must(s.ClaimDeliveries(ctx, now, time.Hour, ClaimOptions{Limit: 3, PerTeam: 2})).get(t))
	if got[busy.ID] != 2 || got[quiet.ID] != 1 {
		t.Fatalf("claim of 3, 2 per team: %v", got)
	}
	got = count(must(s.ClaimDeliveries(ctx, now, time.Hour, ClaimOptions{Limit: 10, SkipTeams: []string{busy.ID}})).get(t))
	if len(got) != 0 {
		t.Fatalf("claim skipping the busy team: %v", got)
	}
	got = count(must(s.ClaimDeliveries(ctx, now, time.Hour, ClaimOptions{Limit: 10, SkipTeams: []string{quiet.ID, "x"}})).get(t))
	if got[busy.ID] != 4 {
		t.Fatalf("claim of the rest: %v", got)
	}
}

// testClaimConcurrent has claimers on two stores (two nodes) drain a queue:
// every delivery is claimed exactly once.
func testClaimConcurrent(t *testing.T, open opener) {
	s, dsn := open(t)
	stores := []Store{s, openDSN(t, dsn)}
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	const n = 60
	for range n {
		j := newJob(team.ID)
		if err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		must(s.FinishJob(ctx, j.ID, api.StatusSucceeded, nil, &Delivery{URL: "https://example.com", Body: []byte("{}")})).get(t)
	}
	now := time.Now().Add(time.Second)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = map[int64]int{}
		errs  []error
		limit = 0
	)
	for i := range 8 {
		wg.Go(func() {
			for {
				ds, err := stores[i%2].ClaimDeliveries(ctx, now, time.Hour, ClaimOptions{Limit: 3})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, d := range ds {
					seen[d.ID]++
				}
				limit = max(limit, len(ds))
				mu.Unlock()
				if err != nil || len(ds) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(seen) != n || limit > 3 {
		t.Fatalf("claimed %d distinct deliveries (want %d), at most %d at once", len(seen), n, limit)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("delivery %d claimed %d times", id, c)
		}
	}
}

// testReopen opens a second store on a migrated database: migrations are
// idempotent and the data is shared.
func testReopen(t *testing.T, open opener) {
	s, dsn := open(t)
	team := must(s.EnsureTeam(ctx, "acme")).get(t)
	s2 := openDSN(t, dsn)
	if got := must(s2.Team(ctx, team.ID)).get(t); got != team {
		t.Fatalf("reopened store: %+v, want %+v", got, team)
	}
}
