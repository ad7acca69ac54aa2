package dashboards

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

func TestSamplePoints(t *testing.T) {
	src := newFakeSource(t, "shop")
	d, fc := newTestDashboard(t, src, Options{})
	ctx := context.Background()
	first := d.Sample(ctx)
	if got := first.Apps[0].Point; got != (Point{}) {
		t.Errorf("first frame point = %+v, want zeros (no earlier gather to subtract)", got)
	}
	src.requests("shop", "old", 95, 200, 3*time.Millisecond)
	src.requests("shop", "old", 5, 500, 3*time.Millisecond)
	src.requests("shop", "new", 40, 200, 30*time.Millisecond)
	src.requests("shop", "new", 10, 404, 30*time.Millisecond)
	fc.Advance(2 * time.Second)
	got := d.Sample(ctx).Apps[0].Point
	want := Point{
		// 100 answers over 2s; every latency in the (2.5ms, 5ms] bucket.
		Old: SidePoint{RPS: 50, ErrorRate: 0.05, Classes: [5]float64{0, 47.5, 0, 0, 2.5}, P50Ms: 3.75, P95Ms: 4.875, P99Ms: 4.975},
		New: SidePoint{RPS: 25, Classes: [5]float64{0, 20, 0, 5, 0}, P50Ms: 37.5, P95Ms: 48.75, P99Ms: 49.75},
	}
	if diff := cmp.Diff(got, want, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("point (-got +want):\n%s", diff)
	}
	fc.Advance(time.Second)
	if got := d.Sample(ctx).Apps[0].Point.Old.RPS; got != 0 {
		t.Errorf("rps with no new requests = %v, want 0", got)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	src := newFakeSource(t, "shop")
	d, fc := newTestDashboard(t, src, Options{History: 5 * time.Second})
	ctx := context.Background()
	var last int64
	for range 12 {
		src.requests("shop", "old", 10, 200, time.Millisecond)
		last = d.Sample(ctx).At
		fc.Advance(time.Second)
	}
	h := d.History()
	s := h.Apps["shop"]
	if s == nil {
		t.Fatal("no series for shop")
	}
	if got, want := len(s.T), 5; got != want {
		t.Fatalf("kept %d points, want %d", got, want)
	}
	if got := s.T[len(s.T)-1]; got != last {
		t.Errorf("newest point at %d, want %d", got, last)
	}
	for i := 1; i < len(s.T); i++ {
		if s.T[i] <= s.T[i-1] {
			t.Errorf("points out of order: %v", s.T)
		}
	}
	if got, want := len(s.Old.Classes[1]), 5; got != want {
		t.Errorf("2xx column has %d points, want %d", got, want)
	}
	if got := string(mustJSON(t, newSeries())); strings.Contains(got, "null") {
		t.Errorf("an empty series has null columns: %s", got)
	}
	if h.Seq != 12 {
		t.Errorf("seq %d, want 12", h.Seq)
	}
}

func TestDiffsRefreshEveryFewFrames(t *testing.T) {
	src := newFakeSource(t, "shop")
	src.views["shop"] = DiffView{App: "shop", Endpoints: []EndpointView{{EndpointRow: EndpointRow{Endpoint: "/a", Requests: 10, Diffs: 1, DiffRate: .1}}}}
	d, _ := newTestDashboard(t, src, Options{DiffEvery: 3})
	ctx := context.Background()
	var frames []Frame
	for range 7 {
		frames = append(frames, d.Sample(ctx))
	}
	if src.diffs != 3 {
		t.Errorf("diffs read %d times in 7 frames, want 3 (frames 1, 4, 7)", src.diffs)
	}
	want := []EndpointRow{{Endpoint: "/a", Requests: 10, Diffs: 1, DiffRate: .1}}
	if diff := cmp.Diff(frames[6].Apps[0].Diffs, want); diff != "" {
		t.Errorf("diff rows (-got +want):\n%s", diff)
	}
	if !frames[6].Apps[0].Shadowed {
		t.Error("a shadowed app's frame says it is not shadowed")
	}
	d2, _ := newTestDashboard(t, newFakeSource(t, "plain"), Options{})
	if f := d2.Sample(ctx); f.Apps[0].Shadowed || f.Apps[0].Diffs != nil {
		t.Errorf("an app that is not shadowed: %+v", f.Apps[0])
	}
}

func TestEventsFollowTheCursor(t *testing.T) {
	src := newFakeSource(t, "shop")
	src.events = []state.Event{{ID: "1", Kind: state.KindWeight}, {ID: "2", Kind: state.KindVerdict}}
	d, _ := newTestDashboard(t, src, Options{})
	ctx := context.Background()
	if got := d.Sample(ctx).Events; len(got) != 2 {
		t.Fatalf("first frame events %v, want both", got)
	}
	if got := d.Sample(ctx).Events; len(got) != 0 {
		t.Errorf("second frame repeats events %v", got)
	}
	src.events = append(src.events, state.Event{ID: "3", Kind: state.KindRollback})
	got := d.Sample(ctx).Events
	if len(got) != 1 || got[0].ID != "3" {
		t.Errorf("third frame events %v, want only 3", got)
	}
	if n := len(d.History().Events); n != 3 {
		t.Errorf("history keeps %d events, want 3", n)
	}
}

func TestSourceErrorIsInTheFrame(t *testing.T) {
	src := newFakeSource(t, "shop")
	src.err = context.DeadlineExceeded
	d, _ := newTestDashboard(t, src, Options{})
	f := d.Sample(context.Background())
	if f.Error == "" || len(f.Apps) != 0 {
		t.Errorf("frame %+v: want an error and no apps", f)
	}
}

type dnsStub struct{}

func (dnsStub) DNSStatus(ctx context.Context, app string) (DNSStatus, bool) {
	return DNSStatus{Records: []DNSRecord{{Name: "shop.example.com", Type: "A", Propagated: .5}}}, app == "shop"
}

type fallbackStub struct{}

func (fallbackStub) FallbackStatus(ctx context.Context, app string) (FallbackStatus, bool) {
	return FallbackStatus{Clients: 7, RequestsPerMinute: 30}, true
}

type logStub struct{ lines, errors uint64 }

func (l *logStub) LogCounts(ctx context.Context, app, side string) (LogCounts, bool) {
	return LogCounts{Lines: l.lines, Errors: l.errors}, side == "new"
}

func TestOptionalSections(t *testing.T) {
	t.Run("hidden without providers", func(t *testing.T) {
		d, _ := newTestDashboard(t, newFakeSource(t, "shop"), Options{})
		a := d.Sample(context.Background()).Apps[0]
		if a.DNS != nil || a.Fallback != nil || a.Point.New.LogErrorRate != nil {
			t.Errorf("sections without providers: %+v", a)
		}
		if got := d.History().Sections; got != (Sections{}) {
			t.Errorf("sections %+v, want none", got)
		}
	})
	t.Run("shown with providers", func(t *testing.T) {
		logs := &logStub{lines: 100, errors: 10}
		d, fc := newTestDashboard(t, newFakeSource(t, "shop"), Options{DNS: dnsStub{}, Fallback: fallbackStub{}, Logs: logs})
		ctx := context.Background()
		d.Sample(ctx)
		logs.lines, logs.errors = 300, 60 // 200 lines, 50 errors
		fc.Advance(time.Second)
		a := d.Sample(ctx).Apps[0]
		if a.DNS == nil || a.DNS.Records[0].Propagated != .5 {
			t.Errorf("dns %+v", a.DNS)
		}
		if a.Fallback == nil || a.Fallback.Clients != 7 {
			t.Errorf("fallback %+v", a.Fallback)
		}
		if r := a.Point.New.LogErrorRate; r == nil || *r != .25 {
			t.Errorf("new log error rate %v, want 0.25", r)
		}
		if a.Point.Old.LogErrorRate != nil {
			t.Errorf("old log error rate %v, want none (not shipped)", *a.Point.Old.LogErrorRate)
		}
		if got, want := d.History().Sections, (Sections{DNS: true, Fallback: true, Logs: true}); got != want {
			t.Errorf("sections %+v, want %+v", got, want)
		}
	})
}

func TestNewNeedsASource(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a source: no error")
	}
}

