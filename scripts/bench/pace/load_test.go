package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// targetOf is the Target of a test server.
func targetOf(t *testing.T, srv *httptest.Server) Target {
	t.Helper()
	target, err := loopbackTarget(srv.URL + "/bench")
	if err != nil {
		t.Fatal(err)
	}
	return target
}

func TestScheduleOffered(t *testing.T) {
	tests := []struct {
		name             string
		rate             float64
		measured, end    time.Duration
		want             int64
		wantDue5, wantOK bool
	}{
		{name: "no warmup", rate: 100, end: 2 * time.Second, want: 200},
		{name: "warmup", rate: 100, measured: time.Second, end: 3 * time.Second, want: 200},
		{name: "fractional rate", rate: 0.5, measured: 0, end: 10 * time.Second, want: 5},
		{name: "odd rate", rate: 3, measured: time.Second, end: 2 * time.Second, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &schedule{rate: tt.rate, measured: tt.measured, end: tt.end}
			if got := s.offered(); got != tt.want {
				t.Errorf("offered() = %d, want %d", got, tt.want)
			}
			var taken int64
			for {
				_, due, ok := s.take()
				if !ok {
					break
				}
				if due >= tt.measured {
					taken++
				}
			}
			if taken != tt.want {
				t.Errorf("take() handed out %d measured requests, want %d", taken, tt.want)
			}
		})
	}
}

// TestRunQueuesFromDueTime runs on a fake clock that the server advances by
// 150 ms per answer while requests are due every 100 ms on one connection:
// each request waits for the one before it, and its latency counts from
// its due time, 50 ms more for each request in the queue.
func TestRunQueuesFromDueTime(t *testing.T) {
	clock := clockwork.NewFakeClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(150 * time.Millisecond)
	}))
	defer srv.Close()
	cfg := Config{Target: targetOf(t, srv), Rate: 10, Duration: time.Second, Connections: 1, Timeout: 5 * time.Second}
	got, err := Run(context.Background(), cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	// Request k is sent at 150k ms while that is before the end (k <= 6),
	// answered at 150(k+1) ms, and was due at 100k ms.
	var want []time.Duration
	for k := range 7 {
		want = append(want, time.Duration(150+50*k)*time.Millisecond)
	}
	if diff := cmp.Diff(got.latencies, want); diff != "" {
		t.Errorf("latencies (-got +want):\n%s", diff)
	}
	gotCounts := []int64{got.Due, got.Requests, got.Unsent, got.Errors()}
	if diff := cmp.Diff(gotCounts, []int64{10, 7, 3, 0}); diff != "" {
		t.Errorf("due, answered, unsent, errors (-got +want):\n%s", diff)
	}
}

// TestRunWaitsForDueTime checks on a fake clock that a request is not sent
// before it is due.
func TestRunWaitsForDueTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clock := clockwork.NewFakeClock()
	var served atomic.Int64
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		arrived <- struct{}{}
	}))
	defer srv.Close()
	cfg := Config{Target: targetOf(t, srv), Rate: 10, Duration: time.Second, Connections: 3, Timeout: 5 * time.Second}
	done := make(chan *Result, 1)
	go func() {
		res, _ := Run(ctx, cfg, clock)
		done <- res
	}()
	for step := range 10 {
		// Request step arrives; then the workers wait for requests
		// step+1 to step+3 (fewer near the end: 9 is the last), and none
		// of those may have been sent.
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatalf("at %d ms: request %d did not arrive", step*100, step)
		}
		if err := clock.BlockUntilContext(ctx, min(3, 9-step)); err != nil {
			t.Fatal(err)
		}
		if got, want := served.Load(), int64(step+1); got != want {
			t.Fatalf("at %d ms: %d requests served, want %d", step*100, got, want)
		}
		if step < 9 {
			clock.Advance(100 * time.Millisecond)
		}
	}
	res := <-done
	if res == nil {
		t.Fatal("Run returned no result")
	}
	if got, want := res.Requests, int64(10); got != want {
		t.Errorf("Requests = %d, want %d", got, want)
	}
}

