// Package media stores files clients upload for jobs (media://key inputs),
// per team, on a local directory or S3-compatible storage, and serves them
// through whospoke-signed URLs that stand in for pyannoteAI's pre-signed
// object-store URLs.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	apivalidate "github.com/whospoke/whospoke/api/validate"
)

// DefaultMaxBytes is the upload limit from the contract (files ≤ 1 GiB).
const DefaultMaxBytes int64 = 1 << 30

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("media: object not found")
	ErrTooLarge   = errors.New("media: object exceeds size limit")
	ErrInvalidKey = errors.New("media: invalid key")
)

// Store holds uploaded media, namespaced by team.
type Store interface {
	// Put stores r under team/key, replacing any previous object. It reads
	// at most maxBytes (≤0: no limit) and fails with ErrTooLarge, storing
	// nothing, if r holds more. Returns the bytes stored.
	Put(ctx context.Context, team, key string, r io.Reader, maxBytes int64) (int64, error)
	// Open returns the object's content and size, or ErrNotFound.
	Open(ctx context.Context, team, key string) (io.ReadCloser, int64, error)
	// Delete removes one object, or returns ErrNotFound.
	Delete(ctx context.Context, team, key string) error
	// Usage returns the bytes a team stores (for its quota).
	Usage(ctx context.Context, team string) (int64, error)
	// DeleteOlderThan removes every object last written before t (the
	// retention sweep) and returns how many it removed.
	DeleteOlderThan(ctx context.Context, t time.Time) (int, error)
}

var teamRE = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

// ValidKey checks a media key (the part after media://) with the API's
// rule (validate.MediaKey): so a key maps to exactly one file and cannot
// climb out of its team's directory, and every key the API accepts can be
// stored.
func ValidKey(key string) error {
	if err := apivalidate.MediaKey(key); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return nil
}

// ValidTeam checks a team ID used as a namespace: letters, digits, '-' and
// '_' only (UUIDs fit), at most 128 characters. Dots and slashes are
// refused so a team can never name another team's directory.
func ValidTeam(team string) error {
	if team == "" || len(team) > 128 || !teamRE.MatchString(team) {
		return fmt.Errorf("%w: bad team id %q", ErrInvalidKey, team)
	}
	return nil
}

func validate(team, key string) error {
	if err := ValidTeam(team); err != nil {
		return err
	}
	return ValidKey(key)
}

// limitReader reads at most max bytes and then fails with ErrTooLarge as
// soon as one more byte shows up, so an oversize upload is aborted instead
// of silently truncated.
type limitReader struct {
	ctx  context.Context
	r    io.Reader
	left int64 // bytes still allowed; <0 with max ≤0 means unlimited
	max  int64
	over bool
}

func newLimitReader(ctx context.Context, r io.Reader, max int64) *limitReader {
	return &limitReader{ctx: ctx, r: r, left: max, max: max}
}

func (l *limitReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	if l.max <= 0 {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		// Probe for one byte past the limit; EOF here means exactly max.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.over = true
			return 0, fmt.Errorf("%w (more than %d bytes)", ErrTooLarge, l.max)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
