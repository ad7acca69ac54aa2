package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeFallback map[string]FallbackStatus

func (f fakeFallback) FallbackStatus(app string) (FallbackStatus, bool) {
	st, ok := f[app]
	return st, ok
}

func TestFallbackEndpoint(t *testing.T) {
	since := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rep := fakeFallback{
		"shop": {App: "shop", RequestsPerMinute: 3.5, ClientsLastHour: 12, RetireBelow: 1, RetireAfterSeconds: 3600},
		"blog": {App: "blog", BelowSince: &since, RetireBelow: 1, RetireAfterSeconds: 3600},
	}
	withFallback := serveAPI(t, New(Options{Fallback: rep}))
	without := serveAPI(t, New(Options{}))
	tests := []struct {
		name     string
		addr     string
		app      string
		wantCode int
		wantBody map[string]any
	}{
		{name: "above the threshold", addr: withFallback.Addr().String(), app: "shop", wantCode: http.StatusOK, wantBody: map[string]any{
			"app": "shop", "requests_per_minute": 3.5, "clients_last_hour": 12.0, "below_since": nil, "retire_below": 1.0, "retire_after_seconds": 3600.0,
		}},
		{name: "below since a time", addr: withFallback.Addr().String(), app: "blog", wantCode: http.StatusOK, wantBody: map[string]any{
			"app": "blog", "requests_per_minute": 0.0, "clients_last_hour": 0.0, "below_since": "2026-11-25T10:00:00Z", "retire_below": 1.0, "retire_after_seconds": 3600.0,
		}},
		{name: "app without a fallback", addr: withFallback.Addr().String(), app: "wiki", wantCode: http.StatusNotFound},
		{name: "instance without fallbacks", addr: without.Addr().String(), app: "shop", wantCode: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := http.Get("http://" + tt.addr + "/api/v1/apps/" + tt.app + "/fallback")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			data, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.wantCode, data)
			}
			if tt.wantBody == nil {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
			if diff := cmp.Diff(got, tt.wantBody); diff != "" {
				t.Errorf("body (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("client", func(t *testing.T) {
		c := &Client{BaseURL: withFallback.Addr().String()}
		got, err := c.Fallback(context.Background(), "blog")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, rep["blog"]); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
		if !got.Retirable(since.Add(time.Hour)) || got.Retirable(since.Add(time.Hour-time.Second)) {
			t.Errorf("Retirable: want true exactly from an hour after below_since")
		}
	})
}
