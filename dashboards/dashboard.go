package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
)

// Defaults of Options.
const (
	DefaultInterval     = time.Second
	DefaultHistory      = 15 * time.Minute
	DefaultDiffEvery    = 5
	DefaultClientBuffer = 16
	DefaultMaxClients   = 256
	DefaultReplay       = 120
	// keptEvents is how many of the newest events the dashboard keeps.
	keptEvents = 200
)

// Options configure a Dashboard. Zero values take the defaults.
type Options struct {
	Source Source       // required
	Logger *slog.Logger // nil: discard
	Clock  clockwork.Clock
	// Interval is the time between frames.
	Interval time.Duration
	// History is how far back the charts go.
	History time.Duration
	// DiffEvery is how many frames apart the diff table is refreshed.
	DiffEvery int
	// ClientBuffer is how many frames wait for a slow page before it
	// misses some and is told to resync.
	ClientBuffer int
	// MaxClients bounds the open event streams; more are answered 503.
	MaxClients int
	// Replay is how many recent frames a reconnecting page (Last-Event-ID)
	// is sent again; one that missed more resyncs.
	Replay int
	// Optional sections: nil hides them.
	DNS      DNSProvider
	Fallback FallbackProvider
	Logs     LogProvider
}

// Dashboard samples its Source and serves the web dashboard (see
// Handler). Run drives it.
type Dashboard struct {
	opts  Options
	log   *slog.Logger
	clock clockwork.Clock
	hub   *hub

	mu        sync.Mutex
	seq       uint64
	latest    Frame
	hist      map[string]*ring
	events    []state.Event
	lastEvent string
	diffs     map[string][]EndpointRow
	prev      counters
	prevLogs  map[[2]string]LogCounts
	prevAt    time.Time
	lastErr   string
	seen      Sections // optional sections whose series were seen
}

// New builds a dashboard; it samples nothing until Run.
func New(opts Options) (*Dashboard, error) {
	if opts.Source == nil {
		return nil, errors.New("building the dashboard: no source")
	}
	opts = opts.withDefaults()
	d := &Dashboard{
		opts: opts, log: opts.Logger, clock: opts.Clock,
		hub:  newHub(opts.ClientBuffer, opts.MaxClients, opts.Replay),
		hist: map[string]*ring{}, diffs: map[string][]EndpointRow{}, prevLogs: map[[2]string]LogCounts{},
	}
	return d, nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	o.Interval = positive(o.Interval, DefaultInterval)
	o.History = positive(o.History, DefaultHistory)
	o.DiffEvery = positive(o.DiffEvery, DefaultDiffEvery)
	o.ClientBuffer = positive(o.ClientBuffer, DefaultClientBuffer)
	o.MaxClients = positive(o.MaxClients, DefaultMaxClients)
	o.Replay = positive(o.Replay, DefaultReplay)
	return o
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Run samples the source every Interval until ctx ends, then ends every
// open event stream.
func (d *Dashboard) Run(ctx context.Context) error {
	defer d.hub.close()
	t := d.clock.NewTicker(d.opts.Interval)
	defer t.Stop()
	d.Sample(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			d.Sample(ctx)
		}
	}
}

// Sample takes one frame now and pushes it to the open pages. Run calls
// it every Interval.
func (d *Dashboard) Sample(ctx context.Context) Frame {
	ctx, cancel := context.WithTimeout(ctx, max(d.opts.Interval, 2*time.Second))
	defer cancel()
	now := d.clock.Now()
	f, err := d.frame(ctx, now)
	d.noteError(err)
	data, jerr := json.Marshal(f)
	if jerr != nil {
		d.log.Error("encoding a dashboard frame", "err", jerr)
		return f
	}
	d.hub.publish(message{seq: f.Seq, data: data})
	return f
}

// noteError logs a failing source once per distinct error.
func (d *Dashboard) noteError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.mu.Lock()
	changed := msg != d.lastErr
	d.lastErr = msg
	d.mu.Unlock()
	switch {
	case changed && err != nil:
		d.log.Warn("dashboard source failed", "err", err)
	case changed:
		d.log.Info("dashboard source answers again")
	}
}

// frame reads the source and records the frame; on a source error the
// frame holds what could be read, and Error says what failed.
func (d *Dashboard) frame(ctx context.Context, now time.Time) (Frame, error) {
	apps, err := d.opts.Source.Apps(ctx)
	if err != nil {
		return d.record(now, nil, nil, nil, fmt.Errorf("reading app status: %w", err)), err
	}
	mfs, err := d.opts.Source.Gather(ctx)
	if err != nil {
		return d.record(now, apps, nil, nil, fmt.Errorf("reading metrics: %w", err)), err
	}
	evs, err := d.newEvents(ctx)
	if err != nil {
		d.log.Debug("reading events", "err", err)
	}
	d.refreshDiffs(ctx, apps)
	cur := readCounters(mfs)
	return d.record(now, apps, cur, evs, nil), nil
}

func (d *Dashboard) newEvents(ctx context.Context) ([]state.Event, error) {
	d.mu.Lock()
	after := d.lastEvent
	d.mu.Unlock()
	limit := 100
	if after == "" {
		limit = keptEvents
	}
	return d.opts.Source.Events(ctx, after, limit)
}

// refreshDiffs reads the diff tables every DiffEvery frames.
func (d *Dashboard) refreshDiffs(ctx context.Context, apps []admin.AppStatus) {
	d.mu.Lock()
	due := d.seq%uint64(d.opts.DiffEvery) == 0
	d.mu.Unlock()
	if !due {
		return
	}
	for _, a := range apps {
		v, ok, err := d.opts.Source.Diffs(ctx, a.App)
		if err != nil {
			d.log.Debug("reading diffs", "app", a.App, "err", err)
			continue
		}
		d.mu.Lock()
		if ok {
			d.diffs[a.App] = v.Rows()
		} else {
			delete(d.diffs, a.App)
		}
		d.mu.Unlock()
	}
}
