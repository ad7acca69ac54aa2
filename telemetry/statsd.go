package telemetry

// The statsd mirror. Every value recorded on a Metrics is also sent to
// statsd, as prefix.app.side.name:
//
//	prefix.app.side.requests.<N>xx          counter
//	prefix.app.side.request_duration        timing, in milliseconds
//	prefix.app.side.errors.<reason>         counter
//	prefix.app.side.retries                 counter
//	prefix.app.side.failovers               counter
//	prefix.app.side.backend.<backend>.up    gauge, 1 or 0
//	prefix.app.side.backend.<backend>.ejections counter
//	prefix.app.weight                       gauge, 0-100
//	prefix.app.shadow.*                     shadow traffic, see shadow.go
//	prefix.proxy.refused.<listen>.<status>  counter, per listener, see refused.go
//
// The request path must never wait for statsd. The buffered sender of
// go-statsd-client can: every Send takes one mutex, and when its 32-slot
// packet channel is full (a slow or stalled socket) Send blocks while holding
// that mutex, so every caller would queue behind the socket. So the request
// path does only a non-blocking send of a small value into a bounded channel
// and counts a drop when it is full. One goroutine, owned by Run, reads the
// channel, sums counters, formats lines with the statsd client and batches
// them into UDP packets with packetSender, sending on every tick of the
// flush interval (and whenever a packet is full).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cactus/go-statsd-client/v5/statsd"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultPrefix        = "migrate"
	DefaultFlushInterval = time.Second
	DefaultQueueSize     = 8192
	// DefaultPacketSize keeps a packet within a typical MTU.
	DefaultPacketSize = 1432
)

// Options configure NewWithOptions. The zero value turns statsd off.
type Options struct {
	// Statsd is the statsd server, host:port over UDP; empty: no mirror.
	Statsd string
	// Prefix starts every statsd name (default "migrate").
	Prefix string
	// Logger receives send failures at debug level (nil: discarded).
	Logger *slog.Logger
	// FlushInterval is how often summed counters and batched lines are
	// sent (default 1s).
	FlushInterval time.Duration
	// QueueSize bounds the values waiting for the mirror (default 8192).
	QueueSize int
	// PacketSize is the largest UDP payload sent (default 1432 bytes).
	PacketSize int
	// Clock drives the flush ticker and the sliding windows of Window and
	// ShadowWindow (nil: real time).
	Clock clockwork.Clock
	// WindowMax is the longest window Window and ShadowWindow answer
	// (default DefaultWindowMax, 5m); each side keeps one small bucket per
	// second of it.
	WindowMax time.Duration
}

// mirror is the statsd side of a Metrics.
type mirror struct {
	addr     string
	prefix   string
	log      *slog.Logger
	interval time.Duration
	packet   int
	clock    clockwork.Clock
	queue    chan event
	running  atomic.Bool
}

func newMirror(o Options) (*mirror, error) {
	if _, port, err := net.SplitHostPort(o.Statsd); err != nil || port == "" {
		return nil, fmt.Errorf("parsing statsd address %q: want host:port", o.Statsd)
	}
	mr := &mirror{
		addr:     o.Statsd,
		prefix:   cleanPrefix(o.Prefix),
		log:      o.Logger,
		interval: o.FlushInterval,
		packet:   o.PacketSize,
		clock:    o.Clock,
	}
	if mr.log == nil {
		mr.log = slog.New(slog.DiscardHandler)
	}
	if mr.interval <= 0 {
		mr.interval = DefaultFlushInterval
	}
	if mr.packet <= 0 {
		mr.packet = DefaultPacketSize
	}
	if mr.clock == nil {
		mr.clock = clockwork.NewRealClock()
	}
	size := o.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	mr.queue = make(chan event, size)
	return mr, nil
}

type eventKind uint8

const (
	kindRequest eventKind = iota
	kindProxyError
	kindRetry
	kindFailover
	kindBackendUp
	kindEjection
	kindWeight
	// Events whose label is the full statsd name (below the prefix), for
	// series that are not per side (shadow.go).
	kindNamedCount
	kindNamedTiming
	kindNamedGauge
)

// event is one recorded value on its way to statsd. It holds only what the
// caller already has, so queueing it does not allocate.
type event struct {
	kind  eventKind
	side  *Side
	label string // reason, backend, or app for kindWeight
	value int64  // status code, gauge value, weight, or a named count's increment
	dur   time.Duration
}

// mirror hands e to the statsd mirror without ever waiting.
func (m *Metrics) mirror(e event) {
	if m.statsd == nil {
		return
	}
	select {
	case m.statsd.queue <- e:
	default:
		m.statsdDropped.Inc()
	}
}

