package server

import (
	"context"
	"time"

	"github.com/whospoke/whospoke/store"
	"github.com/whospoke/whospoke/webhook"
)

// dispatchWebhooks sends queued deliveries until ctx is done. Deliveries
// live in the store, so a restart (or another node) picks them up; a claim
// lease keeps two nodes from sending one delivery at once.
func (s *Server) dispatchWebhooks(ctx context.Context) {
	t := time.NewTicker(s.cfg.WebhookPoll)
	defer t.Stop()
	for {
		s.sendDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) sendDue(ctx context.Context) {
	lease := s.cfg.WebhookTimeout + 30*time.Second
	ds, err := s.store.ClaimDeliveries(ctx, time.Now().UTC(), lease, 16)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("claim webhook deliveries", "err", err)
		}
		return
	}
	for _, d := range ds {
		s.deliver(ctx, d)
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
	res := s.sender.Send(ctx, d.URL, team.WebhookSecret, d.Body, d.Attempt, d.LastError)
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
