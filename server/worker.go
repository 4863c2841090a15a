package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/audio"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/identify"
	"github.com/whospoke/whospoke/internal/safego"
	"github.com/whospoke/whospoke/media"
	"github.com/whospoke/whospoke/output"
	"github.com/whospoke/whospoke/store"
)

// jobError is a failure to report in the job's output.error, as opposed to
// an infrastructure failure that should have the job retried.
type jobError struct{ msg string }

func (e *jobError) Error() string { return e.msg }

func failf(format string, a ...any) error { return &jobError{msg: fmt.Sprintf(format, a...)} }

// runJob is the queue handler. It returns nil once the job's outcome is
// stored (or there is nothing to do), an error to have the job redelivered.
func (s *Server) runJob(ctx context.Context, id string) error {
	j, err := s.store.StartJob(ctx, id, s.cfg.Node)
	switch {
	case errors.Is(err, store.ErrTerminal), errors.Is(err, store.ErrNotFound):
		return nil // canceled before it ran, or already finished by another node
	case err != nil:
		return err
	}
	if j.Attempts > s.cfg.MaxAttempts {
		// Each earlier attempt ended with its worker gone (a crash or an OOM
		// kill); don't let one input take down node after node.
		s.log.Error("job failed: too many attempts", "job", id, "attempts", j.Attempts-1)
		return s.finish(ctx, j, api.StatusFailed, errorOutput(fmt.Sprintf(
			"Job failed: processing stopped unexpectedly %d times (the server crashed or was restarted); not retrying", j.Attempts-1)), 0, time.Now())
	}
	if j.Attempts > 1 {
		s.log.Info("job redelivered", "job", id, "attempt", j.Attempts)
	}
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.running[id] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, id)
		s.mu.Unlock()
	}()
	go s.watchCancel(jobCtx, cancel, id)

	start := time.Now()
	out, seconds, runErr := s.executeSafe(jobCtx, j)
	if ctx.Err() != nil {
		// Shutting down (or our lease is lost): hand the job back uncounted.
		if err := s.store.ReleaseJob(context.WithoutCancel(ctx), id); err != nil {
			s.log.Warn("release job", "job", id, "err", err)
		}
		return ctx.Err()
	}
	if jobCtx.Err() != nil {
		return nil // canceled by the user; already terminal
	}
	status := api.StatusSucceeded
	var jerr *jobError
	var perr *safego.PanicError
	switch {
	case errors.As(runErr, &jerr):
		status, out = api.StatusFailed, errorOutput(jerr.msg)
	case errors.As(runErr, &perr):
		// A panic on one of the engine's own goroutines, caught there.
		s.log.Error("panic in job", "job", id, "panic", perr.Value, "stack", string(perr.Stack))
		status, out = api.StatusFailed, errorOutput(panicMessage)
	case runErr != nil:
		// The details (paths, addresses) go to the log, not to the user.
		s.log.Error("job failed", "job", id, "err", runErr)
		status, out = api.StatusFailed, errorOutput("Internal error: the server could not process this job")
	}
	return s.finish(ctx, j, status, out, seconds, start)
}

func errorOutput(msg string) json.RawMessage {
	out, _ := json.Marshal(api.ErrorOutput{Error: msg})
	return out
}

// finish stores a job's outcome and queues its webhook.
func (s *Server) finish(ctx context.Context, j store.Job, status string, out json.RawMessage, seconds float64, start time.Time) error {
	if _, err := s.store.FinishJob(ctx, j.ID, status, out, s.delivery(j, status, out)); err != nil {
		if errors.Is(err, store.ErrTerminal) {
			return nil
		}
		return err
	}
	s.metrics.jobsFinished.WithLabelValues(status).Inc()
	if status == api.StatusSucceeded && seconds > 0 {
		s.metrics.audioSeconds.Add(seconds)
		s.metrics.rtf.Observe(time.Since(start).Seconds() / seconds)
	}
	s.log.Info("job done", "job", j.ID, "kind", j.Kind, "status", status, "audio_s", seconds, "wall_s", time.Since(start).Seconds())
	return nil
}

// panicMessage is a job's error when processing it panicked.
const panicMessage = "Internal error: the server could not process this input"

// executeSafe is execute with a panic turned into a failed job: one bad
// input must not take down the node and the live streams it carries.
func (s *Server) executeSafe(ctx context.Context, j store.Job) (out json.RawMessage, seconds float64, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in job", "job", j.ID, "panic", v, "stack", string(debug.Stack()))
			out, err = nil, failf(panicMessage)
		}
	}()
	return s.execute(ctx, j)
}

