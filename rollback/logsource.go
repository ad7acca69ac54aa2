package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// LogWindows are per-side sliding windows: the ones derived from shipped
// logs, keyed by event time (*logship.Derived), or the proxy's own
// (*telemetry.Metrics).
type LogWindows interface {
	Window(app, side string, d time.Duration, now time.Time) telemetry.WindowStats
	WindowMax() time.Duration
}

// LogSource reads the numbers of `rollback.source: logs`: the request
// counts, errors and p99 that the shipped access logs of each side show
// over the window, by event time. It has no shadow comparisons.
type LogSource struct {
	w     LogWindows
	clock clockwork.Clock
}

// NewLogSource reads w at the time of clock (nil: real time), which should
// be the clock w's windows are kept on.
func NewLogSource(w LogWindows, clock clockwork.Clock) *LogSource {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &LogSource{w: w, clock: clock}
}

// Sample returns app's numbers over the last window. A window longer than
// the log windows keep is an error, as for TelemetrySource.
func (s *LogSource) Sample(_ context.Context, app string, window time.Duration) (Sample, error) {
	if s.w == nil {
		return Sample{}, errors.New("reading log windows: no log-derived metrics")
	}
	sm, err := windowSample(s.w, app, window, s.clock.Now())
	if err != nil {
		return Sample{}, fmt.Errorf("reading log windows: %w", err)
	}
	return sm, nil
}

// ExactWindows is true: the log windows count every shipped line by event
// time, so a recent window is exact (a line shipped late is missing from
// it as an answer and as an error alike).
func (s *LogSource) ExactWindows() bool { return true }
