package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// serveOn starts a server on a specific loopback address; Linux routes all of
// 127/8 to lo, so 127.0.0.2 is a second, distinct "host".
func serveOn(t *testing.T, addr string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func TestLoopbackRefusedUnlessAllowed(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	ctx := context.Background()

	var buf bytes.Buffer
	_, err := (&Client{}).Download(ctx, s.URL, &buf)
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("want ErrPrivateAddress, got %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes despite refusal", buf.Len())
	}

	// By name too: the check sees the resolved address, not the string.
	byName := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	if _, err := (&Client{}).Download(ctx, byName, &buf); !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("localhost: want ErrPrivateAddress, got %v", err)
	}

	n, err := (&Client{AllowPrivate: true}).Download(ctx, s.URL, &buf)
	if err != nil || n != 5 || buf.String() != "hello" {
		t.Fatalf("AllowPrivate: n=%d err=%v body=%q", n, err, buf.String())
	}
}

func TestRedirectToNonAllowedAddressRefused(t *testing.T) {
	var hits atomic.Int32
	private := serveOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "secret")
	})
	public := serveOn(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/direct" {
			fmt.Fprint(w, "ok")
			return
		}
		http.Redirect(w, r, private.URL+"/meta", http.StatusFound)
	})
	// Only 127.0.0.1 plays "the internet"; 127.0.0.2 is non-public like any
	// internal host. The real dial-time check decides.
	c := &Client{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	var buf bytes.Buffer
	if _, err := c.Download(context.Background(), public.URL+"/direct", &buf); err != nil || buf.String() != "ok" {
		t.Fatalf("allowed host: err=%v body=%q", err, buf.String())
	}
	buf.Reset()
	_, err := c.Download(context.Background(), public.URL+"/go", &buf)
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("want ErrPrivateAddress after redirect, got %v", err)
	}
	if hits.Load() != 0 || buf.Len() != 0 {
		t.Fatalf("private target reached: hits=%d body=%q", hits.Load(), buf.String())
	}
}

func TestRedirectLimit(t *testing.T) {
	var s *httptest.Server
	s = serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.URL+r.URL.Path+"x", http.StatusFound)
	})
	_, err := (&Client{AllowPrivate: true}).Download(context.Background(), s.URL+"/", &bytes.Buffer{})
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("want ErrTooManyRedirects, got %v", err)
	}
}

func TestRedirectToBadScheme(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	_, err := (&Client{AllowPrivate: true}).Download(context.Background(), s.URL, &bytes.Buffer{})
	if !errors.Is(err, ErrBadScheme) {
		t.Fatalf("want ErrBadScheme, got %v", err)
	}
}

func TestSizeLimit(t *testing.T) {
	body := strings.Repeat("a", 1000)
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			// Flushing before writing forces chunked encoding: no Content-Length.
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, body)
	})
	ctx := context.Background()
	for _, path := range []string{"/length", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := (&Client{AllowPrivate: true, MaxBytes: 999}).Download(ctx, s.URL+path, &buf)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("want ErrTooLarge, got n=%d err=%v", n, err)
			}
			if buf.Len() > 999 {
				t.Fatalf("wrote %d bytes past the limit", buf.Len())
			}
			buf.Reset()
			n, err = (&Client{AllowPrivate: true, MaxBytes: 1000}).Download(ctx, s.URL+path, &buf)
			if err != nil || n != 1000 || buf.String() != body {
				t.Fatalf("exact limit: n=%d err=%v", n, err)
			}
		})
	}
}

func TestBadScheme(t *testing.T) {
	for _, u := range []string{"ftp://example.com/a.wav", "file:///etc/passwd", "example.com/a.wav", "gopher://x"} {
		if _, err := (&Client{}).Download(context.Background(), u, &bytes.Buffer{}); !errors.Is(err, ErrBadScheme) {
			t.Errorf("%s: want ErrBadScheme, got %v", u, err)
		}
		if err := CheckURL(context.Background(), u, true); !errors.Is(err, ErrBadScheme) {
			t.Errorf("CheckURL %s: want ErrBadScheme, got %v", u, err)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	s := serve(t, http.NotFound)
	_, err := (&Client{AllowPrivate: true}).Download(context.Background(), s.URL+"/missing.wav?token=secret", &bytes.Buffer{})
	if !errors.Is(err, ErrHTTPStatus) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want ErrHTTPStatus mentioning 404, got %v", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("want *StatusError 404, got %#v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error leaks query string: %v", err)
	}
}

func TestContextCanceled(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Client{AllowPrivate: true}).Download(ctx, s.URL, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		url  string
		priv bool
		want error
	}{
		{"http://127.0.0.1:8080/a", false, ErrPrivateAddress},
		{"http://localhost/a", false, ErrPrivateAddress},
		{"http://[::1]/a", false, ErrPrivateAddress},
		{"http://[::ffff:10.1.2.3]/a", false, ErrPrivateAddress},
		{"http://169.254.169.254/latest/meta-data", false, ErrPrivateAddress},
		{"https://8.8.8.8/a.wav", false, nil},
		{"http://127.0.0.1/a", true, nil},
		{"http:///nohost", false, errors.New("no host")},
	}
	for _, c := range cases {
		err := CheckURL(ctx, c.url, c.priv)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: unexpected %v", c.url, err)
		case c.want == ErrPrivateAddress && !errors.Is(err, ErrPrivateAddress):
			t.Errorf("%s: want ErrPrivateAddress, got %v", c.url, err)
		case c.want != nil && err == nil:
			t.Errorf("%s: want error", c.url)
		}
	}
	// Errors reach users: no resolver address ("lookup x on 10.0.0.2:53").
	if err := CheckURL(ctx, "http://does-not-exist.invalid/a", false); err == nil {
		t.Error("unresolvable host accepted")
	} else if strings.Contains(err.Error(), " on ") || strings.Contains(err.Error(), ":53") {
		t.Errorf("resolver address in %q", err)
	}
}

func TestIsPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"100.64.0.1": false, "100.127.255.255": false, "169.254.169.254": false,
		"0.0.0.0": false, "0.1.2.3": false, "255.255.255.255": false, "224.0.0.1": false,
		"::": false, "::1": false, "fe80::1": false, "fc00::1": false, "fd12::1": false,
		"ff02::1": false, "::ffff:127.0.0.1": false, "::ffff:192.168.0.1": false,
		"::ffff:8.8.8.8": true, "64:ff9b::a00:1": false, "64:ff9b::808:808": true,
		"fe80::1%eth0": false,
	} {
		if got := IsPublic(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestHTTPClientShared(t *testing.T) {
	c := &Client{}
	if c.HTTPClient() != c.HTTPClient() {
		t.Fatal("HTTPClient should return one shared client")
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	_, err := c.HTTPClient().Post(s.URL, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, ErrPrivateAddress) {
		t.Fatalf("want ErrPrivateAddress from shared client, got %v", err)
	}
}
