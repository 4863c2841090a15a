package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/store"
)

// reserveLiveSocket takes one of teamID's concurrent live slots for a socket
// opened straight from an API key (OpenAI Realtime, AssemblyAI v3): the
// stream row is created and started at once, so it counts against
// Config.LiveStreamsPerTeam like a pyannoteAI Live stream. It returns the
// row's ID, to be kept alive with TouchStream and ended with endStream, or
// store.ErrLimit when the team's slots are full.
func (s *Server) reserveLiveSocket(ctx context.Context, teamID, dialect string) (string, error) {
	// The row needs a token; nobody ever presents this one.
	token, err := newStreamToken()
	if err != nil {
		return "", err
	}
	req, err := json.Marshal(map[string]string{"dialect": dialect})
	if err != nil {
		return "", err
	}
	l := store.LiveStream{ID: newID(), TeamID: teamID, TokenHash: HashKey(token), Request: req,
		TokenExpiresAt: time.Now().Add(s.cfg.LiveTokenTTL)}
	if err := s.store.CreateStream(ctx, l, s.cfg.LiveStreamsPerTeam); err != nil {
		return "", err
	}
	if _, err := s.store.StartStream(ctx, l.ID, l.TokenHash, s.cfg.Node, s.cfg.LiveStreamsPerTeam); err != nil {
		s.endStream(l.ID, api.LiveError, "could not start: "+err.Error(), 0)
		return "", err
	}
	return l.ID, nil
}
