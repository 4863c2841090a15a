// Package fetch downloads job input URLs without letting callers reach
// whospoke's own network (SSRF): every connection, including those made for
// redirects and after DNS re-resolution, is checked against the address it
// actually dials.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults used when the corresponding Client field is zero.
const (
	DefaultMaxBytes     int64 = 1 << 30 // contract: input files ≤ 1 GiB
	DefaultTimeout            = 30 * time.Minute
	DefaultMaxRedirects       = 5
)

// Sentinel errors; test with errors.Is.
var (
	ErrPrivateAddress   = errors.New("fetch: address is not publicly routable")
	ErrTooLarge         = errors.New("fetch: response exceeds size limit")
	ErrBadScheme        = errors.New("fetch: only http and https URLs are allowed")
	ErrHTTPStatus       = errors.New("fetch: unexpected HTTP status")
	ErrTooManyRedirects = errors.New("fetch: too many redirects")
)

// StatusError reports a non-2xx answer. errors.Is(err, ErrHTTPStatus) holds.
type StatusError struct {
	Code int
	URL  string // final URL, after redirects, without credentials
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch: GET %s: unexpected HTTP status %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// Is makes errors.Is(err, ErrHTTPStatus) true.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// Client downloads URLs safely. The zero value is ready to use; fields must
// not change after the first call, because the transport is built once.
type Client struct {
	// AllowPrivate disables the address check entirely (single-host or
	// trusted deployments, tests).
	AllowPrivate bool
	// Allow lists non-public ranges that may still be dialled, e.g. an
	// internal object store; everything else non-public stays refused.
	Allow []netip.Prefix
	// MaxBytes caps a download (0 = DefaultMaxBytes).
	MaxBytes int64
	// Timeout bounds a whole Download (0 = DefaultTimeout, <0 = none).
	Timeout time.Duration
	// MaxRedirects caps redirects followed (0 = DefaultMaxRedirects, <0 = none followed).
	MaxRedirects int
	// UserAgent is sent with every request (empty = "whospoke-fetch/1").
	UserAgent string

	once sync.Once
	hc   *http.Client
}

// HTTPClient returns an http.Client using the same address-checked
// transport and redirect policy, without an overall timeout, so webhook
// delivery gets the same SSRF protection.
func (c *Client) HTTPClient() *http.Client {
	c.once.Do(c.build)
	return c.hc
}

func (c *Client) build() {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		// Control runs after name resolution, once per address actually
		// dialled, so rebinding DNS or redirects cannot sneak past it.
		Control: func(network, address string, _ syscall.RawConn) error {
			return c.checkDial(address)
		},
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would be the only address we check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	maxRedirects := c.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	c.hc = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects || maxRedirects < 0 {
				return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, max(maxRedirects, 0))
			}
			if err := checkScheme(req.URL); err != nil {
				return err
			}
			return nil
		},
	}
}

func (c *Client) checkDial(address string) error {
	if c.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrPrivateAddress, address)
	}
	ip := ap.Addr().WithZone("").Unmap()
	if IsPublic(ip) {
		return nil
	}
	for _, p := range c.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrPrivateAddress, ip)
}

// Download GETs rawURL and streams the body into dst, returning the bytes
// written. dst never receives more than MaxBytes bytes.
func (c *Client) Download(ctx context.Context, rawURL string, dst io.Writer) (int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, fmt.Errorf("fetch: invalid URL: %w", err)
	}
	if err := checkScheme(u); err != nil {
		return 0, err
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "whospoke-fetch/1"
	}
	req.Header.Set("User-Agent", ua)

	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return 0, unwrapURLError(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, &StatusError{Code: resp.StatusCode, URL: redact(resp.Request.URL)}
	}
	if resp.ContentLength > limit {
		return 0, fmt.Errorf("%w: Content-Length %d > %d bytes", ErrTooLarge, resp.ContentLength, limit)
	}
	n, err := io.Copy(dst, io.LimitReader(resp.Body, limit))
	if err != nil {
		return n, fmt.Errorf("fetch: reading %s: %w", redact(u), err)
	}
	if n == limit {
		// Probe one more byte: exactly limit is fine, anything more is not.
		var one [1]byte
		if m, _ := io.ReadFull(resp.Body, one[:]); m > 0 {
			return n, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
	}
	return n, nil
}

// CheckURL validates rawURL at request time: http(s) scheme, a host, and —
// unless allowPrivate — every address the host resolves to now is public.
// Download re-checks at dial time; this gives the caller an early, clear
// rejection.
func CheckURL(ctx context.Context, rawURL string, allowPrivate bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fetch: invalid URL: %w", err)
	}
	if err := checkScheme(u); err != nil {
		return err
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("fetch: URL has no host")
	}
	if allowPrivate {
		return nil
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("fetch: cannot resolve host %q: %w", host, hideResolver(err))
		}
		if len(addrs) == 0 {
			return fmt.Errorf("fetch: host %q has no addresses", host)
		}
	}
	for _, a := range addrs {
		if a = a.WithZone("").Unmap(); !IsPublic(a) {
			return fmt.Errorf("%w: host %q resolves to %s", ErrPrivateAddress, host, a)
		}
	}
	return nil
}

// nonPublic lists ranges IsPublic refuses beyond what netip classifies.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, incl. broadcast
	netip.MustParsePrefix("fc00::/7"),        // unique local (also IsPrivate)
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped (normally unmapped first)
	netip.MustParsePrefix("::/96"),           // deprecated IPv4-compatible
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC 1918
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC 1918
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// nat64 embeds an IPv4 address in its low 32 bits; the embedded address
// decides, so a private v4 cannot hide behind a NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// IsPublic reports whether ip is a globally routable unicast address.
// IPv4-mapped IPv6 addresses are judged by their IPv4 part.
func IsPublic(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		return IsPublic(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func checkScheme(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return nil
	case "":
		return fmt.Errorf("%w (URL has no scheme)", ErrBadScheme)
	default:
		return fmt.Errorf("%w (got %q)", ErrBadScheme, u.Scheme)
	}
}

// unwrapURLError replaces *url.Error's quoted, unredacted URL with a
// redacted one while keeping the chain intact for errors.Is.
func unwrapURLError(err error) error {
	err = hideResolver(err)
	var ue *url.Error
	if !errors.As(err, &ue) {
		return fmt.Errorf("fetch: %w", err)
	}
	return fmt.Errorf("fetch: GET %s: %w", redactString(ue.URL), ue.Err)
}

// hideResolver drops the DNS server's address from a lookup error ("lookup
// x on 10.0.0.2:53: …"): errors reach users, and it is an internal address.
func hideResolver(err error) error {
	var de *net.DNSError
	if errors.As(err, &de) {
		de.Server = ""
	}
	return err
}

// redact drops userinfo and query, which may carry credentials (e.g.
// pre-signed S3 URLs), so errors can be logged and returned to users.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

func redactString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return redact(u)
}
