package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter counts requests per (team, class) in fixed one-minute windows. It
// is per node: with N nodes behind a balancer a team gets up to N× the limit,
// which errs on the side of serving.
type limiter struct {
	mu      sync.Mutex
	windows map[string]*window
	now     func() time.Time
}

type window struct {
	start time.Time
	count int
}

func newLimiter() *limiter {
	return &limiter{windows: map[string]*window{}, now: time.Now}
}

// allow counts one request and sets the rate-limit headers; when over the
// limit it also sets Retry-After and returns false.
func (l *limiter) allow(w http.ResponseWriter, team, class string, limit int) bool {
	if limit <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	key := team + "\x00" + class
	win := l.windows[key]
	if win == nil || now.Sub(win.start) >= time.Minute {
		win = &window{start: now.Truncate(time.Second)}
		l.windows[key] = win
		l.gcLocked(now)
	}
	win.count++
	count, reset := win.count, win.start.Add(time.Minute)
	l.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-count, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if count > limit {
		h.Set("Retry-After", strconv.Itoa(max(int(reset.Sub(now).Seconds()+0.999), 1)))
		return false
	}
	return true
}

// gcLocked drops expired windows so the map does not grow with idle teams.
func (l *limiter) gcLocked(now time.Time) {
	if len(l.windows) < 1024 {
		return
	}
	for k, w := range l.windows {
		if now.Sub(w.start) >= time.Minute {
			delete(l.windows, k)
		}
	}
}