// watchCancel stops a job canceled through any node.
func (s *Server) watchCancel(ctx context.Context, cancel context.CancelFunc, id string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if j, err := s.store.Job(ctx, "", id); err == nil && j.Status == api.StatusCanceled {
				cancel()
				return
			}
		}
	}
}

// stopLocal cancels a job running on this node.
func (s *Server) stopLocal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cancel := s.running[id]; cancel != nil {
		cancel()
	}
}

// delivery prepares the webhook of a finished job, or nil when it has none.
func (s *Server) delivery(j store.Job, status string, out json.RawMessage) *store.Delivery {
	if j.Webhook == "" {
		return nil
	}
	payload := struct {
		JobID  string          `json:"jobId"`
		Status string          `json:"status"`
		Output json.RawMessage `json:"output,omitempty"`
	}{JobID: j.ID, Status: status}
	if !j.WebhookStatusOnly {
		payload.Output = out
	}
	body, _ := json.Marshal(payload)
	now := time.Now().UTC()
	return &store.Delivery{JobID: j.ID, TeamID: j.TeamID, URL: j.Webhook, Body: body, NextAt: now, Status: store.DeliveryPending, CreatedAt: now}
}

// execute runs one job and returns its output and the seconds of audio.
func (s *Server) execute(ctx context.Context, j store.Job) (json.RawMessage, float64, error) {
	var req api.IdentifyRequest // a superset of the three request kinds
	if err := json.Unmarshal(j.Request, &req); err != nil {
		return nil, 0, fmt.Errorf("stored request: %w", err)
	}
	src, cleanup, err := s.openInput(ctx, j.TeamID, req.URL)
	if err != nil {
		return nil, 0, err
	}
	defer cleanup()
	seconds := src.Duration()
	if j.Kind == api.KindVoiceprint {
		out, err := s.voiceprintOutput(ctx, src)
		return out, seconds, err
	}
	// Concurrency is bounded by the queue's Workers consumers; the pipeline
	// is safe for concurrent use.
	res, err := s.pipeline.Diarize(ctx, src, diarizeOptions(req))
	if err != nil {
		if ctx.Err() != nil {
			return nil, seconds, ctx.Err()
		}
		return nil, seconds, err
	}
	jopt := output.JSONOptions{Exclusive: req.Exclusive, Confidence: req.Confidence, TurnLevelConfidence: req.TurnLevelConfidence}
	dout := output.JSON(res, jopt)
	if j.Kind == api.KindDiarize {
		if req.Transcription {
			if dout, err = s.transcript(ctx, src, res, req, jopt); err != nil {
				return nil, seconds, err
			}
		}
		out, err := json.Marshal(dout)
		return out, seconds, err
	}
	out, err := s.identification(ctx, src, res, req, dout)
	return out, seconds, err
}

// voiceprintOutput is a voiceprint job's output.
func (s *Server) voiceprintOutput(ctx context.Context, src *audio.Audio) (json.RawMessage, error) {
	vec, warning, err := identify.Voiceprint(ctx, s.pipeline, src)
	switch {
	case errors.Is(err, identify.ErrNoSpeech), errors.Is(err, identify.ErrTooLong):
		return nil, failf("%s", upperFirst(err.Error()))
	case err != nil:
		return nil, err
	}
	return json.Marshal(struct {
		api.VoiceprintOutput
		Warning string `json:"warning,omitempty"`
	}{api.VoiceprintOutput{Voiceprint: identify.Encode(vec)}, warning})
}

// diarizeOptions are a request's speaker counts: an exact count overrides
// the bounds.
func diarizeOptions(req api.IdentifyRequest) diarize.Options {
	opt := diarize.Options{}
	if req.NumSpeakers != nil {
		opt.NumSpeakers = *req.NumSpeakers
		return opt
	}
	if req.MinSpeakers != nil {
		opt.MinSpeakers = *req.MinSpeakers
	}
	if req.MaxSpeakers != nil {
		opt.MaxSpeakers = *req.MaxSpeakers
	}
	return opt
}

// transcript is a diarization job's output with the words said
// (transcription: true).
func (s *Server) transcript(ctx context.Context, src *audio.Audio, res *diarize.Result, req api.IdentifyRequest, jopt output.JSONOptions) (api.DiarizeOutput, error) {
	if s.transcriber == nil {
		return api.DiarizeOutput{}, failf("Transcription is not available on this server")
	}
	model := ""
	if req.TranscriptionConfig != nil {
		model = req.TranscriptionConfig.Model
	}
	tr, err := s.transcriber.Transcribe(ctx, src, res, model)
	if err != nil {
		return api.DiarizeOutput{}, err
	}
	return output.TranscriptJSON(res, tr, jopt), nil
}

