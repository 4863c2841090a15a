package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
)

func newStream(teamID, token string, ttl time.Duration) LiveStream {
	return LiveStream{ID: NewID(), TeamID: teamID, TokenHash: token, Request: []byte(`{}`),
		TokenExpiresAt: time.Now().Add(ttl)}
}

func testLiveStreams(t *testing.T, open opener) {
	s, _ := open(t)
	team, err := s.EnsureTeam(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	a := newStream(team.ID, "tok-a", time.Minute)
	if err := s.CreateStream(ctx, a, 2); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stream(ctx, team.ID, a.ID)
	if err != nil || got.Status != api.LiveCreated || got.StartedAt != nil || string(got.Request) != "{}" {
		t.Fatalf("Stream: %+v %v", got, err)
	}
	if _, err := s.Stream(ctx, "other-team", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other team sees stream: %v", err)
	}
	// Two slots: a (created) and b; a third is refused.
	b := newStream(team.ID, "tok-b", time.Minute)
	if err := s.CreateStream(ctx, b, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStream(ctx, newStream(team.ID, "tok-c", time.Minute), 2); !errors.Is(err, ErrLimit) {
		t.Fatalf("third stream: %v", err)
	}
	if _, err := s.StartStream(ctx, a.ID, "nope", "n1", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := s.StartStream(ctx, b.ID, "tok-a", "n1", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of another stream: %v", err)
	}
	run, err := s.StartStream(ctx, a.ID, "tok-a", "n1", 2)
	if err != nil || run.Status != api.LiveRunning || run.Node != "n1" || run.StartedAt == nil {
		t.Fatalf("StartStream: %+v %v", run, err)
	}
	if _, err := s.StartStream(ctx, a.ID, "tok-a", "n1", 2); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("token reuse: %v", err)
	}
	// The limit is checked again at start: with limit 1, a running stream
	// blocks the second.
	if _, err := s.StartStream(ctx, b.ID, "tok-b", "n1", 1); !errors.Is(err, ErrLimit) {
		t.Fatalf("start over limit: %v", err)
	}
	if err := s.TouchStream(ctx, a.ID, 12.5); err != nil {
		t.Fatal(err)
	}
	if err := s.EndStream(ctx, a.ID, api.LiveDone, "", 13); err != nil {
		t.Fatal(err)
	}
	if err := s.EndStream(ctx, a.ID, api.LiveDone, "", 13); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second end: %v", err)
	}
	if err := s.TouchStream(ctx, a.ID, 14); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch after end: %v", err)
	}
	got, _ = s.Stream(ctx, team.ID, a.ID)
	if got.Status != api.LiveDone || got.AudioSeconds != 13 || got.EndedAt == nil {
		t.Fatalf("ended: %+v", got)
	}
	// An expired token is refused and swept.
	old := newStream(team.ID, "tok-old", -time.Second)
	if err := s.CreateStream(ctx, old, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartStream(ctx, old.ID, "tok-old", "n1", 10); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	n, err := s.ExpireStreams(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireStreams: %d %v", n, err)
	}
	got, _ = s.Stream(ctx, team.ID, old.ID)
	if got.Status != api.LiveError || got.Error == "" {
		t.Fatalf("expired stream: %+v", got)
	}
}

// Of many concurrent redemptions of one token exactly one wins, and of
// concurrent starts of distinct streams no more than the limit run.
func testStartStreamRace(t *testing.T, open opener) {
	s, _ := open(t)
	team, _ := s.EnsureTeam(ctx, "race")
	one := newStream(team.ID, "tok", time.Minute)
	if err := s.CreateStream(ctx, one, 10); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 6)
	for i := range ids {
		l := newStream(team.ID, fmt.Sprint("t", i), time.Minute)
		ids[i] = l.ID
		if err := s.CreateStream(ctx, l, 10); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		same, distinct int
	)
	for i := range 6 {
		wg.Go(func() {
			_, err := s.StartStream(ctx, one.ID, "tok", "n", 10)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				same++
			} else if !errors.Is(err, ErrTokenUsed) {
				t.Errorf("race: %v", err)
			}
		})
		wg.Go(func() {
			_, err := s.StartStream(ctx, ids[i], fmt.Sprint("t", i), "n", 4)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				distinct++
			} else if !errors.Is(err, ErrLimit) {
				t.Errorf("limit race: %v", err)
			}
		})
	}
	wg.Wait()
	if same != 1 {
		t.Errorf("token redeemed %d times", same)
	}
	// "tok" may or may not be running when the others count; 3 or 4 fit.
	if distinct > 4 || distinct < 3 {
		t.Errorf("%d distinct streams started under limit 4", distinct)
	}
}
