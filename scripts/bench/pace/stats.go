package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"
)

// tally is what one worker saw of the measured requests; only its worker
// writes it, and Run reads it once every worker has stopped.
type tally struct {
	latencies []time.Duration // from due time to the end of the answer, per answer
	lags      []time.Duration // from due time to sending, per request sent
	statusErr int64           // answers with a status other than 2xx or 3xx
	timeouts  int64           // requests that hit the timeout
	transport int64           // other failures: refused, reset, bad answer
}

// record counts one measured request: its status code or error, its
// latency and its lag, both counted from its due time.
func (t *tally) record(code int, err error, latency, lag time.Duration) {
	t.lags = append(t.lags, lag)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		t.timeouts++
		return
	case err != nil:
		t.transport++
		return
	}
	t.latencies = append(t.latencies, latency)
	if code < 200 || code >= 400 {
		t.statusErr++
	}
}

// Result is what the measured period of a run saw.
type Result struct {
	Offered   float64       // requests per second asked for
	Duration  time.Duration // the measured period
	Due       int64         // requests due in it
	Unsent    int64         // of those, not sent before the end
	Requests  int64         // answers received (any status)
	StatusErr int64         // answers other than 2xx or 3xx
	Timeouts  int64         // requests that timed out
	Transport int64         // other failed requests
	latencies []time.Duration
	lags      []time.Duration
}

// newResult merges the workers' tallies, sorting the latencies.
func newResult(cfg Config, s *schedule, tallies []*tally) *Result {
	r := &Result{Offered: cfg.Rate, Duration: cfg.Duration, Due: s.offered(), Unsent: s.unsent.Load()}
	for _, t := range tallies {
		r.latencies = append(r.latencies, t.latencies...)
		r.lags = append(r.lags, t.lags...)
		r.StatusErr += t.statusErr
		r.Timeouts += t.timeouts
		r.Transport += t.transport
	}
	r.Requests = int64(len(r.latencies))
	slices.Sort(r.latencies)
	slices.Sort(r.lags)
	return r
}

// Achieved is the answers received per second of the measured period.
func (r *Result) Achieved() float64 {
	return float64(r.Requests) / r.Duration.Seconds()
}

// Errors counts every failed request: bad status, timeout or transport.
func (r *Result) Errors() int64 {
	return r.StatusErr + r.Timeouts + r.Transport
}

// Latency is the q quantile (0 to 1) of the answers' latencies from their
// due times, by nearest rank; 0 with no answer.
func (r *Result) Latency(q float64) time.Duration {
	return quantile(r.latencies, q)
}

// quantile is the q quantile of sorted by nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// WriteResult writes the RESULT line of the wrk report script of the
// benchmarks: req/s, p50 ms, p99 ms, errors, requests.
func (r *Result) WriteResult(w io.Writer) {
	fmt.Fprintf(w, "RESULT %.2f %.3f %.3f %d %d\n", r.Achieved(),
		ms(r.Latency(0.50)), ms(r.Latency(0.99)), r.Errors(), r.Requests)
}

// WriteSummary writes the run for a reader.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "pace: %v measured, offered %.0f req/s (%d requests due), achieved %.2f req/s (%d answers)\n",
		r.Duration, r.Offered, r.Due, r.Achieved(), r.Requests)
	fmt.Fprintf(w, "  latency from due time, ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
		ms(r.Latency(0.5)), ms(r.Latency(0.9)), ms(r.Latency(0.99)), ms(r.Latency(0.999)), ms(r.Latency(1)))
	fmt.Fprintf(w, "  errors %d (status %d, timeout %d, transport %d); not sent by the end %d\n",
		r.Errors(), r.StatusErr, r.Timeouts, r.Transport, r.Unsent)
	fmt.Fprintf(w, "  send lag behind due time, ms: p50 %.3f  p99 %.3f  max %.3f\n",
		ms(quantile(r.lags, 0.5)), ms(quantile(r.lags, 0.99)), ms(quantile(r.lags, 1)))
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}
