// Package server is whospoke's HTTP service: the pyannoteAI-compatible batch
// API (jobs, media, voiceprints, identification, webhooks) over a store, a
// job queue and a media store, with the workers that run the jobs.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/whospoke/whospoke/api"
	"github.com/whospoke/whospoke/diarize"
	"github.com/whospoke/whospoke/fetch"
	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/livetranscribe"
	"github.com/whospoke/whospoke/media"
	"github.com/whospoke/whospoke/queue"
	"github.com/whospoke/whospoke/store"
	"github.com/whospoke/whospoke/webhook"
)

// Config holds the server's settings; zero values take the defaults below.
type Config struct {
	// PublicURL is the base URL clients reach this server at; pre-signed
	// media URLs start with it (default http://<listen address>).
	PublicURL string
	// DataDir holds temporary downloads (and, by default, the database, the
	// queue and media; those are opened by the caller).
	DataDir string
	// Node names this process in logs and in jobs it runs (default hostname-pid).
	Node string
	// Workers is how many jobs run at once (default one per 2 cores).
	Workers int
	// AllowPrivateURLs lets input and webhook URLs point at private,
	// loopback and link-local addresses (off: SSRF protection).
	AllowPrivateURLs bool
	MaxFileBytes     int64         // default 1 GiB
	MaxDuration      time.Duration // default 24 h
	SubmitPerMinute  int           // per team, default 100; <0 = unlimited
	PollPerMinute    int           // per team, default 300; <0 = unlimited
	MediaURLTTL      time.Duration // pre-signed URL lifetime, default 1 h
	OutputRetention  time.Duration // default 24 h
	MediaRetention   time.Duration // default 48 h
	JanitorEvery     time.Duration // default 10 min
	WebhookTimeout   time.Duration // default 10 s
	WebhookDelays    []time.Duration
	WebhookPoll      time.Duration // how often queued deliveries are looked for, default 1 s
	// MaxAttempts is how many times a job may be started before it is
	// failed instead (default 3): an attempt counts when its worker vanished
	// mid-job (crash, OOM kill), not when it was handed back (shutdown, lost
	// NATS lease).
	MaxAttempts int
	// MediaQuotaBytes is what one team may keep in uploaded media (default
	// 20 GiB; <0 = no quota). Retention frees it.
	MediaQuotaBytes int64
	// ShutdownGrace is how long running jobs may finish at shutdown before
	// they are handed back to the queue (default 30 s).
	ShutdownGrace time.Duration

	// Live streams (docs/API.md §2).
	LiveTokenTTL       time.Duration // an unused stream token expires, default 60 s
	LiveStreamsPerTeam int           // concurrent streams per team, default 10
	// LiveMaxAhead is how far ahead of real time a client may send audio
	// before its stream is closed (default 5 s; <0 = no limit, for tests
	// and benchmarks that stream faster than real time).
	LiveMaxAhead    time.Duration
	LiveIdle        time.Duration // no audio this long closes a stream, default 5 s
	LiveMaxDuration time.Duration // default 5 h
	Logger          *slog.Logger
}

