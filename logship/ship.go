package logship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/telemetry"
)

// ShipperOptions configure a Shipper.
type ShipperOptions struct {
	// Source is the side's files.
	Source SourceConfig
	// Sink receives the batches; the Shipper closes it when Run returns.
	Sink Sink
	// DataDir holds the checkpoints (under logship/).
	DataDir string
	// A batch goes out when it holds BatchSize events (default
	// DefaultBatchSize) or BatchBytes of lines (default DefaultBatchBytes),
	// or BatchWait after its first event (default DefaultBatchWait).
	BatchSize  int
	BatchBytes int
	BatchWait  time.Duration
	// PruneAfter drops the checkpoints of files not seen for that long
	// (default 24h).
	PruneAfter time.Duration
	// CheckpointInterval is the least time between two saves of the
	// checkpoints (default 100ms): a batch acknowledged later than that
	// after the last save is saved at once, batches acknowledged sooner
	// are saved together when it has passed. A crash sends again the
	// batch in flight and those acknowledged but not yet saved.
	CheckpointInterval time.Duration
	// DrainTimeout bounds the delivery of what was read once Run's
	// context ends (default 10s); what is not delivered by then is read
	// again at the next start.
	DrainTimeout time.Duration
	Logger       *slog.Logger       // nil: discard
	Metrics      *telemetry.Logship // nil: no metrics
	Clock        clockwork.Clock    // nil: the real clock
}

