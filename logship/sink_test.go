package logship

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

func TestSinkSend(t *testing.T) {
	ms := time.Millisecond
	unavailable := &RetryableError{Status: 503, Err: errors.New("down")}
	tests := []struct {
		name         string
		n            int
		maxBackoff   time.Duration
		answers      []func([]Event) error
		wantAttempts [][]string
		wantWaits    []time.Duration
		wantDead     []string // ids
		wantReasons  []string
		wantSent     float64 // events delivered
		wantRetries  map[string]float64
	}{
		{
			name: "accepted at once", n: 3,
			wantAttempts: [][]string{{"e0", "e1", "e2"}},
			wantSent:     3,
		},
		{
			name: "503 twice then accepted, doubling backoff", n: 2,
			answers:      []func([]Event) error{answer(unavailable), answer(unavailable)},
			wantAttempts: [][]string{{"e0", "e1"}, {"e0", "e1"}, {"e0", "e1"}},
			wantWaits:    []time.Duration{100 * ms, 200 * ms},
			wantSent:     2,
			wantRetries:  map[string]float64{telemetry.SinkRetryUnavailable: 2},
		},
		{
			name: "backoff capped at max", n: 1, maxBackoff: 500 * ms,
			answers: []func([]Event) error{answer(unavailable), answer(unavailable), answer(unavailable),
				answer(unavailable), answer(errors.New("connection refused"))},
			wantAttempts: [][]string{{"e0"}, {"e0"}, {"e0"}, {"e0"}, {"e0"}, {"e0"}},
			wantWaits:    []time.Duration{100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms},
			wantSent:     1,
			wantRetries:  map[string]float64{telemetry.SinkRetryUnavailable: 4, telemetry.SinkRetryOther: 1},
		},
		{
			name: "retry-after beyond the backoff is honoured", n: 1,
			answers:      []func([]Event) error{answer(&RetryableError{Status: 429, After: 7 * time.Second})},
			wantAttempts: [][]string{{"e0"}, {"e0"}},
			wantWaits:    []time.Duration{7 * time.Second},
			wantSent:     1,
			wantRetries:  map[string]float64{telemetry.SinkRetryRateLimited: 1},
		},
		{
			name: "whole batch rejected", n: 2,
			answers:      []func([]Event) error{answer(&RejectedError{Reason: "entry too far behind"})},
			wantAttempts: [][]string{{"e0", "e1"}},
			wantDead:     []string{"e0", "e1"},
			wantReasons:  []string{"entry too far behind", "entry too far behind"},
		},
		{
			name: "some rejected, the rest accepted", n: 4,
			answers:      []func([]Event) error{answer(&RejectedError{Index: []int{1, 3}, Reason: "bad"})},
			wantAttempts: [][]string{{"e0", "e1", "e2", "e3"}},
			wantDead:     []string{"e1", "e3"},
			wantReasons:  []string{"bad", "bad"},
			wantSent:     2,
		},
		{
			name: "partial: rejected dead-lettered, only the rest retried", n: 5,
			answers: []func([]Event) error{
				answer(&PartialError{Rejected: []int{0}, Reasons: []string{"mapper_parsing_exception"}, Retry: []int{2, 3}, Status: 429, After: time.Second}),
				answer(&PartialError{Retry: []int{1}, Status: 503}),
			},
			wantAttempts: [][]string{{"e0", "e1", "e2", "e3", "e4"}, {"e2", "e3"}, {"e3"}},
			wantWaits:    []time.Duration{time.Second, 200 * ms},
			wantDead:     []string{"e0"},
			wantReasons:  []string{"mapper_parsing_exception"},
			wantSent:     4,
			wantRetries:  map[string]float64{telemetry.SinkRetryPartial: 2},
		},
		{
			name: "too large: halves, down to one event dead-lettered", n: 4,
			answers: []func([]Event) error{
				answer(&TooLargeError{Reason: "413"}), nil, answer(&TooLargeError{Reason: "413"}),
				nil, answer(&TooLargeError{Reason: "413"}),
			},
			wantAttempts: [][]string{{"e0", "e1", "e2", "e3"}, {"e0", "e1"}, {"e2", "e3"}, {"e2"}, {"e3"}},
			wantDead:     []string{"e3"},
			wantReasons:  []string{"too large: 413"},
			wantSent:     3,
			wantRetries:  map[string]float64{telemetry.SinkRetryTooLarge: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, a := range tt.answers {
				if a == nil {
					tt.answers[i] = answer(nil)
				}
			}
			reg := prometheus.NewRegistry()
			m, err := telemetry.New(reg)
			if err != nil {
				t.Fatal(err)
			}
			d := &scripted{answers: tt.answers}
			clock := newWaitClock()
			dl := NewDeadLetter(filepath.Join(t.TempDir(), "dl.jsonl"))
			s := NewSink(d, SinkOptions{
				DeadLetter: dl, MaxBackoff: tt.maxBackoff, Clock: clock,
				Jitter:  func(ceil time.Duration) time.Duration { return ceil },
				Metrics: m.LogSink("web", "old"),
			})
			defer s.Close()

			if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(tt.n)); err != nil {
				t.Fatalf("Send() = %v, want nil", err)
			}
			if diff := cmp.Diff(d.got(), tt.wantAttempts); diff != "" {
				t.Errorf("attempts (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(clock.recorded(), tt.wantWaits); diff != "" {
				t.Errorf("waits (-got +want):\n%s", diff)
			}
			var gotDead, gotReasons []string
			for _, l := range readDeadLetters(t, dl.Path()) {
				gotDead = append(gotDead, l.Event.ID)
				gotReasons = append(gotReasons, l.Reason)
				if l.Time != "2026-03-01T12:30:45.123456789Z" && len(tt.wantWaits) == 0 {
					t.Errorf("dead-letter time %q, want the clock's", l.Time)
				}
			}
			if diff := cmp.Diff(gotDead, tt.wantDead); diff != "" {
				t.Errorf("dead-lettered (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(gotReasons, tt.wantReasons); diff != "" {
				t.Errorf("dead-letter reasons (-got +want):\n%s", diff)
			}
			checkSinkMetrics(t, reg, tt.wantSent, float64(len(tt.wantDead)), tt.wantRetries)
		})
	}
}

// checkSinkMetrics checks the sink series of web/old after one batch.
func checkSinkMetrics(t *testing.T, reg prometheus.Gatherer, sent, dead float64, retries map[string]float64) {
	t.Helper()
	side := map[string]string{"app": "web", "side": "old"}
	for name, want := range map[string]float64{
		"migrate_logship_sink_batches_total":       1,
		"migrate_logship_sink_events_total":        sent,
		"migrate_logship_sink_dead_lettered_total": dead,
	} {
		if got, err := telemetry.Read(reg, name, side); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, err, want)
		}
	}
	for reason, want := range retries {
		labels := map[string]string{"app": "web", "side": "old", "reason": reason}
		if got, err := telemetry.Read(reg, "migrate_logship_sink_retries_total", labels); err != nil || got != want {
			t.Errorf("retries{reason=%s} = %v (%v), want %v", reason, got, err, want)
		}
	}
}

