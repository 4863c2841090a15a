// Package webhook signs and sends one job-completion webhook delivery and
// classifies its failure, per docs/API.md §1. Persisting and scheduling retries
// is the store's job; this package only supplies the delays.
//
// Signature: X-Signature = lowercase hex of HMAC-SHA256(team webhook secret,
// "v0:" + X-Request-Timestamp + ":" + raw body). Verify accepts either hex case.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/whospoke/whospoke/fetch"
)

// Failure reasons, sent to receivers as x-retry-reason.
const (
	ReasonHTTPTimeout      = "http_timeout"
	ReasonTooManyRedirects = "too_many_redirects"
	ReasonConnectionFailed = "connection_failed"
	ReasonSSLError         = "ssl_error"
	ReasonHTTPError        = "http_error"
	ReasonUnknownError     = "unknown_error"
)

// Header names. The contract spells the retry headers in lower case; HTTP
// header names are case-insensitive, so the canonical form is equivalent.
const (
	HeaderTimestamp   = "X-Request-Timestamp"
	HeaderSignature   = "X-Signature"
	HeaderRetryNum    = "X-Retry-Num"
	HeaderRetryReason = "X-Retry-Reason"
	// HeaderID is the same on every attempt of one delivery: delivery is
	// at least once, and receivers drop repeats by it.
	HeaderID = "X-Webhook-Id"
)

// DefaultTimeout is the receiver timeout from the contract.
const DefaultTimeout = 10 * time.Second

// DefaultMaxRedirects caps redirects before too_many_redirects.
const DefaultMaxRedirects = 5

// DefaultDelays are the waits before retries 1, 2 and 3 (immediately,
// +1 min, +5 min after the previous failure).
var DefaultDelays = []time.Duration{0, time.Minute, 5 * time.Minute}

// NextDelay says how long to wait before the next delivery attempt, given
// that attempt attempts have been made (1 after the first failure). The
// attempt it schedules is retry number attempt (x-retry-num). ok is false
// when retries are exhausted. attempt ≤ 0 means nothing was sent yet: send
// now.
func NextDelay(attempt int, delays []time.Duration) (d time.Duration, ok bool) {
	if attempt <= 0 {
		return 0, true
	}
	if attempt > len(delays) {
		return 0, false
	}
	return delays[attempt-1], true
}

// Sign returns the hex signature for body sent at timestamp (unix seconds).
func Sign(secret string, timestamp int64, body []byte) string {
	return hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

// Verify checks signature against the raw timestamp header value and body,
// in constant time. Receivers should also reject stale timestamps.
func Verify(secret, timestamp string, body []byte, signature string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:"))
	m.Write([]byte(timestamp))
	m.Write([]byte(":"))
	m.Write(body)
	return m.Sum(nil)
}

// Result is the outcome of one delivery attempt.
type Result struct {
	Delivered  bool
	Reason     string // one of the Reason constants; "" when delivered
	StatusCode int    // 0 when no response arrived
	Err        error  // nil when delivered
}

// Sender delivers webhooks. The zero value uses a fresh http.Client and
// DefaultTimeout; production should pass (&fetch.Client{}).HTTPClient() so
// receivers on internal addresses are refused.
type Sender struct {
	Client       *http.Client
	Timeout      time.Duration // per attempt, including reading the answer
	MaxRedirects int           // 0 = DefaultMaxRedirects
	UserAgent    string        // empty = "whospoke-webhook/1"
}

var errTooManyRedirects = errors.New("webhook: too many redirects")

// Send POSTs body to url once, with id as X-Webhook-Id. retryNum 0 is the
// first attempt; 1–3 mark retries and add x-retry-num and, when given,
// x-retry-reason (the previous failure's Reason).
func (s *Sender) Send(ctx context.Context, target, secret, id string, body []byte, retryNum int, retryReason string) Result {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Result{Reason: ReasonUnknownError, Err: fmt.Errorf("webhook: bad request: %w", err)}
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, id)
	ua := s.UserAgent
	if ua == "" {
		ua = "whospoke-webhook/1"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	if retryNum > 0 {
		req.Header.Set(HeaderRetryNum, strconv.Itoa(retryNum))
		if retryReason != "" {
			req.Header.Set(HeaderRetryReason, retryReason)
		}
	}

	resp, err := s.client().Do(req)
	if err != nil {
		// *url.Error would repeat the full URL, query included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{Reason: Classify(err), Err: fmt.Errorf("webhook: POST %s: %w", redact(target), err)}
	}
	// Drain a little so the connection can be reused; receivers' bodies
	// carry no meaning for us.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{
			Reason:     ReasonHTTPError,
			StatusCode: resp.StatusCode,
			Err:        fmt.Errorf("webhook: POST %s: receiver answered %s", redact(target), resp.Status),
		}
	}
	return Result{Delivered: true, StatusCode: resp.StatusCode}
}

// client returns a shallow copy of the configured client whose redirect
// policy reports our own sentinel, so a loop classifies reliably whatever
// policy the caller's client had.
func (s *Sender) client() *http.Client {
	base := s.Client
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	limit := s.MaxRedirects
	if limit <= 0 {
		limit = DefaultMaxRedirects
	}
	orig := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > limit {
			return fmt.Errorf("%w (more than %d)", errTooManyRedirects, limit)
		}
		if orig != nil {
			return orig(req, via)
		}
		return nil
	}
	return &c
}

// Classify maps a transport error from http.Client.Do to a Reason.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, errTooManyRedirects) || errors.Is(err, fetch.ErrTooManyRedirects) {
		return ReasonTooManyRedirects
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonHTTPTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonHTTPTimeout
	}
	if isTLSError(err) {
		return ReasonSSLError
	}
	if errors.Is(err, fetch.ErrPrivateAddress) {
		return ReasonConnectionFailed
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ReasonConnectionFailed
	}
	return ReasonUnknownError
}

func isTLSError(err error) bool {
	var (
		cve   *tls.CertificateVerificationError
		rhe   tls.RecordHeaderError
		alert tls.AlertError
		ech   *tls.ECHRejectionError
		ua    x509.UnknownAuthorityError
		he    x509.HostnameError
		ci    x509.CertificateInvalidError
		sre   x509.SystemRootsError
	)
	if errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &alert) ||
		errors.As(err, &ech) || errors.As(err, &ua) || errors.As(err, &he) ||
		errors.As(err, &ci) || errors.As(err, &sre) {
		return true
	}
	// crypto/tls reports most local handshake failures as plain errors
	// prefixed "tls: ", and net/http turns a plain-HTTP answer to a TLS
	// hello into a plain error too; there is no type to match.
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		if strings.HasPrefix(msg, "tls: ") || msg == "http: server gave HTTP response to HTTPS client" {
			return true
		}
	}
	return false
}

// redact keeps scheme, host and path: webhook URLs may embed tokens in the
// query or userinfo, and these errors end up in logs.
func redact(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		hostEnd := strings.IndexByte(rest, '/')
		if hostEnd < 0 {
			hostEnd = len(rest)
		}
		if at := strings.LastIndexByte(rest[:hostEnd], '@'); at >= 0 {
			raw = raw[:i+3] + rest[at+1:]
		}
	}
	return raw
}