func (c *Config) defaults() {
	if c.Node == "" {
		h, _ := os.Hostname()
		c.Node = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if c.Workers <= 0 {
		c.Workers = max(1, runtime.NumCPU()/2)
	}
	setDefault(&c.MaxFileBytes, 1<<30)
	setDefault(&c.MaxDuration, 24*time.Hour)
	setDefault(&c.SubmitPerMinute, 100)
	setDefault(&c.PollPerMinute, 300)
	setDefault(&c.MediaURLTTL, time.Hour)
	setDefault(&c.OutputRetention, 24*time.Hour)
	setDefault(&c.MediaRetention, 48*time.Hour)
	setDefault(&c.JanitorEvery, 10*time.Minute)
	setDefault(&c.WebhookTimeout, webhook.DefaultTimeout)
	setDefault(&c.WebhookPoll, time.Second)
	setDefault(&c.MaxAttempts, 3)
	setDefault(&c.MediaQuotaBytes, 20<<30)
	setDefault(&c.ShutdownGrace, 30*time.Second)
	setDefault(&c.LiveTokenTTL, 60*time.Second)
	setDefault(&c.LiveStreamsPerTeam, 10)
	setDefault(&c.LiveMaxAhead, 5*time.Second)
	setDefault(&c.LiveIdle, 5*time.Second)
	setDefault(&c.LiveMaxDuration, 5*time.Hour)
	if c.WebhookDelays == nil {
		c.WebhookDelays = webhook.DefaultDelays
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Transcriber adds speaker-attributed transcription to diarize jobs. A server
// without one answers `transcription: true` with 400.
type Transcriber interface {
	// CheckModel refuses unknown transcription model names ("" = default).
	CheckModel(name string) error
	Transcribe(ctx context.Context, src diarize.Source, res *diarize.Result, model string) (api.Transcription, error)
}

// Deps are the parts the server runs on; the caller opens and closes them.
type Deps struct {
	Store store.Store
	Queue *queue.Queue
	Media media.Store
	// MediaSecret signs pre-signed media URLs; nodes sharing media must share it.
	MediaSecret []byte
	// Pipeline is the loaded engine all workers share (it is safe for
	// concurrent use; models are loaded once per process).
	Pipeline    *diarize.Pipeline
	Transcriber Transcriber // optional
	// Live runs live streams; without it POST /v1/live answers 503. Its
	// models may be the pipeline's or (better for many streams: one thread
	// per call) a set of their own.
	Live *live.Engine
	// LiveTranscriber runs live transcription (AssemblyAI v3 /v3/ws, OpenAI
	// Realtime transcription, `transcription: true` on Live); without it
	// those answer 503 (400 for the Live extension).
	LiveTranscriber *livetranscribe.Engine
}

// Server is one whospoke node.
type Server struct {
	cfg         Config
	store       store.Store
	queue       *queue.Queue
	media       media.Store
	signer      media.Signer
	pipeline    *diarize.Pipeline
	transcriber Transcriber
	fetcher     *fetch.Client
	sender      *webhook.Sender
	limiter     *limiter
	metrics     *metrics
	log         *slog.Logger
	handler     http.Handler
	checkURL    func(raw string) error

	// running maps job IDs being worked on here to their cancel functions.
	mu      sync.Mutex
	running map[string]context.CancelFunc

	live *live.Engine
	// livetext is Deps.LiveTranscriber (nil: no live transcription).
	livetext *livetranscribe.Engine
	// openText opens its sessions (nil without it; tests may script it).
	openText func(livetranscribe.Options) (textSession, error)
	// liveCtx ends at shutdown: open streams flush and close. liveWG counts
	// them; liveStopped refuses new ones once shutdown has begun.
	liveCtx     context.Context
	liveStop    context.CancelFunc
	liveMu      sync.Mutex
	liveWG      sync.WaitGroup
	liveStopped bool
}

// New builds a server on deps.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.defaults()
	if deps.Store == nil || deps.Queue == nil || deps.Media == nil {
		return nil, errors.New("server: store, queue and media are required")
	}
	if deps.Pipeline == nil {
		return nil, errors.New("server: a loaded pipeline is required")
	}
	if len(deps.MediaSecret) < 16 {
		return nil, errors.New("server: media secret must be at least 16 bytes")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: data directory required")
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		store:       deps.Store,
		queue:       deps.Queue,
		media:       deps.Media,
		signer:      media.Signer{Secret: deps.MediaSecret, BaseURL: cfg.PublicURL},
		pipeline:    deps.Pipeline,
		transcriber: deps.Transcriber,
		fetcher:     &fetch.Client{AllowPrivate: cfg.AllowPrivateURLs, MaxBytes: cfg.MaxFileBytes},
		limiter:     newLimiter(),
		log:         cfg.Logger,
		running:     map[string]context.CancelFunc{},
		live:        deps.Live,
		livetext:    deps.LiveTranscriber,
		openText:    textSessions(deps.LiveTranscriber),
	}
	s.liveCtx, s.liveStop = context.WithCancel(context.Background())
	s.sender = &webhook.Sender{Client: s.fetcher.HTTPClient(), Timeout: cfg.WebhookTimeout}
	s.checkURL = func(raw string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return fetch.CheckURL(ctx, raw, cfg.AllowPrivateURLs)
	}
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	return s, nil
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// SetPublicURL sets the base of pre-signed URLs once the listen address is known.
func (s *Server) SetPublicURL(u string) {
	s.cfg.PublicURL = u
	s.signer.BaseURL = u
}

// Serve answers HTTP on l and runs the workers, the webhook dispatcher and the
// janitor until ctx is done; then it stops taking requests and jobs, lets
// running jobs finish for ShutdownGrace (handing the rest back to the queue)
// and returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if s.cfg.PublicURL == "" {
		s.SetPublicURL("http://" + l.Addr().String())
	}
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	// loops stop with ctx, or when the listener fails.
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	// Jobs get their own context: at shutdown they may finish within the grace period.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var wg sync.WaitGroup
	wg.Go(func() { s.queue.Consume(ctx, jobCtx, s.cfg.Workers, s.runJob) })
	wg.Go(func() { s.dispatchWebhooks(ctx) })
	wg.Go(func() { s.janitor(ctx) })
	s.log.Info("whospoke serving", "addr", l.Addr().String(), "node", s.cfg.Node, "workers", s.cfg.Workers)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stop()
	s.log.Info("shutting down", "node", s.cfg.Node)
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	s.stopLive()
	grace := time.AfterFunc(s.cfg.ShutdownGrace, cancelJobs)
	defer grace.Stop()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// stopLive makes open live streams flush and close, and waits for them.
func (s *Server) stopLive() {
	s.liveMu.Lock()
	s.liveStopped = true
	s.liveMu.Unlock()
	s.liveStop()
	s.liveWG.Wait()
}

// liveStarted counts a new live connection in, unless shutdown has begun.
func (s *Server) liveStarted() bool {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.liveStopped {
		return false
	}
	s.liveWG.Add(1)
	return true
}

// newID makes a job ID.
func newID() string { return uuid.NewString() }
