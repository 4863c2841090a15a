package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/whospoke/whospoke/live"
	"github.com/whospoke/whospoke/livetranscribe"
	"github.com/whospoke/whospoke/media"
	"github.com/whospoke/whospoke/models"
	"github.com/whospoke/whospoke/queue"
	"github.com/whospoke/whospoke/server"
	"github.com/whospoke/whospoke/store"
	"github.com/whospoke/whospoke/transcribe"
)

// Where the server keeps its state; shared by serve and keys.
var (
	dataDirFlag  string
	postgresFlag string
)

func addStoreFlags(c *cobra.Command) {
	c.Flags().StringVar(&dataDirFlag, "data", "", "data folder: SQLite database, embedded queue, media (default $WHOSPOKE_DATA, else the XDG data folder)")
	c.Flags().StringVar(&postgresFlag, "postgres", "", "PostgreSQL URL instead of the embedded SQLite database (default $WHOSPOKE_POSTGRES)")
}

// flagOrEnv returns a flag's value, else the environment variable's. Flags
// that may hold secrets default to "" and read the environment only at run
// time, so --help never prints a credential.
func flagOrEnv(flag, env string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(env)
}

func dataDir() string {
	switch {
	case dataDirFlag != "":
		return dataDirFlag
	case os.Getenv("WHOSPOKE_DATA") != "":
		return os.Getenv("WHOSPOKE_DATA")
	case os.Getenv("XDG_DATA_HOME") != "":
		return filepath.Join(os.Getenv("XDG_DATA_HOME"), "whospoke", "server")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "whospoke", "server")
}

func openStore(ctx context.Context) (store.Store, error) {
	if pg := flagOrEnv(postgresFlag, "WHOSPOKE_POSTGRES"); pg != "" {
		return store.Open(ctx, pg)
	}
	dir := dataDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return store.Open(ctx, "sqlite://"+filepath.Join(dir, "whospoke.db"))
}

// serveOptions are serve's flags.
type serveOptions struct {
	addr, publicURL, natsURL, s3URL, mediaSecret string
	cfg                                          server.Config
	ackWait, liveMaxAhead                        time.Duration
	webhookDelays                                string
}

func init() {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: pyannoteAI batch and Live APIs, AssemblyAI and OpenAI live sockets, the web page",
		Long: `Run the server (docs/API.md): the pyannoteAI batch API and Live WebSocket,
AssemblyAI's /v3/ws and OpenAI's /v1/realtime transcription sockets, and the
web page at /. With no flags it needs nothing else:
SQLite, an embedded NATS JetStream queue and a media folder live in --data.
--nats, --postgres and --s3 switch each to an external service, so many nodes
can share one queue, database and media bucket.`,
		Example: `  whospoke keys create --name laptop        # the key is the last line
  whospoke serve                             # http://localhost:8080, the page at /
  whospoke serve --addr 127.0.0.1:9000 --data /srv/whospoke
  whospoke serve --nats nats://n1:4222 --postgres postgres://… --s3 s3://KEY:SECRET@minio:9000/media`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, o) },
	}
	addServeFlags(c, &o)
	addStoreFlags(c)
	addModelsFlag(c)
	addThreadsFlag(c)
	rootCmd.AddCommand(c)
}

func addServeFlags(c *cobra.Command, o *serveOptions) {
	f, cfg := c.Flags(), &o.cfg
	f.StringVar(&o.addr, "addr", ":8080", "listen address")
	f.StringVar(&o.publicURL, "public-url", "", "base URL clients reach this server at, for pre-signed media URLs (default http://<addr>)")
	f.StringVar(&o.natsURL, "nats", "", "external NATS URL instead of the embedded server (default $WHOSPOKE_NATS)")
	f.StringVar(&o.s3URL, "s3", "", "S3 media bucket s3://ACCESS:SECRET@host:port/bucket?ssl=false instead of the media folder (default $WHOSPOKE_S3)")
	f.StringVar(&o.mediaSecret, "media-secret", "", "secret signing pre-signed media URLs; nodes sharing media must share it (default $WHOSPOKE_MEDIA_SECRET, else generated once in the data folder)")
	f.IntVar(&cfg.Workers, "workers", 0, "jobs run at once (default one per 2 cores)")
	f.BoolVar(&cfg.AllowPrivateURLs, "allow-private-urls", false, "let input and webhook URLs point at private, loopback and link-local addresses")
	f.IntVar(&cfg.SubmitPerMinute, "submit-limit", 0, "job submissions per team per minute (default 100, -1 = unlimited)")
	f.IntVar(&cfg.PollPerMinute, "poll-limit", 0, "job polls per team per minute (default 300, -1 = unlimited)")
	f.StringVar(&o.webhookDelays, "webhook-delays", "", "delays before webhook retries 1-3 (default 0s,1m,5m)")
	f.DurationVar(&o.ackWait, "ack-wait", 0, "a running job with no heartbeat for this long is redelivered (default 30s)")
	f.Int64Var(&cfg.MediaQuotaBytes, "media-quota", 0, "bytes of uploaded media one team may keep (default 20 GiB, -1 = no quota)")
	f.IntVar(&cfg.MaxAttempts, "max-attempts", 0, "times a job is started before it is failed, counting only attempts whose node vanished mid-job (default 3)")
	f.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 0, "time running jobs get to finish at shutdown before they are requeued (default 30s)")
	f.StringVar(&cfg.Node, "node", "", "node name in logs and jobs (default host-pid)")
	f.DurationVar(&o.liveMaxAhead, "live-max-ahead", 5*time.Second, "close a live stream whose audio runs this far ahead of real time (0 = no limit)")
	f.IntVar(&cfg.LiveStreamsPerTeam, "live-streams", 0, "concurrent live streams per team (default 10)")
}

