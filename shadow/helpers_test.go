package shadow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is one request as a backend received it.
type seen struct {
	Method, Path string
	Header       http.Header
	BodySHA      string
	BodyLen      int
}

// backend is an httptest backend that records every request it sees and
// answers with its name (or with next, when set).
type backend struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	reqs []seen
}

func newBackend(t *testing.T, name string, next http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("backend %s: reading body: %v", name, err)
		}
		sum := sha256.Sum256(body)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		b.mu.Lock()
		b.reqs = append(b.reqs, seen{r.Method, r.URL.Path, h, hex.EncodeToString(sum[:]), len(body)})
		b.mu.Unlock()
		if next != nil {
			next(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name+" "+r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) requests() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.reqs...)
}

func (b *backend) hits() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// fakeComparer judges pairs simply (error, timeout, equal status and
// body, or a body diff), keeps a copy of every pair and counts the
// outcomes it judged or was told about. Every endpoint is "/fake".
type fakeComparer struct {
	mu       sync.Mutex
	pairs    []compare.Pair
	outcomes map[compare.Outcome]int
	records  map[compare.Outcome]int
}

func newFakeComparer() *fakeComparer {
	return &fakeComparer{outcomes: map[compare.Outcome]int{}, records: map[compare.Outcome]int{}}
}

func (f *fakeComparer) Compare(p compare.Pair) compare.Result {
	res := compare.Result{App: p.App, Endpoint: "/fake", Method: p.Request.Method}
	switch c := p.Candidate; {
	case c.Timeout:
		res.Outcome = compare.OutcomeShadowTimeout
	case c.Err != nil:
		res.Outcome = compare.OutcomeShadowError
	case c.Status != p.Primary.Status || !bytes.Equal(c.Body, p.Primary.Body):
		res.Outcome = compare.OutcomeDiff
		res.Diffs = []compare.Difference{{Kind: compare.KindBody, Field: "body"}}
	default:
		res.Outcome = compare.OutcomeMatch
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs = append(f.pairs, clonePair(p))
	f.outcomes[res.Outcome]++
	return res
}

func (f *fakeComparer) Record(app string, dir compare.Direction, endpoint, method string, o compare.Outcome) compare.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records[o]++
	return compare.Result{App: app, Direction: dir, Endpoint: endpoint, Method: method, Outcome: o}
}

func (f *fakeComparer) Endpoint(app, path string) string { return "/fake" }

// counts returns the compared and the recorded outcomes.
func (f *fakeComparer) counts() (compared, recorded map[compare.Outcome]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	compared, recorded = map[compare.Outcome]int{}, map[compare.Outcome]int{}
	for k, v := range f.outcomes {
		compared[k] = v
	}
	for k, v := range f.records {
		recorded[k] = v
	}
	return compared, recorded
}

// all returns the compared and the recorded outcomes together.
func (f *fakeComparer) all() map[compare.Outcome]int {
	compared, recorded := f.counts()
	for k, v := range recorded {
		compared[k] += v
	}
	return compared
}

func (f *fakeComparer) total() int {
	c, r := f.counts()
	n := 0
	for _, v := range c {
		n += v
	}
	for _, v := range r {
		n += v
	}
	return n
}

func (f *fakeComparer) seenPairs() []compare.Pair {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]compare.Pair(nil), f.pairs...)
}

// clonePair copies what a pair's buffers hold: they are reused once
// Compare returns.
func clonePair(p compare.Pair) compare.Pair {
	p.Request.Body = bytes.Clone(p.Request.Body)
	p.Primary.Body = bytes.Clone(p.Primary.Body)
	p.Candidate.Body = bytes.Clone(p.Candidate.Body)
	if p.Secondary != nil {
		s := *p.Secondary
		s.Body = bytes.Clone(s.Body)
		p.Secondary = &s
	}
	return p
}

// fakeSink counts the pairs it is given.
type fakeSink struct{ added atomic.Int64 }

func (s *fakeSink) Add(ctx context.Context, p compare.Pair, r compare.Result) error {
	s.added.Add(1)
	return nil
}

// testApp is an app on 127.0.0.1:0 with one backend per side, all traffic
// on old, mirrored to new.
func testApp(oldURL, newURL string) *manifest.App {
	return &manifest.App{
		Name:         "web",
		Listen:       "127.0.0.1:0",
		DebugHeaders: ptr(true),
		Old:          manifest.Pool{Backends: []string{oldURL}},
		New:          manifest.Pool{Backends: []string{newURL}},
		Shadow:       manifest.Shadow{Timeout: manifest.Duration(5 * time.Second)},
	}
}

