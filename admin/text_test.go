package admin

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

func TestScreen(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := func(oldReq, newReq uint64) AppStatus {
		return AppStatus{App: "shop", Weight: 50, Phase: "split", Sides: map[string]telemetry.SideStats{
			SideOld: {Requests: oldReq}, SideNew: {Requests: newReq, Mirrored: telemetry.MirroredStats{Requests: 3 * newReq}},
		}}
	}
	tests := []struct {
		name string
		tty  bool
		// check the second frame as written after the first
		want, wantNot []string
	}{
		{"terminal: redrawn in place", true, []string{"\x1b[%dA\x1b[J12:00:02\n", "req/s now   old 50.0   new 10.0", "mirrored/s   old 0.0   new 30.0"}, []string{"\n\n12:00:02"}},
		{"pipe: successive blocks", false, []string{"\n12:00:02\n", "req/s now   old 50.0   new 10.0", "mirrored/s   old 0.0   new 30.0"}, []string{"\x1b["}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := &Screen{W: &buf, TTY: tt.tty}
			if err := s.Draw(st(100, 20), at); err != nil {
				t.Fatal(err)
			}
			first := buf.String()
			lines := strings.Count(first, "\n")
			if strings.Contains(first, "req/s now") {
				t.Errorf("first frame has rates:\n%s", first)
			}
			buf.Reset()
			if err := s.Draw(st(200, 40), at.Add(2*time.Second)); err != nil {
				t.Fatal(err)
			}
			second := buf.String()
			for _, w := range tt.want {
				if strings.Contains(w, "%d") {
					w = fmt.Sprintf(w, lines)
				}
				if !strings.Contains(second, w) {
					t.Errorf("second frame lacks %q:\n%q", w, second)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(second, w) {
					t.Errorf("second frame has %q:\n%q", w, second)
				}
			}
			buf.Reset()
			if err := s.DrawError(errors.New("connection refused"), at.Add(4*time.Second)); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); !strings.Contains(got, "12:00:04  refresh failed: connection refused\n") {
				t.Errorf("error frame %q", got)
			}
		})
	}
}

// TestWriteTextMirrored: `migrate status` shows each side's answers to
// mirrored requests on rows of their own, apart from the requests it
// served (in the shadow phase new served none and answered every mirror).
func TestWriteTextMirrored(t *testing.T) {
	st := AppStatus{App: "shop", Phase: "shadow", Sides: map[string]telemetry.SideStats{
		SideOld: {Requests: 2254},
		SideNew: {Mirrored: telemetry.MirroredStats{Requests: 2254, Errors: 599, NoAnswer: 3, P99Ms: 41.5}},
	}}
	var buf bytes.Buffer
	if err := st.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		`requests\s+2254\s+0`,
		`mirrored requests\s+0\s+2254`,
		`mirrored 5xx\s+0\s+599`,
		`mirrored no answer\s+0\s+3`,
		`mirrored p99\s+0\.0 ms\s+41\.5 ms`,
	} {
		if !regexp.MustCompile(`(?m)^\s*` + want + `\s*$`).MatchString(got) {
			t.Errorf("status lacks a row %q:\n%s", want, got)
		}
	}
	buf.Reset()
	st.Sides[SideNew] = telemetry.SideStats{}
	if err := st.WriteText(&buf); err != nil || strings.Contains(buf.String(), "mirrored") {
		t.Errorf("status with nothing mirrored (%v):\n%s", err, buf.String())
	}
}

// TestWriteTextLiveBackends: each live backend change is a line that says
// it wins over the manifest.
func TestWriteTextLiveBackends(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 0, time.Local)
	st := AppStatus{App: "shop", Phase: "split", LiveBackends: []state.LiveBackend{
		{App: "shop", Side: "new", URL: "http://10.1.0.7:3000", Op: state.BackendAdded, At: at, Actor: state.ActorAPI},
		{App: "shop", Side: "old", URL: "http://10.0.0.5:3000", Op: state.BackendRemoved, At: at},
	}}
	var buf bytes.Buffer
	if err := st.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"live backend new http://10.1.0.7:3000 added at 2026-12-08 01:02:03 by api (wins over the manifest)",
		"live backend old http://10.0.0.5:3000 removed at 2026-12-08 01:02:03 (wins over the manifest)",
	} {
		if !strings.Contains(buf.String(), want+"\n") {
			t.Errorf("status lacks the line %q:\n%s", want, buf.String())
		}
	}
}
