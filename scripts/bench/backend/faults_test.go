package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

var failAnswer = answer{Status: http.StatusInternalServerError, ContentLength: int64(len(failBody)), Body: string(failBody)}

// TestHandlerFailAfter moves a fake clock past -fail-after: answers are
// fine before it and 500 from it on, and the first 500 is reported once,
// with the clock's time.
func TestHandlerFailAfter(t *testing.T) {
	const failAfter = 5 * time.Second
	clock := clockwork.NewFakeClock()
	reports := make(chan time.Time, 10) // a channel: the handler runs on the server's goroutines
	f := &faults{start: clock.Now(), failAfter: failAfter, report: func(t time.Time) { reports <- t }}
	srv := httptest.NewServer(newHandler(0, clock, f))
	defer srv.Close()

	steps := []struct {
		name    string
		advance time.Duration
		want    answer
	}{
		{name: "at start", want: wantAnswer},
		{name: "just before", advance: failAfter - time.Nanosecond, want: wantAnswer},
		{name: "at fail-after", advance: time.Nanosecond, want: failAnswer},
		{name: "later", advance: time.Minute, want: failAnswer},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.Advance(st.advance)
			got := get(t, srv)
			if diff := cmp.Diff(got, st.want); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
		})
	}
	close(reports)
	var got []time.Time
	for r := range reports {
		got = append(got, r)
	}
	want := []time.Time{f.start.Add(failAfter)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("reported first failures (-got +want):\n%s", diff)
	}
}

// TestHandlerErrorRate scripts the random draws: a draw below -error-rate
// fails the answer, the others pass, and only the first 500 is reported.
func TestHandlerErrorRate(t *testing.T) {
	clock := clockwork.NewFakeClock()
	draws := []float64{0.5, 0.0099, 0.01, 0.999, 0}
	reports := make(chan struct{}, 10)
	f := &faults{
		start:     clock.Now(),
		errorRate: 0.01,
		random: func() float64 {
			d := draws[0]
			draws = draws[1:]
			return d
		},
		report: func(time.Time) { reports <- struct{}{} },
	}
	srv := httptest.NewServer(newHandler(0, clock, f))
	defer srv.Close()

	var got []int
	for range 5 {
		got = append(got, get(t, srv).Status)
	}
	want := []int{200, 500, 200, 200, 500}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("statuses (-got +want):\n%s", diff)
	}
	if got, want := len(reports), 1; got != want {
		t.Errorf("first failure reported %d times, want %d", got, want)
	}
}

// TestHandlerNoFaults checks that the zero faults never fail nor draw.
func TestHandlerNoFaults(t *testing.T) {
	clock := clockwork.NewFakeClock()
	f := &faults{start: clock.Now(), random: func() float64 { t.Error("random drawn with error rate 0"); return 0 }}
	srv := httptest.NewServer(newHandler(0, clock, f))
	defer srv.Close()
	clock.Advance(24 * time.Hour)
	if diff := cmp.Diff(get(t, srv), wantAnswer); diff != "" {
		t.Errorf("answer (-got +want):\n%s", diff)
	}
}

// get sends GET / to srv and reads the whole answer.
func get(t *testing.T, srv *httptest.Server) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := do(srv.Client(), req)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestHandlerFailRate scripts the draws of a partial break: before
// -fail-after nothing is drawn and nothing fails; after it, a draw below
// -fail-rate fails the answer, and the first such 500 is the one reported.
func TestHandlerFailRate(t *testing.T) {
	clock := clockwork.NewFakeClock()
	draws := []float64{0.5, 0.05, 0.1, 0}
	var reported []time.Time
	f := &faults{
		start:     clock.Now(),
		failAfter: 5 * time.Second,
		failRate:  0.1,
		random: func() float64 {
			if len(draws) == 0 {
				t.Fatal("more draws than scripted")
			}
			d := draws[0]
			draws = draws[1:]
			return d
		},
		report: func(at time.Time) { reported = append(reported, at) },
	}
	srv := httptest.NewServer(newHandler(0, clock, f))
	defer srv.Close()

	got := []int{get(t, srv).Status}
	clock.Advance(5 * time.Second)
	for range 4 {
		got = append(got, get(t, srv).Status)
	}
	want := []int{200, 200, 500, 200, 500}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("statuses (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(reported, []time.Time{f.start.Add(5 * time.Second)}); diff != "" {
		t.Errorf("reported first failures (-got +want):\n%s", diff)
	}
}