// TestSectionsFromSeries: without providers, the optional sections come
// from the series the logship, dnscheck and fallback parts export when
// they run in the instance.
func TestSectionsFromSeries(t *testing.T) {
	src := newFakeSource(t, "shop")
	d, fc := newTestDashboard(t, src, Options{})
	ctx := context.Background()
	logs := src.metrics.Logs("shop", "new")
	logs.Request(200, time.Millisecond, true)
	d.Sample(ctx)
	for range 30 {
		logs.Request(200, time.Millisecond, true)
	}
	for range 10 {
		logs.Request(503, time.Millisecond, true)
	}
	src.metrics.DNSRecord("shop", "shop.example.com/A", 0.75, 1, 120)
	src.metrics.Fallback("shop").Arrivals(12, 40, 0)
	fc.Advance(time.Second)
	a := d.Sample(ctx).Apps[0]
	if r := a.Point.New.LogErrorRate; r == nil || *r != 0.25 {
		t.Errorf("new log error rate %v, want 0.25 (10 of 40 records)", r)
	}
	if a.Point.Old.LogErrorRate != nil {
		t.Errorf("old log error rate %v: its logs are not shipped", *a.Point.Old.LogErrorRate)
	}
	want := &DNSStatus{Records: []DNSRecord{{Name: "shop.example.com", Type: "A", Propagated: 0.75,
		ETA: fc.Now().Add(2 * time.Minute), Resolvers: []ResolverStatus{}}}}
	if diff := cmp.Diff(a.DNS, want); diff != "" {
		t.Errorf("dns (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(a.Fallback, &FallbackStatus{Clients: 40, RequestsPerMinute: 12}); diff != "" {
		t.Errorf("fallback (-got +want):\n%s", diff)
	}
	if got, want := d.History().Sections, (Sections{DNS: true, Fallback: true, Logs: true}); got != want {
		t.Errorf("sections %+v, want %+v", got, want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMirroredTrafficApart: the answers of a side to the requests
// mirrored to it are its own numbers, next to (never in) those of the
// clients it served. In the shadow phase new served nobody: its served
// point is zero and its mirrored one shows the mirrored requests, their
// 5xx and those it did not answer; at weight 50 each side has both.
func TestMirroredTrafficApart(t *testing.T) {
	src := newFakeSource(t, "shop")
	d, fc := newTestDashboard(t, src, Options{})
	ctx := context.Background()
	sh := src.metrics.Shadow("shop")
	d.Sample(ctx)
	src.requests("shop", "old", 40, 200, 3*time.Millisecond)
	for range 30 {
		sh.Pair(telemetry.DirOldToNew, "/a", "match")
		sh.Mirrored(telemetry.SideNew, 200, 30*time.Millisecond)
	}
	for range 6 {
		sh.Pair(telemetry.DirOldToNew, "/a", "diff")
		sh.Mirrored(telemetry.SideNew, 503, 30*time.Millisecond)
	}
	for range 4 {
		sh.Pair(telemetry.DirOldToNew, "/a", "shadow_error")
		sh.Mirrored(telemetry.SideNew, 0, 0)
	}
	sh.Pair(telemetry.DirOldToNew, "/a", "skipped_unsafe") // never reached new
	fc.Advance(2 * time.Second)
	got := d.Sample(ctx).Apps[0].Point
	want := Point{
		Old: SidePoint{RPS: 20, Classes: [5]float64{0, 20}, P50Ms: 3.75, P95Ms: 4.875, P99Ms: 4.975},
		New: SidePoint{Mirrored: MirrorPoint{RPS: 20, ErrorRate: 0.15, NoAnswerRate: 0.1, Classes: [5]float64{0, 15, 0, 0, 3},
			P50Ms: 37.5, P95Ms: 48.75, P99Ms: 49.75}},
		Pairs: 18, DiffRate: 6.0 / 36,
	}
	if diff := cmp.Diff(got, want, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("shadow phase point (-got +want):\n%s", diff)
	}

	// Weight 50: both sides serve, and each is mirrored to.
	src.requests("shop", "new", 10, 500, 3*time.Millisecond)
	sh.Mirrored(telemetry.SideOld, 200, 3*time.Millisecond)
	sh.Mirrored(telemetry.SideOld, 200, 3*time.Millisecond)
	fc.Advance(time.Second)
	got = d.Sample(ctx).Apps[0].Point
	if got.New.RPS != 10 || got.New.ErrorRate != 1 || got.New.Mirrored.RPS != 0 {
		t.Errorf("new at weight 50: %+v, want 10 served req/s all 5xx, nothing mirrored this second", got.New)
	}
	if got.Old.RPS != 0 || got.Old.Mirrored.RPS != 2 || got.Old.Mirrored.ErrorRate != 0 {
		t.Errorf("old at weight 50: %+v, want 2 mirrored req/s, none served this second", got.Old)
	}
	h := d.History().Apps["shop"]
	if got, want := h.New.Mirrored.ErrorRate, []float64{0.15, 0}; !cmp.Equal(got, want, cmpopts.EquateApprox(0, 1e-9)) {
		t.Errorf("new's mirrored error rate column %v, want %v", got, want)
	}
}
