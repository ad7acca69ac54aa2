package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// quietSource has no traffic: every verdict is insufficient.
type quietSource struct{}

func (quietSource) Sample(_ context.Context, _ string, w time.Duration) (rollback.Sample, error) {
	return rollback.Sample{Window: w}, nil
}

// newPlanAPI serves "shop", with the plan [5, 50, 100] and an analysis,
// and "blog", without a plan, over real backends.
func newPlanAPI(t *testing.T) *Server {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(backend.Close)
	pool := manifest.Pool{Backends: []string{backend.URL}}
	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"shop": {Name: "shop", Listen: "127.0.0.1:0", Hosts: []string{"shop.test"}, Old: pool, New: pool, Cutover: manifest.Cutover{Plan: []int{5, 50, 100}}},
		"blog": {Name: "blog", Listen: "127.0.0.1:0", Hosts: []string{"blog.test"}, Old: pool, New: pool},
	}}
	metrics, err := telemetry.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := lb.New(m, nil, lb.Options{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(t.Context(), manifest.State{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mgr := rollback.NewManager(rollback.ManagerOptions{Store: store})
	for _, name := range []string{"shop", "blog"} {
		if err := mgr.Add(proxy.App(name), m.Apps[name], quietSource{}); err != nil {
			t.Fatal(err)
		}
	}
	return New(Options{Token: token, Proxy: proxy, Metrics: metrics, Control: mgr})
}

func TestStartPlan(t *testing.T) {
	api := newPlanAPI(t)
	tests := []struct {
		name, app, auth, body string
		want                  int
		wantErr               string
	}{
		{name: "no token", app: "shop", want: http.StatusUnauthorized},
		{name: "no plan", app: "blog", auth: "Bearer " + token, want: http.StatusBadRequest, wantErr: "no cutover.plan"},
		{name: "unknown app", app: "wiki", auth: "Bearer " + token, want: http.StatusNotFound, wantErr: "not served"},
		{name: "malformed body", app: "shop", auth: "Bearer " + token, body: `{"step":2}`, want: http.StatusBadRequest, wantErr: `unknown object member name \"step\"`},
		{name: "started", app: "shop", auth: "Bearer " + token, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, api, http.MethodPost, "/api/v1/apps/"+tt.app+"/plan", "127.0.0.1:5000", tt.auth, tt.body)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantErr) {
				t.Errorf("body %s lacks %q", rec.Body, tt.wantErr)
			}
		})
	}
	st, ok := api.Status("shop")
	if !ok || st.Plan == nil {
		t.Fatalf("Status(shop) = %+v, %v; want a plan", st, ok)
	}
	got := []any{st.Weight, st.Plan.Step, st.Plan.State, st.Plan.StepMin}
	want := []any{5, 0, rollback.PlanHolding, manifest.DefaultStepMin}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("weight, step, state, step_min (-got +want):\n%s", diff)
	}
	if st, _ := api.Status("blog"); st.Plan != nil {
		t.Errorf("blog has a plan: %+v", st.Plan)
	}
}

func TestClientStartPlan(t *testing.T) {
	api := newPlanAPI(t)
	ln := serveAPI(t, api)
	ctx := t.Context()
	c := &Client{BaseURL: ln.Addr().String(), Token: token}
	st, err := c.StartPlan(ctx, "shop", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Weight != 5 || st.Plan == nil || st.Plan.State != rollback.PlanHolding {
		t.Errorf("StartPlan: weight %d, plan %+v; want 5, holding", st.Weight, st.Plan)
	}
	if _, err := c.StartPlan(ctx, "blog", 0); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("StartPlan(blog) = %v, want a 400", err)
	}
}