// Run mirrors recorded values to statsd until ctx is done, then sends what
// is still queued and returns nil. Values recorded while Run is not running
// wait in the bounded queue, and are dropped and counted once it is full.
// On real time (no Options.Clock), Run also keeps the current second of the
// sliding windows so that requests need not read the clock (window.go);
// without statsd it does only that, until ctx is done. Otherwise, without
// statsd, it returns nil at once. Run may be called once.
func (m *Metrics) Run(ctx context.Context) error {
	if m == nil || (m.statsd == nil && !m.win.cache) {
		return nil
	}
	if m.win.cache {
		ctx2, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.win.runClock(ctx2)
		}()
		defer func() { cancel(); <-done }()
		ctx = ctx2
	}
	if m.statsd == nil {
		<-ctx.Done()
		return nil
	}
	return m.statsd.run(ctx, m.statsdErrors)
}

func (mr *mirror) run(ctx context.Context, sendErrors prometheus.Counter) error {
	if !mr.running.CompareAndSwap(false, true) {
		return errors.New("running statsd mirror: already running")
	}
	onErr := func(err error) {
		sendErrors.Inc()
		mr.log.Debug("sending statsd packet", "addr", mr.addr, "err", err)
	}
	ps := mr.dial(ctx, onErr)
	if ps == nil {
		return nil // ctx ended first
	}
	client, err := statsd.NewClientWithSender(ps, mr.prefix, 0)
	if err != nil {
		ps.Close()
		return fmt.Errorf("creating statsd client: %w", err)
	}
	defer client.Close() // sends the last packet
	f := &flusher{client: client, sender: ps, counters: make(map[counterKey]int64)}
	tick := mr.clock.NewTicker(mr.interval)
	defer tick.Stop()
	for {
		select {
		case e := <-mr.queue:
			f.record(e)
		case <-tick.Chan():
			f.flush()
		case <-ctx.Done():
			f.drain(mr.queue)
			f.flush()
			return nil
		}
	}
}

// maxDialBackoff bounds the wait between two tries to open the statsd
// socket.
const maxDialBackoff = 30 * time.Second

// dial opens the statsd socket, trying again (every flush interval, then
// up to maxDialBackoff) while it cannot (the statsd host's name does not
// resolve yet): a metrics sink is no reason to stop the instance. It logs
// the first failure and the recovery, and returns nil when ctx ends
// first. Meanwhile the bounded queue fills and drops, counted.
func (mr *mirror) dial(ctx context.Context, onErr func(error)) *packetSender {
	wait := mr.interval
	for failed := false; ; failed = true {
		ps, err := newPacketSender(mr.addr, mr.packet, onErr)
		if err == nil {
			if failed {
				mr.log.Info("statsd socket open again: mirroring metrics", "addr", mr.addr)
			}
			return ps
		}
		if !failed {
			mr.log.Warn("opening statsd socket: metrics are not mirrored until it opens; retrying", "addr", mr.addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-mr.clock.After(wait):
		}
		wait = min(2*wait, maxDialBackoff)
	}
}

// counterKey identifies one summed statsd counter.
type counterKey struct {
	side  *Side
	kind  eventKind
	label string
	class int8
}

// flusher turns events into statsd lines. It is owned by one goroutine.
type flusher struct {
	client   statsd.Statter
	sender   *packetSender
	counters map[counterKey]int64
}

func (f *flusher) record(e event) {
	switch e.kind {
	case kindRequest:
		if c := e.value/100 - 1; c >= 0 && c < 5 {
			f.counters[counterKey{side: e.side, kind: kindRequest, class: int8(c)}]++
		}
		_ = f.client.TimingDuration(e.side.names.duration, e.dur, 1)
	case kindProxyError, kindRetry, kindFailover, kindEjection:
		f.counters[counterKey{side: e.side, kind: e.kind, label: e.label}]++
	case kindBackendUp:
		_ = f.client.Gauge(e.side.names.backend(e.label)+".up", e.value, 1)
	case kindWeight:
		_ = f.client.Gauge(token(e.label)+".weight", e.value, 1)
	case kindNamedCount:
		f.counters[counterKey{kind: kindNamedCount, label: e.label}] += max(e.value, 1) // value: an increment of more than one
	case kindNamedTiming:
		_ = f.client.TimingDuration(e.label, e.dur, 1)
	case kindNamedGauge:
		_ = f.client.Gauge(e.label, e.value, 1)
	}
}

// drain records what is queued now, without waiting for more.
func (f *flusher) drain(q <-chan event) {
	for range len(q) {
		f.record(<-q)
	}
}

// flush sends one line per counter that moved, then the batched packet.
func (f *flusher) flush() {
	for k, n := range f.counters {
		_ = f.client.Inc(k.name(), n, 1)
	}
	clear(f.counters)
	f.sender.Flush()
}

func (k counterKey) name() string {
	if k.kind == kindNamedCount {
		return k.label
	}
	n := k.side.names
	switch k.kind {
	case kindRequest:
		return n.requests[k.class]
	case kindProxyError:
		return n.base + ".errors." + token(k.label)
	case kindRetry:
		return n.retries
	case kindFailover:
		return n.failovers
	case kindEjection:
		return n.backend(k.label) + ".ejections"
	}
	return n.base + ".unknown_" + strconv.Itoa(int(k.kind))
}