func TestRun(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(50 * time.Millisecond) })
	fail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	tests := []struct {
		name   string
		h      http.Handler
		closed bool // the server is closed before the run
		cfg    Config
		check  func(t *testing.T, r *Result)
	}{
		{
			name: "fast server gets the offered rate",
			h:    ok,
			cfg:  Config{Rate: 500, Warmup: 200 * time.Millisecond, Duration: time.Second, Connections: 8, Timeout: 2 * time.Second},
			check: func(t *testing.T, r *Result) {
				if r.Due != 500 || r.Requests < 450 || r.Requests > 500 || r.Errors() != 0 {
					t.Errorf("due %d, answered %d, errors %d; want 500 due, 450 to 500 answered, no error", r.Due, r.Requests, r.Errors())
				}
			},
		},
		{
			name: "slow server: latency counts from the due time",
			h:    slow,
			cfg:  Config{Rate: 100, Duration: time.Second, Connections: 2, Timeout: 5 * time.Second},
			check: func(t *testing.T, r *Result) {
				// Two connections answer at most 40 req/s of the 100 due:
				// requests queue, and wait longer the later they are due.
				if p99 := r.Latency(0.99); p99 < 300*time.Millisecond {
					t.Errorf("p99 %v, want over 300ms (queued behind 50ms answers)", p99)
				}
				if r.Requests > 60 || r.Unsent < 40 {
					t.Errorf("answered %d, unsent %d; want at most 60 and at least 40", r.Requests, r.Unsent)
				}
			},
		},
		{
			name: "500s are errors",
			h:    fail,
			cfg:  Config{Rate: 200, Duration: 500 * time.Millisecond, Connections: 4, Timeout: 2 * time.Second},
			check: func(t *testing.T, r *Result) {
				if r.Requests < 80 || r.StatusErr != r.Requests || r.Errors() != r.Requests {
					t.Errorf("answered %d, status errors %d, errors %d; want at least 80, all of them status errors", r.Requests, r.StatusErr, r.Errors())
				}
			},
		},
		{
			name:   "closed server: transport errors",
			h:      ok,
			closed: true,
			cfg:    Config{Rate: 200, Duration: 500 * time.Millisecond, Connections: 4, Timeout: 2 * time.Second},
			check: func(t *testing.T, r *Result) {
				if r.Requests != 0 || r.Transport < 80 || r.Errors() != r.Transport {
					t.Errorf("answered %d, transport errors %d, errors %d; want none answered, at least 80 transport errors", r.Requests, r.Transport, r.Errors())
				}
			},
		},
		{
			name: "stuck server: timeouts",
			h:    stuck,
			cfg:  Config{Rate: 20, Duration: 500 * time.Millisecond, Connections: 4, Timeout: 50 * time.Millisecond},
			check: func(t *testing.T, r *Result) {
				if r.Requests != 0 || r.Timeouts < 5 || r.Errors() != r.Timeouts {
					t.Errorf("answered %d, timeouts %d, errors %d; want none answered, at least 5 timeouts", r.Requests, r.Timeouts, r.Errors())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.h)
			defer srv.Close()
			cfg := tt.cfg
			cfg.Target = targetOf(t, srv)
			if tt.closed {
				srv.Close()
			}
			got, err := Run(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

// TestRunSources checks that with Sources each connection comes from a
// loopback address of its own, and without it from one address.
func TestRunSources(t *testing.T) {
	for _, sources := range []bool{true, false} {
		t.Run(fmt.Sprint("sources=", sources), func(t *testing.T) {
			var mu sync.Mutex
			peers := map[string]bool{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				mu.Lock()
				peers[host] = true
				mu.Unlock()
			}))
			defer srv.Close()
			cfg := Config{Target: targetOf(t, srv), Rate: 200, Duration: 200 * time.Millisecond, Connections: 5, Timeout: 5 * time.Second, Sources: sources}
			res, err := Run(context.Background(), cfg, nil)
			if err != nil || res.Errors() != 0 {
				t.Fatalf("Run: %v, %+v", err, res)
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[string]bool{"127.0.0.1": true}
			if sources {
				want = map[string]bool{}
				for i := range 5 {
					want[sourceAddr(i).IP.String()] = true
				}
			}
			// Every connection sent at least one request: 40 requests
			// over 5 connections, one at a time each.
			if diff := cmp.Diff(peers, want); diff != "" {
				t.Errorf("client addresses the server saw (-got +want):\n%s", diff)
			}
		})
	}
}
