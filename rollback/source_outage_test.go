package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// scriptSource answers its errors in turn (nil: a healthy sample).
type scriptSource struct {
	mu   sync.Mutex
	errs []error
}

func (s *scriptSource) Sample(_ context.Context, _ string, window time.Duration) (Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.errs[0]
	if len(s.errs) > 1 {
		s.errs = s.errs[1:]
	}
	return Sample{Window: window, Old: side(1000, 0), New: side(1000, 0)}, err
}

// TestSourceOutage: a source that stops answering is reported once per
// outage and once per recovery (a log line, an event, SourceUp), its
// verdicts are insufficient meanwhile, and a source answering "no data"
// is not down.
func TestSourceOutage(t *testing.T) {
	unreachable := fmt.Errorf("querying prometheus: %w", errors.New("dial tcp 127.0.0.1:9: connect: connection refused"))
	src := &scriptSource{errs: []error{nil, unreachable, unreachable, unreachable, nil, ErrNoData, nil}}
	store, err := state.OpenWith(t.Context(), manifest.State{}, state.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var log bytes.Buffer
	clock := clockwork.NewFakeClock()
	m := NewManager(ManagerOptions{Store: store, Clock: clock, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	a := &manifest.App{Name: "shop", Rollback: manifest.Rollback{FastBreaker: manifest.FastBreaker{Disabled: new(true)}}}
	if err := m.Add(&planTarget{}, a, src); err != nil {
		t.Fatal(err)
	}
	ma, _ := m.get("shop")
	type seen struct {
		Result string
		Up     bool
	}
	var got []seen
	for range 7 {
		clock.Advance(time.Second)
		v := ma.controller.Step(t.Context())
		up, _ := m.SourceUp("shop")
		got = append(got, seen{v.Result, up})
	}
	want := []seen{{Pass, true}, {Insufficient, false}, {Insufficient, false}, {Insufficient, false},
		{Pass, true}, {Insufficient, true}, {Pass, true}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("verdicts and source (-got +want):\n%s", diff)
	}
	evs, err := store.Events(t.Context(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		if e.Kind == state.KindSourceDown || e.Kind == state.KindSourceUp {
			kinds = append(kinds, e.Kind)
		}
	}
	if diff := cmp.Diff(kinds, []string{state.KindSourceDown, state.KindSourceUp}); diff != "" {
		t.Errorf("source events (-got +want):\n%s", diff)
	}
	for _, line := range []string{"rollback source down", "rollback source up again"} {
		if n := strings.Count(log.String(), line); n != 1 {
			t.Errorf("%d log lines %q, want 1:\n%s", n, line, log.String())
		}
	}
}