func (o *ShipperOptions) setDefaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.BatchWait <= 0 {
		o.BatchWait = DefaultBatchWait
	}
	if o.PruneAfter <= 0 {
		o.PruneAfter = 24 * time.Hour
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 100 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Shipper ships one side's files to a sink: sources, parse, batches,
// Sink.Send, acknowledgement, checkpoint. Delivery is at least once: a
// checkpoint moves only past events the sink acknowledged, and is saved
// after each acknowledged batch, several batches coalescing into one save
// when they come faster than CheckpointInterval. A crash sends again the
// batch that was in flight, and those acknowledged within the last
// CheckpointInterval: one batch when the lines come slower than that.
type Shipper struct {
	opts ShipperOptions
	cps  *checkpoints
	src  *source
	out  chan *batch
	free chan *batch // delivered batches, for their event slices
	// rescanC is the reader's rescan ticker, also served while it waits
	// for the sender.
	rescanC <-chan time.Time
	cur     *batch
}

// batch is a set of events and how far each generation in it reaches.
type batch struct {
	events []Event
	arena  []byte
	bytes  int
	ends   map[fingerprint]int64
	first  time.Time
}

// NewShipper checks opts and loads the checkpoints from the data dir.
func NewShipper(opts ShipperOptions) (*Shipper, error) {
	opts.setDefaults()
	if opts.Sink == nil {
		return nil, errors.New("creating shipper: no sink")
	}
	cps, err := loadCheckpoints(checkpointPath(opts.DataDir, opts.Source.App, opts.Source.Side))
	if err != nil {
		return nil, fmt.Errorf("creating shipper: %w", err)
	}
	s := &Shipper{opts: opts, cps: cps, out: make(chan *batch, 1), free: make(chan *batch, 2)}
	s.src, err = newSource(opts.Source, cps, opts.Clock, opts.Logger, opts.Metrics, s.add)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run ships until ctx ends, then delivers what it read (within
// DrainTimeout), saves the checkpoints, closes the files and the sink.
// It returns nil when stopped by ctx.
func (s *Shipper) Run(ctx context.Context) error {
	defer s.opts.Sink.Close()
	g, gctx := errgroup.WithContext(ctx)
	drain, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	stop := context.AfterFunc(gctx, func() {
		s.opts.Clock.AfterFunc(s.opts.DrainTimeout, cancelDrain)
	})
	defer stop()
	g.Go(func() error { return s.read(gctx, drain) })
	g.Go(func() error { return s.deliver(drain) })
	err := g.Wait()
	if serr := s.cps.save(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// read runs the source: reads on every poll tick, re-scans on every
// rescan tick, sends a batch when it is full or BatchWait old. When ctx
// ends it hands the last batch over (until drain ends) and closes out.
func (s *Shipper) read(ctx, drain context.Context) error {
	defer close(s.out)
	defer s.src.closeAll()
	poll := s.opts.Clock.NewTicker(s.src.cfg.Poll)
	defer poll.Stop()
	rescan := s.opts.Clock.NewTicker(s.src.cfg.Rescan)
	defer rescan.Stop()
	s.rescanC = rescan.Chan()
	err := s.src.scan(ctx)
	for err == nil {
		if err = s.src.pollAll(ctx); err != nil {
			break
		}
		if s.cur != nil && s.opts.Clock.Since(s.cur.first) >= s.opts.BatchWait {
			if err = s.flush(ctx); err != nil {
				break
			}
		}
		err = s.wait(ctx, poll.Chan(), rescan.Chan())
	}
	if ctx.Err() == nil {
		return err
	}
	if s.cur != nil {
		select {
		case s.out <- s.cur:
		case <-drain.Done():
		}
		s.cur = nil
	}
	return nil
}

// wait waits for the next poll, or for nothing when a file has more to
// read, and rescans when it is time.
func (s *Shipper) wait(ctx context.Context, poll, rescan <-chan time.Time) error {
	if s.src.more {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rescan:
			return s.rescan(ctx)
		default:
			return nil
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-poll:
		return nil
	case <-rescan:
		return s.rescan(ctx)
	}
}

// rescan looks for new files and prunes old checkpoints.
func (s *Shipper) rescan(ctx context.Context) error {
	now := s.opts.Clock.Now()
	gens := make([]fingerprint, 0, len(s.src.gens))
	for _, tf := range s.src.gens {
		gens = append(gens, tf.gen)
	}
	s.cps.touch(gens, now)
	if n := s.cps.prune(now.Add(-s.opts.PruneAfter)); n > 0 {
		s.opts.Logger.Info("logship: pruned checkpoints of files gone", "app", s.src.cfg.App, "side", s.src.cfg.Side, "count", n)
	}
	return s.src.scan(ctx)
}

// add copies an event into the current batch, handing the batch over
// when it is full. Its bytes go to the batch's arena, one allocation for
// many lines; batches come back from the sender for their event slices.
func (s *Shipper) add(ctx context.Context, ev *Event, gen fingerprint) error {
	if s.cur == nil {
		s.cur = s.newBatch()
	}
	b := s.cur
	b.events = append(b.events, *ev)
	b.arena = copyRecord(&b.events[len(b.events)-1].Record, b.arena, arenaChunk)
	b.bytes += len(ev.Record.Raw)
	b.ends[gen] = ev.End
	if len(b.events) >= s.opts.BatchSize || b.bytes >= s.opts.BatchBytes {
		return s.flush(ctx)
	}
	return nil
}

// newBatch returns a delivered batch to fill again, or a new one.
func (s *Shipper) newBatch() *batch {
	select {
	case b := <-s.free:
		b.events, b.bytes, b.arena, b.first = b.events[:0], 0, nil, s.opts.Clock.Now()
		clear(b.ends)
		return b
	default:
		return &batch{events: make([]Event, 0, min(s.opts.BatchSize, 1024)), ends: make(map[fingerprint]int64), first: s.opts.Clock.Now()}
	}
}

// arenaChunk is the size of the arenas lines are copied into.
const arenaChunk = 64 << 10

// recycle gives a delivered batch back for its event slice. Its arenas
// are not reused: a sink may keep events (and so their bytes) after Send.
// The old events are overwritten as the batch fills again.
func (s *Shipper) recycle(b *batch) {
	select {
	case s.free <- b:
	default:
	}
}

// copyRecord makes r own its bytes, copied into arena (a new one of
// about chunk bytes when it is full); it returns the arena.
func copyRecord(r *Record, arena []byte, chunk int) []byte {
	for _, f := range r.byteFields() {
		if *f == nil {
			continue
		}
		if cap(arena)-len(arena) < len(*f) {
			arena = make([]byte, 0, max(chunk, len(*f), 4096))
		}
		start := len(arena)
		arena = append(arena, *f...)
		*f = arena[start:len(arena):len(arena)]
	}
	if r.Fields != nil {
		fields := make(map[string]string, len(r.Fields))
		for k, v := range r.Fields {
			fields[k] = v
		}
		r.Fields = fields
	}
	return arena
}

// flush hands the current batch to the sender, waiting while it is busy.
// While it waits (a slow or refusing sink) it keeps rescanning, so that
// files created meanwhile are opened and their generations saved: a file
// rotated away before the sink recovers is still drained, after a restart
// too.
func (s *Shipper) flush(ctx context.Context) error {
	for {
		select {
		case s.out <- s.cur:
			s.cur = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-s.rescanC:
			if err := s.rescan(ctx); err != nil {
				return err
			}
			if s.cps.needsSave() {
				if err := s.cps.save(); err != nil {
					s.opts.Logger.Error("logship: saving checkpoints", "err", err)
				}
			}
		}
	}
}

// deliver sends each batch, then moves the checkpoints of the
// generations in it and saves them: at once when the last save is
// CheckpointInterval old, else when it becomes so (saves coalesce under
// load, where each batch takes less than a save). New generations and cuts
// are saved before the batch that carries them goes out, so that their ids
// survive a restart.
func (s *Shipper) deliver(ctx context.Context) error {
	defer func() {
		for range s.out { // unblock the reader; what is left is read again next time
		}
	}()
	var last time.Time
	unsaved := false
	save := func() {
		if err := s.cps.save(); err != nil {
			s.opts.Logger.Error("logship: saving checkpoints", "err", err)
		}
		last, unsaved = s.opts.Clock.Now(), false
	}
	for {
		b, ok, due := s.next(unsaved, last)
		if due {
			save()
			continue
		}
		if !ok {
			return nil
		}
		if s.cps.needsSave() {
			save()
		}
		if err := s.opts.Sink.Send(ctx, b.events); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sending batch: %w", err)
		}
		now := s.opts.Clock.Now()
		for gen, end := range b.ends {
			s.cps.ack(gen, end, now)
		}
		unsaved = true
		if now.Sub(last) >= s.opts.CheckpointInterval {
			save()
		}
		s.opts.Metrics.Delivered(len(b.events))
		s.recycle(b)
	}
}

// next waits for the next batch; with unsaved acknowledgements, only
// until they are due for a save (due).
func (s *Shipper) next(unsaved bool, last time.Time) (b *batch, ok, due bool) {
	if !unsaved {
		b, ok = <-s.out
		return b, ok, false
	}
	t := s.opts.Clock.NewTimer(s.opts.CheckpointInterval - s.opts.Clock.Since(last))
	defer t.Stop()
	select {
	case b, ok = <-s.out:
		return b, ok, false
	case <-t.Chan():
		return nil, true, true
	}
}
