package serve

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/telemetry"
)

const logsToken = "logs-token"

// startWithToken builds and runs an instance of yaml whose admin API
// takes writes with logsToken.
func startWithToken(t *testing.T, yaml string) *Instance {
	t.Helper()
	return startWith(t, yaml, Options{Token: logsToken})
}

// shipSide sends n access lines of side through an embedded sink, errs of
// them answered 500, timed now.
func shipSide(t *testing.T, inst *Instance, side string, n, errs int) {
	t.Helper()
	d, err := logship.NewEmbeddedDeliverer(logship.SinkConfig{Type: "embedded"}, "shop", side,
		logship.WithAdmin(inst.AdminAddr().String(), ""), logship.WithToken(logsToken))
	if err != nil {
		t.Fatal(err)
	}
	sink := logship.NewSink(d, logship.SinkOptions{})
	defer sink.Close()
	now := time.Now()
	batch := make([]logship.Event, n)
	for i := range batch {
		code := 200
		if i < errs {
			code = 500
		}
		raw := fmt.Sprintf(`127.0.0.1 - - [%s] "GET /items/%d HTTP/1.1" %d 12 "-" "test"`, now.Format("02/Jan/2006:15:04:05 -0700"), i, code)
		batch[i] = logship.Event{ID: fmt.Sprintf("%s-%d", side, i), Time: now, App: "shop", Side: side, Host: side + "-host",
			Record: logship.Record{Raw: []byte(raw), Method: "GET", Status: code, Duration: 5 * time.Millisecond, Present: logship.HasDuration}}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := sink.Send(ctx, batch); err != nil {
		t.Fatalf("shipping %s's lines: %v", side, err)
	}
	if err := sink.Send(ctx, batch); err != nil { // a replay after a shipper restart
		t.Fatalf("shipping %s's lines again: %v", side, err)
	}
}

// TestRollbackOnLogs: with rollback.source logs, the error rate that new's
// shipped access logs show rolls the app back, although the proxy served
// nothing.
func TestRollbackOnLogs(t *testing.T) {
	old, nw := backend(t, 200, "old"), backend(t, 200, "new")
	inst := startWithToken(t, fmt.Sprintf(`
defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    cutover: {weight: 50}
    rollback: {source: logs, max_error_rate: 2%%, min_requests: 50, window: 30s, interval: 200ms}
    logs:
      old: {paths: [/var/log/old.log], format: nginx_combined}
      new: {paths: [/var/log/new.log], format: nginx_combined}
`, old.URL, nw.URL))
	began := time.Now()
	shipSide(t, inst, "old", 200, 0)
	shipSide(t, inst, "new", 200, 40)
	t.Logf("rolled back %s after the lines were shipped", waitWeight(t, inst, "shop", 0, began))

	// The replayed batches were counted once.
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"old 2xx", map[string]string{"app": "shop", "side": "old", "code_class": "2xx"}, 200},
		{"new 5xx", map[string]string{"app": "shop", "side": "new", "code_class": "5xx"}, 40},
		{"new 2xx", map[string]string{"app": "shop", "side": "new", "code_class": "2xx"}, 160},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Read(inst.Registry, "migrate_logs_requests_total", tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("migrate_logs_requests_total%v = %v, want %v", tt.labels, got, tt.want)
			}
		})
	}
	waitControllerRollback(t, inst, "shop")
}