// identification is an identify job's output: the diarization, and its
// speakers matched to the request's voiceprints.
func (s *Server) identification(ctx context.Context, src *audio.Audio, res *diarize.Result, req api.IdentifyRequest, dout api.DiarizeOutput) (json.RawMessage, error) {
	prints, err := identify.DecodeInputs(req.Voiceprints)
	if err != nil {
		return nil, failf("%s", err.Error())
	}
	embs, err := identify.SpeakerEmbeddings(ctx, s.pipeline, src, res)
	if err != nil {
		return nil, err
	}
	exclusive, threshold := true, 0.0
	if m := req.Matching; m != nil {
		if m.Exclusive != nil {
			exclusive = *m.Exclusive
		}
		if m.Threshold != nil {
			threshold = *m.Threshold
		}
	}
	matches := identify.Match(embs, res.Speakers, prints, exclusive, threshold)
	return json.Marshal(api.IdentifyOutput{
		DiarizeOutput:  dout,
		Identification: identify.Output(res, matches),
		Voiceprints:    matches,
	})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// openInput opens a job's input as audio; cleanup releases it.
func (s *Server) openInput(ctx context.Context, team, rawURL string) (*audio.Audio, func(), error) {
	path, removeFile, err := s.localInput(ctx, team, rawURL)
	if err != nil {
		return nil, nil, err
	}
	opt := audio.DefaultOptions()
	opt.MaxDuration = s.cfg.MaxDuration
	opt.TempDir = filepath.Join(s.cfg.DataDir, "tmp")
	src, err := audio.Open(ctx, path, opt)
	if err != nil {
		removeFile()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, failf("Could not load audio: %s", s.scrub(err.Error(), path, rawURL))
	}
	return src, func() { src.Close(); removeFile() }, nil
}

// scrub replaces the server's local file path in a message (ffmpeg and the
// decoder name the file they read) with the user's URL, and the data
// folder with nothing: users see their words, not the server's layout.
func (s *Server) scrub(msg, path, rawURL string) string {
	return strings.NewReplacer(path, rawURL, s.cfg.DataDir+string(os.PathSeparator), "", s.cfg.DataDir, "").Replace(msg)
}

// mediaError turns a media store's refusal into the user's words; other
// errors (storage down) stay internal: logged, not shown.
func mediaError(err error, rawURL string) error {
	switch {
	case errors.Is(err, media.ErrNotFound):
		return failf("Could not load audio: no media uploaded at %s", rawURL)
	case errors.Is(err, media.ErrInvalidKey):
		return failf("Could not load audio: %s is not a valid media URL", rawURL)
	case errors.Is(err, media.ErrTooLarge):
		return failf("Could not load audio: %s is too large", rawURL)
	}
	return err
}

// localMedia is a media store whose objects are local files (media.Dir):
// jobs read those in place instead of copying them first.
type localMedia interface {
	LocalPath(ctx context.Context, team, key string) (string, error)
}

// localInput returns a local file holding a job's input and the function
// that removes it when it is a temporary copy (download or remote media).
func (s *Server) localInput(ctx context.Context, team, rawURL string) (string, func(), error) {
	key, isMedia := strings.CutPrefix(rawURL, "media://")
	if lm, ok := s.media.(localMedia); ok && isMedia {
		path, err := lm.LocalPath(ctx, team, key)
		if err != nil {
			return "", nil, mediaError(err, rawURL)
		}
		return path, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Join(s.cfg.DataDir, "tmp"), "input-*")
	if err != nil {
		return "", nil, err
	}
	remove := func() { f.Close(); os.Remove(f.Name()) }
	if isMedia {
		rc, _, err := s.media.Open(ctx, team, key)
		if err != nil {
			remove()
			return "", nil, mediaError(err, rawURL)
		}
		n, err := io.Copy(f, io.LimitReader(rc, s.cfg.MaxFileBytes+1))
		rc.Close()
		if err == nil && n > s.cfg.MaxFileBytes {
			// Refused, not truncated: a cut file would give a wrong result.
			err = failf("Could not load audio: %s is larger than %d bytes", rawURL, s.cfg.MaxFileBytes)
		}
		if err != nil {
			remove()
			return "", nil, err
		}
	} else if _, err := s.fetcher.Download(ctx, rawURL, f); err != nil {
		remove()
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		return "", nil, failf("Could not load audio: %v", err)
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}
