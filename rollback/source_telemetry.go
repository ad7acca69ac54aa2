package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// TelemetrySource reads the in-process telemetry of the serving process:
// the per-second sliding windows of each side (telemetry.Metrics.Window)
// and of the shadow comparisons (ShadowWindow).
type TelemetrySource struct {
	m     *telemetry.Metrics
	clock clockwork.Clock
}

// NewTelemetrySource reads m at the time of clock, which must be the clock
// m was created with (nil: real time).
func NewTelemetrySource(m *telemetry.Metrics, clock clockwork.Clock) *TelemetrySource {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &TelemetrySource{m: m, clock: clock}
}

// Sample returns app's numbers over the last window. A window longer than
// the telemetry keeps is an error (the verdict is then insufficient), not
// a shorter window in disguise.
func (t *TelemetrySource) Sample(_ context.Context, app string, window time.Duration) (Sample, error) {
	if t.m == nil {
		return Sample{}, errors.New("reading telemetry: no metrics")
	}
	s, err := windowSample(t.m, app, window, t.clock.Now())
	if err != nil {
		return Sample{}, fmt.Errorf("reading telemetry: %w", err)
	}
	sh := t.m.ShadowWindow(app, window, s.At)
	s.Pairs, s.Diffs = sh.Pairs, sh.Diffs
	return s, nil
}

// windowSample reads both sides of app from w over the last window at
// now. A window longer than w keeps is an error (the verdict is then
// insufficient), not a shorter window in disguise.
func windowSample(w LogWindows, app string, window time.Duration, now time.Time) (Sample, error) {
	if keep := w.WindowMax(); window > keep {
		return Sample{}, fmt.Errorf("window %s is longer than the %s kept", window, keep)
	}
	old := w.Window(app, telemetry.SideOld, window, now)
	nw := w.Window(app, telemetry.SideNew, window, now)
	return Sample{At: now, Window: nw.Window, Old: sideSample(old), New: sideSample(nw)}, nil
}

func sideSample(w telemetry.WindowStats) SideSample {
	return SideSample{Requests: w.Requests, Errors: w.Errors5xx, Errors4xx: w.Errors4xx, P99: w.P99}
}

// ExactWindows is true: the telemetry counts every request in per-second
// buckets, so a window of a few seconds is exact.
func (t *TelemetrySource) ExactWindows() bool { return true }
