package dashboards_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/demo"
)

// TestRemoteSource reads a running demo through its admin API, as
// `migrate dashboard` does: status, per-second points from /metrics, the
// diff table from the JSON report, and the events; the page's admin calls
// are passed through.
func TestRemoteSource(t *testing.T) {
	adminAddr := freeAddr(t)
	client := runDemoAt(t, adminAddr)
	remote := &dashboards.Remote{BaseURL: adminAddr, App: demo.App}
	d, err := dashboards.New(dashboards.Options{Source: remote, DiffEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var f dashboards.Frame
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		f = d.Sample(ctx)
		if f.Error == "" && len(f.Apps) == 1 && f.Apps[0].Point.Old.RPS > 0 && f.Apps[0].Point.New.RPS > 0 && len(f.Apps[0].Diffs) > 0 {
			break
		}
	}
	if f.Error != "" || len(f.Apps) != 1 {
		t.Fatalf("frame %+v", f)
	}
	a := f.Apps[0]
	if a.App != demo.App || a.Weight != 50 {
		t.Errorf("app %s weight %d, want %s at 50", a.App, a.Weight, demo.App)
	}
	if a.Point.Old.RPS == 0 || a.Point.New.RPS == 0 {
		t.Errorf("points %+v: want traffic on both sides", a.Point)
	}
	if len(a.Diffs) == 0 || a.Diffs[0].Endpoint != demo.RegressedEndpoint {
		t.Errorf("diff table %+v: want %s on top", a.Diffs, demo.RegressedEndpoint)
	}
	if len(d.History().Events) == 0 {
		t.Error("no events read")
	}
	v, ok, err := remote.Diffs(ctx, demo.App)
	if err != nil || !ok {
		t.Fatalf("diffs: %v %v", ok, err)
	}
	ex := v.Endpoints[0].Fields[0].Example
	if ex == nil || ex.HasBodies || len(ex.Diffs) == 0 || ex.Diffs[0].Path != demo.RegressedField || !strings.Contains(ex.CurlNew, "curl") {
		t.Errorf("example %+v: want the regressed field, no bodies, a curl line", ex)
	}

	h, err := remote.Handler(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/apps/"+demo.App+"/weight", strings.NewReader(`{"weight": 10}`))
	req.Header.Set("Authorization", "Bearer "+client.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct{ Weight int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Weight != 10 {
		t.Errorf("weight through the dashboard: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(srv.URL + dashboards.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("page: %d", resp.StatusCode)
	}
}

func TestRemoteUnreachable(t *testing.T) {
	d, err := dashboards.New(dashboards.Options{Source: &dashboards.Remote{BaseURL: freeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if f := d.Sample(context.Background()); !strings.Contains(f.Error, "reaching the admin API") {
		t.Errorf("frame error %q, want the admin API named", f.Error)
	}
}
