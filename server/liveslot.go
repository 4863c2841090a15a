package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/whospoke/whospoke/store"
)

// liveSlotTTL bounds how long a reservation's row may stay created (and
// hold a slot) if starting it fails between the two steps.
const liveSlotTTL = 10 * time.Second

// reserveLiveSocket takes one of the team's live stream slots for a socket
// that authenticated with a key (AssemblyAI, OpenAI Realtime): a running
// stream row, so that every dialect's sockets count against the one
// per-team limit. It returns store.ErrLimit when the team's slots are full.
// The caller keeps the row alive with s.store.TouchStream and ends it with
// s.endStream.
func (s *Server) reserveLiveSocket(ctx context.Context, teamID, dialect string) (id string, err error) {
	token, err := newStreamToken()
	if err != nil {
		return "", err
	}
	req, err := json.Marshal(map[string]string{"dialect": dialect})
	if err != nil {
		return "", err
	}
	l := store.LiveStream{ID: newID(), TeamID: teamID, TokenHash: HashKey(token), Request: req,
		TokenExpiresAt: time.Now().Add(liveSlotTTL)}
	if err := s.store.CreateStream(ctx, l, s.cfg.LiveStreamsPerTeam); err != nil {
		return "", err
	}
	// Created rows count against the limit too, so a slot reserved above
	// is only lost to a concurrent start on another node.
	if _, err := s.store.StartStream(ctx, l.ID, l.TokenHash, s.cfg.Node, s.cfg.LiveStreamsPerTeam); err != nil {
		return "", err
	}
	return l.ID, nil
}
