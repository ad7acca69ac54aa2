package dnscheck

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestRetire(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	done := Report{Name: "www.example.com", Type: "A", Complete: true,
		Authoritative: []Result{{Status: StatusMatch}}, Resolvers: []Result{{Status: StatusMatch}},
		Propagated: 1, Agreement: 1, ETA: ETA{Basis: ETAPropagated, At: now.Add(-time.Hour), WorstCase: now.Add(-time.Minute)}}
	young := done
	young.ETA.WorstCase = now.Add(90 * time.Second)
	stale := done
	stale.Resolvers = []Result{{Status: StatusMatch}, {Status: StatusStale}}
	stale.Propagated = 0.5
	quiet := FallbackStatus{URL: "http://old:9090", RequestsPerMinute: 0.2, BelowSince: ago(2 * time.Hour), RetireBelow: 1, RetireAfterSeconds: 3600}
	busy := FallbackStatus{URL: "http://old:9090", RequestsPerMinute: 4.5, RetireBelow: 1, RetireAfterSeconds: 3600}
	recent := quiet
	recent.BelowSince = ago(10 * time.Minute)
	tests := []struct {
		name string
		reps []Report
		fbs  []FallbackStatus
		errs []error
		want Advice
	}{
		{"safe", []Report{done}, []FallbackStatus{quiet}, nil, Advice{Safe: true}},
		{"not propagated", []Report{stale, done}, []FallbackStatus{quiet}, nil,
			Advice{Reasons: []string{"www.example.com A not propagated (50% of resolvers, 100% of authoritative servers)"}}},
		{"worst case ahead", []Report{young}, []FallbackStatus{quiet}, nil,
			Advice{Reasons: []string{"www.example.com A: worst-case ETA not passed (1m30s)"}}},
		{"stragglers above the threshold", []Report{done}, []FallbackStatus{busy}, nil,
			Advice{Reasons: []string{"fallback http://old:9090: 4.5 requests per minute, not under 1"}}},
		{"below, not long enough", []Report{done}, []FallbackStatus{recent}, nil,
			Advice{Reasons: []string{"fallback http://old:9090: under 1 requests per minute for 10m0s of 1h0m0s"}}},
		{"no fallback", []Report{done}, nil, nil,
			Advice{Reasons: []string{"no fallback to count the stragglers (--fallback URL)"}}},
		{"no records", nil, []FallbackStatus{quiet}, nil, Advice{Reasons: []string{"no DNS record checked"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Retire(now, tt.reps, tt.fbs, tt.errs)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("advice (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFetchFallback(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/apps/shop/fallback", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"app": "shop", "requests_per_minute": 3.5, "clients_last_hour": 12, "below_since": "2026-03-01T11:00:00Z", "retire_below": 1, "retire_after_seconds": 3600}`))
	})
	mux.HandleFunc("GET /api/v1/apps/other/fallback", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"app": "shop", "below_since": null}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	since := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		app     string
		want    FallbackStatus
		wantErr string
	}{
		{"answer", "shop", FallbackStatus{App: "shop", RequestsPerMinute: 3.5, ClientsLastHour: 12, BelowSince: &since, RetireBelow: 1, RetireAfterSeconds: 3600, URL: srv.URL}, ""},
		{"another app's answer", "other", FallbackStatus{}, `the fallback ` + srv.URL + `/api/v1/apps/other/fallback answered for app "shop", not "other"`},
		{"unknown app", "nope", FallbackStatus{}, "asking the fallback " + srv.URL + "/api/v1/apps/nope/fallback: 404 Not Found: 404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FetchFallback(context.Background(), srv.Client(), srv.URL, tt.app)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("error %q, want %q", gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("status (-got +want):\n%s", diff)
			}
		})
	}
}

func TestPanel(t *testing.T) {
	conf := t.TempDir() + "/resolv.conf"
	if err := writeFile(conf, "nameserver 127.0.0.53\nnameserver 1.1.1.1\nnameserver ::1\noptions edns0\n"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		resolvers []string
		conf      string
		want      []string
		wantErr   string
	}{
		{"given, with the system's", []string{"192.0.2.1", "192.0.2.2:5353"}, conf, []string{"192.0.2.1:53", "192.0.2.2:5353", "127.0.0.53:53", "1.1.1.1:53", "[::1]:53"}, ""},
		{"given only", []string{"[2001:db8::1]:53"}, "", []string{"[2001:db8::1]:53"}, ""},
		{"default panel without duplicates", nil, conf, append(DefaultResolvers(), "127.0.0.53:53", "[::1]:53"), ""},
		{"bad resolver", []string{"nope"}, "", nil, `resolver "nope": want HOST:PORT or an IP address`},
		{"missing resolv.conf", nil, conf + ".missing", nil, "reading the system's resolvers: open " + conf + ".missing: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Panel(tt.resolvers, tt.conf)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("error %q, want %q", gotErr, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("panel (-got +want):\n%s", diff)
			}
		})
	}
}

// TestSystemPanel: a default resolv.conf that cannot be read leaves the
// rest of the panel, and says why; a bad resolver is still an error.
func TestSystemPanel(t *testing.T) {
	missing := t.TempDir() + "/resolv.conf"
	panel, skipped, err := SystemPanel([]string{"192.0.2.1"}, missing)
	if err != nil || !slices.Equal(panel, []string{"192.0.2.1:53"}) {
		t.Errorf("SystemPanel(missing) = %v, %v; want the given resolver alone", panel, err)
	}
	if skipped == nil || !strings.Contains(skipped.Error(), missing) {
		t.Errorf("skipped = %v, want the unreadable %s", skipped, missing)
	}
	if _, _, err := SystemPanel([]string{"nope"}, missing); err == nil {
		t.Error("SystemPanel with a bad resolver succeeded")
	}
}

// TestWatchOptionsForSystem: the watch of an app goes on without an
// unreadable default resolv.conf, and logs it; WatchOptionsFor, for a file
// the user named, refuses.
func TestWatchOptionsForSystem(t *testing.T) {
	a := &manifest.App{Name: "shop", DNS: []manifest.DNSRecord{{Name: "shop.example.test", Type: "A", Expect: []string{"192.0.2.10"}}}}
	a.DNSCheck.Resolvers = []string{"127.0.0.71:1"}
	missing := t.TempDir() + "/resolv.conf"
	var log strings.Builder
	wopts, err := WatchOptionsForSystem(a, missing, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil || !slices.Equal(wopts.Check.Resolvers, []string{"127.0.0.71:1"}) {
		t.Errorf("WatchOptionsForSystem(missing) = %v, %v; want the manifest's resolver alone", wopts.Check.Resolvers, err)
	}
	if !strings.Contains(log.String(), "without the system's resolvers") {
		t.Errorf("log does not say so: %s", log.String())
	}
	if _, err := WatchOptionsFor(a, missing); err == nil {
		t.Error("WatchOptionsFor(missing) succeeded")
	}
	a.DNSCheck.ClientSubnet = "not a subnet"
	if _, err := WatchOptionsForSystem(a, missing, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("WatchOptionsForSystem with a bad client_subnet succeeded")
	}
}
