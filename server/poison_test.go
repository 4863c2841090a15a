package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/internal/safego"
	"github.com/whospoke/whospoke/store"
)

// panickyTranscriber stands in for a bug deep in the engine that one input
// triggers.
type panickyTranscriber struct{}

func (panickyTranscriber) CheckModel(string) error { return nil }
func (panickyTranscriber) Transcribe(context.Context, diarize.Source, *diarize.Result, string) (api.Transcription, error) {
	panic("index out of range in a poisonous input")
}

// workerPanicTranscriber panics on a goroutine of its own, as a bug in the
// whisper front end's workers would; safego hands the panic back to it.
type workerPanicTranscriber struct{}

func (workerPanicTranscriber) CheckModel(string) error { return nil }
func (workerPanicTranscriber) Transcribe(context.Context, diarize.Source, *diarize.Result, string) (api.Transcription, error) {
	var g safego.Group
	g.Go(func() { panic("index out of range in a worker goroutine") })
	return api.Transcription{}, g.Wait()
}

// A panic while running a job, on the job's goroutine or on one the engine
// started, fails that job with a clear reason (the panic and its stack go
// to the log only); the node keeps serving and running jobs.
func TestPanicInJobFailsJobNotNode(t *testing.T) {
	ts := startServer(t, nil)
	url := ts.upload(t, "s.wav", sampleWAV(t))
	for _, tr := range []Transcriber{panickyTranscriber{}, workerPanicTranscriber{}} {
		ts.transcriber = tr
		j := ts.wait(t, ts.submit(t, "/v1/diarize", api.DiarizeRequest{URL: url, Transcription: true}))
		msg := decode[api.ErrorOutput](t, j.Output).Error
		if j.Status != api.StatusFailed || msg != panicMessage {
			t.Fatalf("%T: poisoned job: %s %s", tr, j.Status, j.Output)
		}
	}
	if j := ts.wait(t, ts.submit(t, "/v1/voiceprint", api.VoiceprintRequest{URL: url})); j.Status != api.StatusSucceeded {
		t.Fatalf("next job after the panic: %s %s", j.Status, j.Output)
	}
}

// A job whose earlier attempts each ended with its node gone (here: three
// starts that never finished) is failed with the reason, not run again.
func TestJobFailsAfterMaxAttempts(t *testing.T) {
	ts := startServer(t, nil)
	ctx := t.Context()
	team, err := ts.store.TeamByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(api.DiarizeRequest{URL: "media://never-read.wav"})
	j := store.Job{ID: newID(), TeamID: team.ID, Kind: api.KindDiarize, Status: api.StatusCreated, Request: req}
	if err := ts.store.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"a", "b", "c"} { // three nodes killed mid-job
		if _, err := ts.store.StartJob(ctx, j.ID, node); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.queue.Publish(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	got := ts.wait(t, j.ID)
	msg := decode[api.ErrorOutput](t, got.Output).Error
	if got.Status != api.StatusFailed || !strings.Contains(msg, "stopped unexpectedly 3 times") {
		t.Fatalf("job after 3 lost attempts: %s %s", got.Status, got.Output)
	}
}
