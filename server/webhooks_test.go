package server

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whospoke/whospoke/api"
)

// One team's slow receiver holds none of another team's webhooks: the
// other team's arrives while six slow ones are still hanging.
func TestSlowWebhookDelaysNoOtherTeam(t *testing.T) {
	fastArrived := make(chan struct{})
	var gaveUp atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-fastArrived:
		case <-time.After(15 * time.Second): // far beyond a fair dispatcher's need
			gaveUp.Add(1)
		}
	}))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(fastArrived)
	}))
	defer fast.Close()
	ts := startServer(t, func(c *Config) {
		c.AllowPrivateURLs = true // receivers on loopback
		c.WebhookTimeout = 30 * time.Second
	})
	otherKey, _, err := CreateKey(t.Context(), ts.store, "other", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		ts.wait(t, ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: "media://missing.wav", Webhook: slow.URL}))
	}
	resp, body := ts.do(t, "POST", "/v1/diarize", otherKey, api.DiarizeRequest{URL: "media://missing.wav", Webhook: fast.URL})
	if resp.StatusCode != 200 {
		t.Fatalf("other team's job: %d %s", resp.StatusCode, body)
	}
	select {
	case <-fastArrived:
	case <-time.After(60 * time.Second):
		t.Fatal("the other team's webhook never arrived")
	}
	if n := gaveUp.Load(); n > 0 {
		t.Fatalf("%d slow deliveries gave up waiting before the other team's webhook arrived", n)
	}
}
