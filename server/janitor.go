package server

import (
	"context"
	"time"
)

// janitor enforces retention: job outputs (voiceprints included) go
// OutputRetention after completion, uploaded media MediaRetention after upload.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.JanitorEvery)
	defer t.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) sweep(ctx context.Context) {
	now := time.Now()
	if n, err := s.store.PurgeOutputs(ctx, now.Add(-s.cfg.OutputRetention)); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("purge outputs", "err", err)
		}
	} else if n > 0 {
		s.log.Info("purged job outputs", "count", n)
	}
	if n, err := s.store.ExpireStreams(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("expire live streams", "err", err)
		}
	} else if n > 0 {
		s.log.Info("ended abandoned live streams", "count", n)
	}
	if n, err := s.media.DeleteOlderThan(ctx, now.Add(-s.cfg.MediaRetention)); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("purge media", "err", err)
		}
	} else if n > 0 {
		s.log.Info("purged media", "count", n)
	}
}