func TestPlanText(t *testing.T) {
	steps := []int{5, 25, 50, 100}
	tests := []struct {
		name string
		p    rollback.PlanStatus
		want string
	}{
		{name: "stopped", p: rollback.PlanStatus{Steps: steps, Weight: 5, State: rollback.PlanStopped},
			want: "plan of 4 steps  not running (migrate cutover shop --plan starts it)"},
		{name: "running", p: rollback.PlanStatus{Steps: steps, Step: 1, Weight: 25, State: rollback.PlanRunning, Verdict: "pass", Next: 3*time.Minute + 12400*time.Millisecond},
			want: "plan step 2/4 (25%)  running, verdict pass, next step in 3m12s"},
		{name: "holding", p: rollback.PlanStatus{Steps: steps, Step: 1, Weight: 25, StepMin: 5 * time.Minute, State: rollback.PlanHolding, Verdict: "insufficient"},
			want: "plan step 2/4 (25%)  holding, verdict insufficient: the next step needs 5m0s of pass"},
		{name: "holding before a verdict", p: rollback.PlanStatus{Steps: steps, Weight: 5, StepMin: time.Minute, State: rollback.PlanHolding},
			want: "plan step 1/4 (5%)  holding, verdict none yet: the next step needs 1m0s of pass"},
		{name: "paused", p: rollback.PlanStatus{Steps: steps, Step: 2, Weight: 50, State: rollback.PlanPaused},
			want: "plan step 3/4 (50%)  paused after a rollback (migrate cutover shop --plan resumes it at step 1, --from-step N at another)"},
		{name: "done", p: rollback.PlanStatus{Steps: steps, Step: 3, Weight: 100, State: rollback.PlanDone},
			want: "plan step 4/4 (100%)  done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planText("shop", &tt.p); got != tt.want {
				t.Errorf("planText() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPromotePlan(t *testing.T) {
	api := newPlanAPI(t)
	auth := "Bearer " + token
	promote := func(app, auth, body string) *httptest.ResponseRecorder {
		return do(t, api, http.MethodPost, "/api/v1/apps/"+app+"/plan/promote", "127.0.0.1:5000", auth, body)
	}
	tests := []struct {
		name, app, auth, body string
		start                 bool // POST .../plan first
		want                  int
		wantErr               string
		wantWeight            int
	}{
		{name: "no token", app: "shop", want: http.StatusUnauthorized},
		{name: "no plan", app: "blog", auth: auth, want: http.StatusBadRequest, wantErr: "no cutover.plan"},
		{name: "unknown app", app: "wiki", auth: auth, want: http.StatusNotFound, wantErr: "not served"},
		{name: "not started", app: "shop", auth: auth, want: http.StatusConflict, wantErr: "not running"},
		{name: "malformed body", app: "shop", auth: auth, body: `{"full":"yes"}`, want: http.StatusBadRequest, wantErr: "full"},
		{name: "next step", app: "shop", auth: auth, start: true, want: http.StatusOK, wantWeight: 50},
		{name: "last step", app: "shop", auth: auth, body: `{"full":true}`, want: http.StatusOK, wantWeight: 100},
		{name: "done", app: "shop", auth: auth, want: http.StatusConflict, wantErr: "last step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.start {
				if rec := do(t, api, http.MethodPost, "/api/v1/apps/shop/plan", "127.0.0.1:5000", auth, ""); rec.Code != http.StatusOK {
					t.Fatalf("starting the plan: status %d: %s", rec.Code, rec.Body)
				}
			}
			rec := promote(tt.app, tt.auth, tt.body)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.wantErr) {
				t.Errorf("body %s lacks %q", rec.Body, tt.wantErr)
			}
			if tt.wantWeight != 0 {
				if st, _ := api.Status("shop"); st.Weight != tt.wantWeight {
					t.Errorf("weight after the promote = %d, want %d", st.Weight, tt.wantWeight)
				}
			}
		})
	}
}

func TestClientPromotePlan(t *testing.T) {
	api := newPlanAPI(t)
	ln := serveAPI(t, api)
	ctx := t.Context()
	c := &Client{BaseURL: ln.Addr().String(), Token: token}
	if _, err := c.PromotePlan(ctx, "shop", false); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("PromotePlan before the start = %v, want a 409", err)
	}
	if _, err := c.StartPlan(ctx, "shop", 0); err != nil {
		t.Fatal(err)
	}
	st, err := c.PromotePlan(ctx, "shop", false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Weight != 50 || st.Plan == nil || st.Plan.Step != 1 || st.Plan.State != rollback.PlanHolding {
		t.Errorf("PromotePlan: weight %d, plan %+v; want 50 at step 2, holding", st.Weight, st.Plan)
	}
}