// runServe opens the store, queue and media, loads the engines and serves
// until ctx ends. Secrets come from the environment at run time, never as
// flag defaults (help would print them).
func runServe(cmd *cobra.Command, o serveOptions) error {
	ctx := cmd.Context()
	o.natsURL = flagOrEnv(o.natsURL, "WHOSPOKE_NATS")
	o.s3URL = flagOrEnv(o.s3URL, "WHOSPOKE_S3")
	o.mediaSecret = flagOrEnv(o.mediaSecret, "WHOSPOKE_MEDIA_SECRET")
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	dir := dataDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := o.serverConfig(dir, log)
	if err != nil {
		return err
	}
	deps, closeDeps, err := openServeDeps(ctx, o, dir, log)
	defer closeDeps()
	if err != nil {
		return err
	}
	srv, err := server.New(cfg, deps)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	// Scripts and tests read the bound address (useful with --addr 127.0.0.1:0).
	fmt.Fprintf(cmd.OutOrStdout(), "listening on http://%s\n", l.Addr())
	return srv.Serve(ctx, l)
}

// serverConfig is the server's configuration from the flags.
func (o serveOptions) serverConfig(dir string, log *slog.Logger) (server.Config, error) {
	cfg := o.cfg
	for _, f := range strings.Split(o.webhookDelays, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return cfg, fmt.Errorf("--webhook-delays: %w", err)
		}
		cfg.WebhookDelays = append(cfg.WebhookDelays, d)
	}
	cfg.LiveMaxAhead = o.liveMaxAhead
	if o.liveMaxAhead == 0 {
		cfg.LiveMaxAhead = -1
	}
	cfg.DataDir, cfg.PublicURL, cfg.Logger = dir, o.publicURL, log
	return cfg, nil
}

// openServeDeps opens what the server runs on: store, queue, media and the
// engines. closeAll closes whatever was opened, also after an error.
func openServeDeps(ctx context.Context, o serveOptions, dir string, log *slog.Logger) (deps server.Deps, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if deps.MediaSecret, err = mediaSigningSecret(dir, o.mediaSecret); err != nil {
		return deps, closeAll, err
	}
	if deps.Store, err = openStore(ctx); err != nil {
		return deps, closeAll, err
	}
	closers = append(closers, func() { deps.Store.Close() })
	q, err := queue.Open(ctx, queue.Config{URL: o.natsURL, DataDir: dir, AckWait: o.ackWait})
	if err != nil {
		return deps, closeAll, err
	}
	deps.Queue = q
	closers = append(closers, func() { q.Close() })
	if deps.Media, err = openMedia(ctx, o.s3URL, dir); err != nil {
		return deps, closeAll, err
	}
	err = loadServeEngines(&deps, &closers, log)
	return deps, closeAll, err
}

// openMedia is the S3 bucket when given, else the media folder.
func openMedia(ctx context.Context, s3URL, dir string) (media.Store, error) {
	if s3URL == "" {
		return media.NewDir(filepath.Join(dir, "media"))
	}
	sc, err := media.ParseS3(s3URL)
	if err != nil {
		return nil, err
	}
	return media.NewS3(ctx, sc)
}

// loadServeEngines loads the batch pipeline, the live diarizer and the live
// transcriber into deps, and the batch transcriber's service (its Whisper
// models load on the first job that asks for transcription).
func loadServeEngines(deps *server.Deps, closers *[]func(), log *slog.Logger) error {
	p, err := loadPipeline()
	if err != nil {
		return err
	}
	deps.Pipeline = p
	*closers = append(*closers, func() { p.Close() })
	// Live streams get models of their own on one thread per call:
	// concurrent streams, not threads, fill the cores.
	lm, err := live.LoadModels(models.ResolveDir(modelsDirFlag), 1)
	if err != nil {
		return err
	}
	*closers = append(*closers, func() { lm.Close() })
	if deps.Live, err = live.New(live.DefaultConfig(), lm); err != nil {
		return err
	}
	// Live transcription (AssemblyAI, OpenAI Realtime, Live with
	// transcription) shares the live diarizer; without its models the rest
	// serves on.
	lt, err := livetranscribe.New(livetranscribe.Config{ModelsDir: models.ResolveDir(modelsDirFlag), Threads: 1, Live: deps.Live})
	if err != nil {
		log.Warn("live transcription unavailable", "err", err)
	} else {
		deps.LiveTranscriber = lt
		*closers = append(*closers, func() { lt.Close() })
	}
	tr := transcribe.NewService(models.ResolveDir(modelsDirFlag), threadsFlag)
	deps.Transcriber = tr
	*closers = append(*closers, func() { tr.Close() })
	return nil
}

// mediaSigningSecret returns the given secret, or one generated once and kept
// in the data folder so pre-signed URLs survive restarts.
func mediaSigningSecret(dir, given string) ([]byte, error) {
	if given != "" {
		if len(given) < 16 {
			return nil, errors.New("--media-secret must be at least 16 characters")
		}
		return []byte(given), nil
	}
	path := filepath.Join(dir, "media.secret")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 16 {
		return b, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s := []byte(hex.EncodeToString(b[:]))
	return s, os.WriteFile(path, s, 0o600)
}