func TestSinkSendCancelled(t *testing.T) {
	d := &scripted{answers: []func([]Event) error{
		answer(&RetryableError{Status: 503}), answer(&RetryableError{Status: 503}), answer(&RetryableError{Status: 503}),
	}}
	clock := newWaitClock()
	dl := NewDeadLetter(filepath.Join(t.TempDir(), "dl.jsonl"))
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSink(d, SinkOptions{DeadLetter: dl, Clock: clock, Metrics: m.LogSink("web", "old")})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, sinkEvents(2)) }()
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // waiting after the first 503
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Send() = %v, want context.Canceled", err)
	}
	if got := len(d.got()); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
	if got := readDeadLetters(t, dl.Path()); got != nil {
		t.Errorf("dead letters = %v, want none", got)
	}
	if got, _ := telemetry.Read(reg, "migrate_logship_sink_batches_total", map[string]string{"app": "web", "side": "old"}); got != 0 {
		t.Errorf("batches acknowledged = %v, want 0", got)
	}
}

func TestSinkSendErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		dl      *DeadLetter
		answers []func([]Event) error
		want    string
	}{
		{"rejected without a dead-letter file", nil,
			[]func([]Event) error{answer(&RejectedError{Reason: "bad"})},
			"delivering log batch: 2 event(s) rejected (bad) and no dead-letter file"},
		{"dead-letter file cannot be written", NewDeadLetter(filepath.Join(dir, "dl.jsonl", "x")),
			[]func([]Event) error{answer(&RejectedError{Reason: "bad"})},
			"dead-lettering log events: opening dead-letter file: creating directory"},
		{"rejected index out of range", NewDeadLetter(filepath.Join(dir, "dl2.jsonl")),
			[]func([]Event) error{answer(&RejectedError{Index: []int{5}, Reason: "bad"})},
			"delivering log batch: rejected index 5 out of a batch of 2"},
		{"partial retry index out of range", NewDeadLetter(filepath.Join(dir, "dl3.jsonl")),
			[]func([]Event) error{answer(&PartialError{Retry: []int{2}})},
			"delivering log batch: retry index 2 out of a batch of 2"},
	}
	if err := os.WriteFile(filepath.Join(dir, "dl.jsonl"), []byte("a file, not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSink(&scripted{answers: tt.answers}, SinkOptions{DeadLetter: tt.dl, Clock: newWaitClock()})
			defer s.Close()
			err := s.Send(t.Context(), sinkEvents(2))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Send() = %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	ms := time.Millisecond
	half := func(ceil time.Duration) time.Duration { return ceil / 2 }
	tests := []struct {
		name    string
		attempt int
		after   time.Duration
		want    time.Duration
	}{
		{"first retry", 0, 0, 50 * ms},
		{"third retry", 2, 0, 200 * ms},
		{"capped", 20, 0, 15 * time.Second},
		{"huge attempt does not overflow", 1000, 0, 15 * time.Second},
		{"retry-after above the draw", 0, 3 * time.Second, 3 * time.Second},
		{"retry-after below the draw", 5, 10 * ms, 1600 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := retryBackoff(tt.attempt, tt.after, 100*ms, 30*time.Second, half)
			if got != tt.want {
				t.Errorf("retryBackoff(%d, %v) = %v, want %v", tt.attempt, tt.after, got, tt.want)
			}
		})
	}
	t.Run("full jitter stays below the ceiling", func(t *testing.T) {
		for range 1000 {
			if d := retryJitter(100 * ms); d < 0 || d >= 100*ms {
				t.Fatalf("retryJitter(100ms) = %v, want in [0, 100ms)", d)
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"seconds with spaces", " 5 ", 5 * time.Second},
		{"zero", "0", 0},
		{"negative", "-3", 0},
		{"http-date", "Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"http-date in the past", "Sun, 01 Mar 2026 11:00:00 GMT", 0},
		{"rfc 850 date", "Sunday, 01-Mar-26 12:01:00 GMT", time.Minute},
		{"bounded to a day", "999999999", 24 * time.Hour},
		{"junk", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
