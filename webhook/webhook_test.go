package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whospoke/whospoke/fetch"
)

const secret = "team-secret"

func TestSignMatchesContract(t *testing.T) {
	body := []byte(`{"jobId":"j1","status":"succeeded"}`)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:1700000000:" + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	if got := Sign(secret, 1700000000, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !Verify(secret, "1700000000", body, want) || !Verify(secret, "1700000000", body, strings.ToUpper(want)) {
		t.Fatal("Verify rejects a valid signature")
	}
	for name, ok := range map[string]bool{
		"body":   Verify(secret, "1700000000", append(body, ' '), want),
		"ts":     Verify(secret, "1700000001", body, want),
		"secret": Verify("other", "1700000000", body, want),
		"nothex": Verify(secret, "1700000000", body, "zz"+want[2:]),
		"empty":  Verify(secret, "1700000000", body, ""),
	} {
		if ok {
			t.Errorf("Verify accepted tampered %s", name)
		}
	}
}

func TestNextDelay(t *testing.T) {
	cases := []struct {
		attempt int
		d       time.Duration
		ok      bool
	}{{0, 0, true}, {1, 0, true}, {2, time.Minute, true}, {3, 5 * time.Minute, true}, {4, 0, false}}
	for _, c := range cases {
		d, ok := NextDelay(c.attempt, DefaultDelays)
		if d != c.d || ok != c.ok {
			t.Errorf("NextDelay(%d) = %v,%v want %v,%v", c.attempt, d, ok, c.d, c.ok)
		}
	}
}

func TestDeliverSignedWithRetryHeaders(t *testing.T) {
	type seen struct {
		ct, num, reason, id string
		ok                  bool
	}
	got := make(chan seen, 2)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-Request-Timestamp")
		n, err := strconv.ParseInt(ts, 10, 64)
		fresh := err == nil && time.Since(time.Unix(n, 0)).Abs() < time.Minute
		got <- seen{
			ct:     r.Header.Get("Content-Type"),
			num:    r.Header.Get("x-retry-num"),
			reason: r.Header.Get("x-retry-reason"),
			id:     r.Header.Get("X-Webhook-Id"),
			ok:     r.Method == http.MethodPost && fresh && Verify(secret, ts, body, r.Header.Get("X-Signature")),
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer s.Close()

	snd := &Sender{}
	body := []byte(`{"jobId":"j1","status":"succeeded","output":{}}`)
	res := snd.Send(context.Background(), s.URL, secret, "d1", body, 0, "")
	if !res.Delivered || res.Reason != "" || res.StatusCode != 204 || res.Err != nil {
		t.Fatalf("first attempt: %+v", res)
	}
	if v := <-got; !v.ok || v.ct != "application/json" || v.num != "" || v.reason != "" || v.id != "d1" {
		t.Fatalf("first attempt headers: %+v", v)
	}
	res = snd.Send(context.Background(), s.URL, secret, "d1", body, 2, ReasonHTTPTimeout)
	if !res.Delivered {
		t.Fatalf("retry: %+v", res)
	}
	if v := <-got; !v.ok || v.num != "2" || v.reason != "http_timeout" || v.id != "d1" {
		t.Fatalf("retry headers: %+v", v)
	}
}

func TestFailureReasons(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()

	untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the expected handshake failure
	untrusted.StartTLS()
	defer untrusted.Close()

	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+"/again", http.StatusTemporaryRedirect)
	}))
	defer loop.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hook"
	l.Close()

	safe := (&fetch.Client{}).HTTPClient()

	cases := []struct {
		name   string
		sender *Sender
		url    string
		reason string
		status int
	}{
		{"http_error", &Sender{}, failing.URL, ReasonHTTPError, 500},
		{"timeout", &Sender{Timeout: 100 * time.Millisecond}, slow.URL, ReasonHTTPTimeout, 0},
		{"closed port", &Sender{}, closed, ReasonConnectionFailed, 0},
		{"untrusted cert", &Sender{}, untrusted.URL, ReasonSSLError, 0},
		{"tls to plain http", &Sender{}, strings.Replace(failing.URL, "http:", "https:", 1), ReasonSSLError, 0},
		{"redirect loop", &Sender{}, loop.URL, ReasonTooManyRedirects, 0},
		{"redirect loop, fetch client", &Sender{Client: (&fetch.Client{AllowPrivate: true, MaxRedirects: 2}).HTTPClient()}, loop.URL, ReasonTooManyRedirects, 0},
		{"private address refused", &Sender{Client: safe}, failing.URL, ReasonConnectionFailed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			res := c.sender.Send(context.Background(), c.url+"?token=hidden", secret, "d1", []byte(`{}`), 0, "")
			if res.Delivered || res.Reason != c.reason || res.StatusCode != c.status || res.Err == nil {
				t.Fatalf("got %+v (err %v), want reason %s status %d", res, res.Err, c.reason, c.status)
			}
			if strings.Contains(res.Err.Error(), "hidden") {
				t.Fatalf("error leaks query: %v", res.Err)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			t.Logf("%s: %v", res.Reason, res.Err)
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example.com/a/b?t=1#x": "https://hooks.example.com/a/b",
		"http://h/p":                    "http://h/p",
		"http://h/p@q?x":                "http://h/p@q",
		"https://a@b@host:8443/x?token": "https://host:8443/x",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
