package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// jsonServer answers /items/{id} with a price that new gets wrong.
func jsonServer(t *testing.T, price string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": %q, "price": %s}`, strings.TrimPrefix(r.URL.Path, "/items/"), price)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestShadowAndCompareReport(t *testing.T) {
	oldSrv, newSrv := jsonServer(t, "10"), jsonServer(t, "12")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	dataDir := t.TempDir()
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")

	// A weight saved earlier does not apply in the shadow phase.
	stop := startServe(t, cfg, dataDir, adminAddr)
	if code, _, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--weight", "100"); code != exitOK {
		t.Fatalf("cutover: %d %s", code, errs)
	}
	stop()

	stop = startCmd(t, adminAddr, "--config", cfg, "--data-dir", dataDir, "shadow", "shop")
	defer stop()
	for i := 0; i < 20; i++ {
		if got := get(t, fmt.Sprintf("http://%s/items/%d", listen, i)); !strings.Contains(got, `"price": 10`) {
			t.Fatalf("served %q, want old's answer in the shadow phase", got)
		}
	}
	// Mirrors finish off the request path: wait for the pairs to be counted.
	var rep struct {
		Endpoints []struct {
			Endpoint string  `json:"endpoint"`
			Requests int     `json:"requests"`
			DiffRate float64 `json:"diff_rate"`
			Fields   []struct {
				Path string  `json:"path"`
				Rate float64 `json:"rate"`
			} `json:"fields"`
		} `json:"endpoints"`
	}
	for i := 0; i < 200; i++ {
		code, out, errs := runCLI(t, "--config", cfg, "compare", "report", "shop", "--format", "json")
		if code != exitOK {
			t.Fatalf("report: %d %s", code, errs)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report JSON: %v\n%s", err, out)
		}
		if len(rep.Endpoints) == 1 && rep.Endpoints[0].Requests == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Endpoint != "/items/:id" || rep.Endpoints[0].Requests != 20 {
		t.Fatalf("report endpoints = %+v; want /items/:id with 20 pairs", rep.Endpoints)
	}
	if e := rep.Endpoints[0]; e.DiffRate != 1 || len(e.Fields) != 1 || e.Fields[0].Path != "/price" || e.Fields[0].Rate != 1 {
		t.Errorf("endpoint = %+v; want /price differing in every pair", e)
	}

	code, out, errs := runCLI(t, "--config", cfg, "compare", "report", "shop", "--format", "junit", "--max-diff-rate", "5%")
	if code != exitCheck || !strings.Contains(errs, "/items/:id (old_to_new) 100.00%") {
		t.Errorf("report over the gate: code %d, stderr %q; want %d naming the endpoint", code, errs, exitCheck)
	}
	var junit struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal([]byte(out), &junit); err != nil || !strings.HasPrefix(junit.XMLName.Local, "testsuite") {
		t.Errorf("junit report does not parse: %v\n%s", err, out)
	}
	if code, out, _ := runCLI(t, "--config", cfg, "compare", "report", "shop"); code != exitOK || !strings.Contains(out, "/price") {
		t.Errorf("text report: code %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "--config", cfg, "compare", "report", "shop", "--format", "pdf"); code != exitUsage {
		t.Errorf("--format pdf: code %d (%s), want %d", code, errs, exitUsage)
	}
}

func TestShadowNeedsASample(t *testing.T) {
	data := fmt.Sprintf("defaults: {listen: %s, admin: {listen: %s}}\napps:\n  shop:\n    old: {backends: [http://127.0.0.1:1]}\n    new: {backends: [http://127.0.0.1:2]}\n    shadow: {sample: 0%%}\n", freeAddr(t), freeAddr(t))
	cfg := writeConfig(t, t.TempDir(), data)
	code, _, errs := runCLI(t, "--config", cfg, "--data-dir", t.TempDir(), "shadow", "shop")
	if code != exitUsage || !strings.Contains(errs, "apps.shop.shadow.sample is 0%") {
		t.Errorf("code %d, stderr %q; want %d naming shadow.sample", code, errs, exitUsage)
	}
}

// TestServeAndShadowPrintTheDashboardURL: both log where the dashboard is,
// as fallback does.
func TestServeAndShadowPrintTheDashboardURL(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"shadow", "shop"}} {
		t.Run(cmd[0], func(t *testing.T) {
			t.Parallel()
			listen, adminAddr := freeAddr(t), freeAddr(t)
			cfg := writeManifest(t, listen, adminAddr, textServer(t, "old").URL, textServer(t, "new").URL)
			p := startBinary(t, append([]string{"--config", cfg, "--data-dir", t.TempDir()}, cmd...)...)
			want := "msg=dashboard url=http://" + adminAddr + "/dashboard/"
			p.waitFor(t, "logged "+want, func() bool { return strings.Contains(p.stderr.String(), want) })
			if !answers("http://" + adminAddr + "/dashboard/") {
				t.Errorf("the dashboard URL does not answer")
			}
		})
	}
}