func ptr[T any](v T) *T { return &v }

// env is a real proxy with the app's mirror, both running.
type env struct {
	mirror *Mirror
	cmp    *fakeComparer
	sink   *fakeSink
	reg    *prometheus.Registry
	base   string
	client *http.Client
	stop   func() // stops the mirror, then the proxy; idempotent

	clock   clockwork.Clock // the mirror's; nil: real
	prepare func(*Mirror)   // called on the mirror before it runs
	// netHTTP wraps the app's handler (an identity middleware), which
	// takes it off the event loops: requests then go through Serve.
	netHTTP bool
}

// start runs app behind a proxy, mirrored to a fakeComparer and a
// fakeSink; with mirrored false the proxy has no mirror (the baseline).
func start(t *testing.T, app *manifest.App, mirrored bool) *env {
	t.Helper()
	e := &env{cmp: newFakeComparer(), sink: &fakeSink{}}
	var cmp Comparer
	if mirrored {
		cmp = e.cmp
	}
	return startWith(t, app, e, cmp, e.sink)
}

// startWith runs app behind a proxy, mirrored to cmp and sink when cmp is
// not nil.
func startWith(t *testing.T, app *manifest.App, e *env, cmp Comparer, sink Sink) *env {
	t.Helper()
	e.reg = prometheus.NewRegistry()
	metrics, err := telemetry.New(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := lb.Options{Metrics: metrics}
	if e.netHTTP {
		opts.Middleware = map[string]func(http.Handler) http.Handler{app.Name: func(h http.Handler) http.Handler { return h }}
	}
	if cmp != nil {
		e.mirror, err = New(app, Options{Metrics: metrics, Comparer: cmp, Sink: sink, Clock: e.clock})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if e.prepare != nil {
			e.prepare(e.mirror)
		}
		opts.Mirrors = map[string]lb.Mirror{app.Name: e.mirror}
	}
	p, err := lb.New(&manifest.Manifest{Apps: map[string]*manifest.App{app.Name: app}}, nil, opts)
	if err != nil {
		t.Fatalf("lb.New: %v", err)
	}
	if err := p.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	e.base = "http://" + p.Addrs()[app.Listen].String()
	tr := &http.Transport{MaxIdleConnsPerHost: 100, Proxy: nil, DisableCompression: true}
	e.client = &http.Client{Transport: tr}
	e.stop = runAll(t, p, e.mirror, tr)
	t.Cleanup(e.stop)
	return e
}

// runAll serves p and runs mirror (if any) until the returned stop.
func runAll(t *testing.T, p *lb.Proxy, mirror *Mirror, tr *http.Transport) func() {
	ctx, cancel := context.WithCancel(context.Background())
	mctx, mcancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	mirrorDone := make(chan error, 1)
	if mirror != nil {
		go func() { mirrorDone <- mirror.Run(mctx) }()
	} else {
		mirrorDone <- nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			mcancel()
			if err := <-mirrorDone; err != nil {
				t.Errorf("Run: %v", err)
			}
			cancel()
			if err := <-served; err != nil && !errors.Is(err, lb.ErrDrainDeadline) {
				t.Errorf("Serve: %v", err)
			}
			tr.CloseIdleConnections()
		})
	}
}

// response is what a client got.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// do sends a request through the proxy and reads the whole answer.
func (e *env) do(t *testing.T, method, path string, body io.Reader, hdr http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	h := res.Header.Clone()
	h.Del("Date")
	return response{res.StatusCode, h, string(b)}
}

// metric returns the value of the series of name with exactly these
// labels (a histogram's count), or 0.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := telemetry.Read(reg, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// settle waits until n outcomes are judged or recorded and every step
// after them (metrics, sink, release) is done too.
func (e *env) settle(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d outcomes settled", n), func() bool {
		if e.cmp.total() != n || e.mirror.Stats().Pending != 0 {
			return false
		}
		fams, err := e.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		counted := 0.0
		for _, f := range fams {
			if f.GetName() == "migrate_shadow_pairs_total" {
				for _, m := range f.GetMetric() {
					counted += m.GetCounter().GetValue()
				}
			}
		}
		return counted == float64(n)
	})
}

// waitFor polls cond until it holds or 10s pass; it waits for other
// goroutines, it never times anything.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
