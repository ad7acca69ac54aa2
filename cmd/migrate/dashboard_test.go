package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/demo"
)

// runCLIContext runs the CLI in-process until it returns or ctx ends.
func runCLIContext(ctx context.Context, args ...string) (code int, stdout, stderr *lockedBuffer) {
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: stdout, Err: stderr})
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		stderr.Write([]byte("migrate: " + err.Error() + "\n"))
		return exitCode(err), stdout, stderr
	}
	return exitOK, stdout, stderr
}

// startDemo runs the demo in-process with half the clients on new and
// returns its admin address once the weight is set.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{Duration: 5 * time.Minute, Plan: []int{50}, Rate: 100,
			Started: func(_, adminURL, _ string) { started <- strings.TrimPrefix(adminURL, "http://") }})
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("demo: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("demo: %v", err)
	}
	// The demo sets the weight right after it starts.
	c := &admin.Client{BaseURL: addr}
	for range 200 {
		if st, err := c.App(context.Background(), demo.App); err == nil && st.Weight == 50 {
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the demo's weight never reached 50")
	return ""
}

func TestDashboardCommand(t *testing.T) {
	adminAddr := startDemo(t)
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errs *lockedBuffer
	go func() {
		var code int
		code, out, errs = runCLIContext(ctx, "dashboard", demo.App, "--admin", adminAddr, "--listen", listen)
		done <- code
	}()
	var hist dashboards.History
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + listen + dashboards.Prefix + "api/history")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if json.Unmarshal(body, &hist) == nil && hist.Apps[demo.App] != nil && len(hist.Apps[demo.App].T) >= 2 {
			break
		}
	}
	cancel()
	code := <-done
	if code != exitOK {
		t.Fatalf("dashboard: exit %d, stderr %s", code, errs)
	}
	if hist.Apps[demo.App] == nil || len(hist.Apps[demo.App].T) < 2 {
		t.Errorf("history %+v: want the app's points", hist)
	}
	if want := "dashboard of shop: http://" + listen + "/dashboard/"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
}

func TestDashboardsGrafana(t *testing.T) {
	want, err := dashboards.Grafana(dashboards.GrafanaOptions{App: "shop", Datasource: "Mimir"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "dashboards", "grafana", "shop", "--datasource", "Mimir")
	if code != exitOK || out != string(want) {
		t.Errorf("grafana to stdout: exit %d, stderr %s, same output %v", code, errs, out == string(want))
	}
	file := filepath.Join(t.TempDir(), "shop.json")
	if code, _, errs := runCLI(t, "dashboards", "grafana", "shop", "--datasource", "Mimir", "-o", file); code != exitOK {
		t.Fatalf("grafana -o: exit %d %s", code, errs)
	}
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
		t.Errorf("grafana -o wrote %d bytes (%v), want the same dashboard", len(got), err)
	}
}

func TestDashboardErrors(t *testing.T) {
	adminAddr := startDemo(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"grafana without app", []string{"dashboards", "grafana"}, exitUsage, "takes one app name"},
		{"grafana bad app", []string{"dashboards", "grafana", "a b"}, exitUsage, `app "a b" is not an app name`},
		{"dashboards alone", []string{"dashboards"}, exitUsage, "needs a subcommand"},
		{"dashboard unknown app", []string{"dashboard", "nope", "--admin", adminAddr}, exitUsage, `app "nope" is not served`},
		{"dashboard no instance", []string{"dashboard", "shop", "--admin", freeAddr(t)}, exitRuntime, "is migrate serve running?"},
		{"dashboard bad listen", []string{"dashboard", "shop", "--admin", adminAddr, "--listen", "256.0.0.1:1"}, exitUsage, "--listen 256.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for a command writing while a test
// reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
