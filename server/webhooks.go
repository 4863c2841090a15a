package server

import (
	"context"
	"sync"
	"time"

	"github.com/whospoke/whospoke/store"
	"github.com/whospoke/whospoke/webhook"
)

// Webhook concurrency on one node: a team's slow receiver holds at most
// webhooksPerTeam sends (each up to WebhookTimeout), never the others'.
const (
	webhooksPerTeam  = 4
	webhooksInFlight = 64
)

// dispatchWebhooks sends queued deliveries until ctx is done. Deliveries
// live in the store, so a restart (or another node) picks them up; a claim
// lease keeps two nodes from sending one delivery at once.
func (s *Server) dispatchWebhooks(ctx context.Context) {
	h := &hookDispatch{s: s, wake: make(chan struct{}, 1), busy: map[string]int{}, slots: map[string]chan struct{}{}}
	defer h.wg.Wait()
	t := time.NewTicker(s.cfg.WebhookPoll)
	defer t.Stop()
	for {
		h.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.wake: // a send finished: there may be room for more
		}
	}
}

// hookDispatch sends claimed deliveries concurrently, each team's through
// its own bounded set of slots.
type hookDispatch struct {
	s    *Server
	wg   sync.WaitGroup
	wake chan struct{}

	mu    sync.Mutex
	busy  map[string]int           // per team: deliveries sending or waiting for a slot
	slots map[string]chan struct{} // per team: webhooksPerTeam send slots
	total int
}

// claim leases as many due deliveries as there is room for, leaving out
// teams whose slots are all taken, and starts them.
func (h *hookDispatch) claim(ctx context.Context) {
	h.mu.Lock()
	free := webhooksInFlight - h.total
	var full []string
	for team, n := range h.busy {
		if n >= webhooksPerTeam {
			full = append(full, team)
		}
	}
	h.mu.Unlock()
	if free <= 0 {
		return
	}
	// A team may have up to twice its slots claimed, so a delivery waits
	// at most one send for its slot: the lease covers the wait and its send.
	lease := 2*h.s.cfg.WebhookTimeout + 30*time.Second
	ds, err := h.s.store.ClaimDeliveries(ctx, time.Now().UTC(), lease,
		store.ClaimOptions{Limit: free, PerTeam: webhooksPerTeam, SkipTeams: full})
	if err != nil {
		if ctx.Err() == nil {
			h.s.log.Warn("claim webhook deliveries", "err", err)
		}
		return
	}
	for _, d := range ds {
		h.mu.Lock()
		h.busy[d.TeamID]++
		h.total++
		slot := h.slots[d.TeamID]
		if slot == nil {
			slot = make(chan struct{}, webhooksPerTeam)
			h.slots[d.TeamID] = slot
		}
		h.mu.Unlock()
		h.wg.Go(func() {
			defer h.done(d.TeamID)
			select {
			case slot <- struct{}{}:
			case <-ctx.Done():
				return // the lease expires and the delivery is tried again
			}
			defer func() { <-slot }()
			h.s.deliver(ctx, d)
		})
	}
}

func (h *hookDispatch) done(team string) {
	h.mu.Lock()
	if h.busy[team]--; h.busy[team] == 0 {
		delete(h.busy, team)
		delete(h.slots, team) // nobody holds or waits for it any more
	}
	h.total--
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// deliver makes one attempt and schedules the next per the contract:
// retries immediately, +1 min, +5 min, each carrying the previous failure's reason.
func (s *Server) deliver(ctx context.Context, d store.Delivery) {
	team, err := s.store.Team(ctx, d.TeamID)
	if err != nil {
		s.log.Warn("webhook team", "job", d.JobID, "err", err)
		return // the lease expires and the delivery is tried again
	}
	// The job ID: one delivery per job, the same on every attempt.
	res := s.sender.Send(ctx, d.URL, team.WebhookSecret, d.JobID, d.Body, d.Attempt, d.LastError)
	if ctx.Err() != nil {
		return // shutting down mid-attempt: leave it for the lease to expire
	}
	d.Attempt++
	if res.Delivered {
		d.Status, d.LastError = store.DeliveryDone, ""
		s.metrics.webhooks.WithLabelValues("delivered").Inc()
	} else {
		d.LastError = res.Reason
		s.metrics.webhooks.WithLabelValues(res.Reason).Inc()
		if delay, ok := webhook.NextDelay(d.Attempt, s.cfg.WebhookDelays); ok {
			d.NextAt = time.Now().UTC().Add(delay)
		} else {
			d.Status = store.DeliveryFailed
		}
		s.log.Info("webhook attempt failed", "job", d.JobID, "attempt", d.Attempt, "reason", res.Reason, "err", res.Err)
	}
	if err := s.store.UpdateDelivery(ctx, d); err != nil {
		s.log.Warn("update webhook delivery", "job", d.JobID, "err", err)
	}
}
