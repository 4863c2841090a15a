package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/whospoke/whospoke/store"
)

// Permissions a key can carry (docs/API.md §1).
var Permissions = []string{"jobs:write", "jobs:read", "media:write", "media:read", "stream:write", "stream:read"}

// keyPrefix marks whospoke keys so that a leaked one is recognisable.
const keyPrefix = "wsk_"

// HashKey is how keys are stored: SHA-256, hex. Keys are 32 random bytes, so
// a slow hash adds nothing.
func HashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateKey makes a key for team (created if missing) and returns its secret,
// which is shown once and stored only hashed.
func CreateKey(ctx context.Context, st store.Store, team, name string, perms []string) (string, store.Key, error) {
	if len(perms) == 0 {
		perms = Permissions
	}
	for _, p := range perms {
		if !slices.Contains(Permissions, p) {
			return "", store.Key{}, fmt.Errorf("unknown permission %q (known: %s)", p, strings.Join(Permissions, " "))
		}
	}
	t, err := st.EnsureTeam(ctx, team)
	if err != nil {
		return "", store.Key{}, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", store.Key{}, err
	}
	secret := keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	k := store.Key{
		ID: uuid.NewString(), TeamID: t.ID, Name: name, Hash: HashKey(secret),
		Prefix: secret[:len(keyPrefix)+6], Permissions: perms, CreatedAt: time.Now().UTC(),
	}
	if err := st.CreateKey(ctx, k); err != nil {
		return "", store.Key{}, err
	}
	return secret, k, nil
}

// principal is the authenticated caller of a request.
type principal struct {
	key store.Key
}

func (p principal) can(perm string) bool { return slices.Contains(p.key.Permissions, perm) }

func authOf(r *http.Request) principal {
	p, _ := r.Context().Value(keyAuth).(principal)
	return p
}

// authenticate resolves the bearer key; it answers 401 itself when it fails.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	h := r.Header.Get("Authorization")
	// The scheme is case-insensitive (RFC 9110 §11.1): "bearer" works too.
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		writeError(w, r, http.StatusUnauthorized, "Missing API key: send 'Authorization: Bearer <key>'")
		return r, false
	}
	k, err := s.store.KeyByHash(r.Context(), HashKey(strings.TrimSpace(secret)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, http.StatusUnauthorized, "Invalid API key")
		return r, false
	case err != nil:
		s.log.Error("key lookup", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "Key store unavailable")
		return r, false
	case k.RevokedAt != nil:
		writeError(w, r, http.StatusUnauthorized, "API key revoked")
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), keyAuth, principal{key: k})), true
}
