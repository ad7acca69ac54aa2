package logship

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// SinkConfig is a manifest's logs.sink (manifest.LogSink, whose package
// imports this one for the log formats, so the caller copies the fields
// over; the batching settings are the pipeline's, not the sink's).
type SinkConfig struct {
	// Type is file, stdout, loki, elasticsearch, otlp or embedded.
	Type string
	// Path is the file sink's file.
	Path string
	// URL is the receiver's base URL for loki, elasticsearch and otlp.
	URL string
	// Index is the Elasticsearch index or data stream.
	Index string
	// Tenant is Loki's X-Scope-OrgID.
	Tenant string
	// Headers are set on every request of an HTTP sink.
	Headers map[string]string
	// Admin is the embedded sink's migrate serve admin URL; without it,
	// http:// and AdminListen (the manifest's admin.listen). TokenEnv
	// names the environment variable of the admin bearer token (the
	// manifest's admin.token_env; default MIGRATE_ADMIN_TOKEN).
	Admin, AdminListen, TokenEnv string
	// Timeout bounds one request (default DefaultSinkTimeout); MaxBackoff
	// caps the wait between retries (default DefaultMaxBackoff).
	Timeout, MaxBackoff time.Duration
}

// NewSinkFromConfig returns the Sink cfg describes for one app's side: an
// embedded (NewEmbeddedDeliverer), file, stdout, Loki, Elasticsearch or
// OTLP deliverer behind NewSink,
// with cfg's timeout and max backoff, its dead-letter file at
// DeadLetterPath(dataDir, app, side), and its metrics on
// metrics.LogSink(app, side). logger and metrics may be nil.
func NewSinkFromConfig(cfg SinkConfig, app, side, dataDir string, logger *slog.Logger, metrics *telemetry.Metrics) (Sink, error) {
	return newSinkFromConfig(cfg, sinkEnv{
		app: app, side: side, dataDir: dataDir, logger: logger, metrics: metrics,
		stdout: os.Stdout, clock: clockwork.NewRealClock(),
	})
}

// sinkEnv is what a sink is built with besides its config.
type sinkEnv struct {
	app, side, dataDir string
	logger             *slog.Logger
	metrics            *telemetry.Metrics
	stdout             io.Writer
	clock              clockwork.Clock
}

func newSinkFromConfig(cfg SinkConfig, env sinkEnv) (Sink, error) {
	d, err := newDeliverer(cfg, env)
	if err != nil {
		return nil, err
	}
	logger := env.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return NewSink(d, SinkOptions{
		DeadLetter: NewDeadLetter(DeadLetterPath(env.dataDir, env.app, env.side)),
		MaxBackoff: cfg.MaxBackoff,
		Clock:      env.clock,
		Logger:     logger.With("sink", cfg.Type, "app", env.app, "side", env.side),
		Metrics:    env.metrics.LogSink(env.app, env.side),
	}), nil
}

// newDeliverer returns the Deliverer of cfg.Type.
func newDeliverer(cfg SinkConfig, env sinkEnv) (Deliverer, error) {
	http := HTTPOptions{URL: cfg.URL, Headers: cfg.Headers, Timeout: cfg.Timeout, Clock: env.clock}
	switch cfg.Type {
	case "file":
		if cfg.Path == "" {
			return nil, fmt.Errorf("creating file sink: a path is required")
		}
		return NewFileDeliverer(cfg.Path)
	case "stdout":
		return NewWriterDeliverer(env.stdout), nil
	case "loki":
		return NewLokiDeliverer(http, cfg.Tenant)
	case "elasticsearch":
		return NewElasticDeliverer(http, cfg.Index)
	case "otlp":
		return NewOTLPDeliverer(http)
	case "embedded":
		return NewEmbeddedDeliverer(cfg, env.app, env.side, WithAdmin(cfg.AdminListen, cfg.TokenEnv))
	}
	return nil, fmt.Errorf("creating sink: unknown type %q: want embedded, file, stdout, loki, elasticsearch or otlp", cfg.Type)
}
