package telemetry

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRefusedSeries: each refusal counts once under its listener and
// status, every status of a listener exists at 0 from the start (so that
// a rate has a series to start from), and a nil recorder records nothing.
func TestRefusedSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Refused("0.0.0.0:80")
	if m.Refused("0.0.0.0:80") != r {
		t.Errorf("Refused(0.0.0.0:80) is not cached")
	}
	r.Request(431)
	r.Request(400)
	r.Request(400)
	r.Request(418) // not one of RefusedStatuses: counted under its own
	m.Refused("127.0.0.1:8443").Request(421)
	want := map[string]float64{
		"0.0.0.0:80 400": 2, "0.0.0.0:80 431": 1, "0.0.0.0:80 418": 1, "127.0.0.1:8443 421": 1,
	}
	for _, listen := range []string{"0.0.0.0:80", "127.0.0.1:8443"} {
		for _, code := range RefusedStatuses {
			status := strconv.Itoa(code)
			got, err := Read(reg, "migrate_proxy_refused_total", map[string]string{"listen": listen, "status": status})
			if err != nil {
				t.Fatal(err)
			}
			if got != want[listen+" "+status] {
				t.Errorf("listen %s status %s: %v, want %v", listen, status, got, want[listen+" "+status])
			}
		}
	}
	if got, _ := Read(reg, "migrate_proxy_refused_total", map[string]string{"listen": "0.0.0.0:80", "status": "418"}); got != 1 {
		t.Errorf("status 418: %v, want 1", got)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "migrate_proxy_refused_total" && len(f.GetMetric()) != 2*len(RefusedStatuses)+1 {
			t.Errorf("%d series, want %d", len(f.GetMetric()), 2*len(RefusedStatuses)+1)
		}
	}
	var nilR *Refused
	nilR.Request(400)
	var nilM *Metrics
	nilM.Refused("x").Request(400)
}

func TestRefusedStatsdLines(t *testing.T) {
	srv := newStatsdServer(t)
	m, err := NewWithOptions(nil, Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Refused("0.0.0.0:80")
	r.Request(400)
	r.Request(400)
	r.Request(505)
	m.Refused(":8443").Request(408)
	stop := runMirror(t, m)
	stop()
	want := []string{ // sorted
		"migrate.proxy.refused.0_0_0_0_80.400:2|c",
		"migrate.proxy.refused.0_0_0_0_80.505:1|c",
		"migrate.proxy.refused.8443.408:1|c",
	}
	pkts := srv.packets(len(want), 5*time.Second)
	if diff := cmp.Diff(linesOf(pkts), want); diff != "" {
		t.Errorf("lines mismatch (-got +want):\n%s", diff)
	}
}
