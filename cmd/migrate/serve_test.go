package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/migratekit/migrate/admin"
)

// freeAddr is a free port of 127.0.0.1, never one it gave before in this
// test binary: the kernel may hand a closed port out again at once, and
// two calls for one manifest must not get the same.
func freeAddr(t *testing.T) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

func textServer(t *testing.T, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func writeManifest(t *testing.T, listen, adminAddr, oldURL, newURL string) string {
	t.Helper()
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
  drain: 10s
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
`, listen, adminAddr, oldURL, newURL)
	return writeConfig(t, t.TempDir(), data)
}

// writeConfig writes data as dir/migrate.yaml and returns its path.
func writeConfig(t *testing.T, dir, data string) string {
	t.Helper()
	cfg := filepath.Join(dir, "migrate.yaml")
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitHealthy polls the admin API's /healthz until it answers or the
// serve command has exited.
func waitHealthy(t *testing.T, adminAddr string, exited <-chan int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		select {
		case code := <-exited:
			t.Fatalf("serve exited with code %d before it was healthy", code)
		default:
		}
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("admin API never became healthy")
}

func startServe(t *testing.T, cfg, dataDir, adminAddr string) (stop func() int) {
	t.Helper()
	return startCmd(t, adminAddr, "--config", cfg, "--data-dir", dataDir, "serve")
}

// startCmd runs a long-running command in-process until its admin API is
// healthy; stop ends it and returns its exit code.
func startCmd(t *testing.T, adminAddr string, args ...string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(ctx)
		code := exitOK
		if err != nil {
			t.Logf("%s: %v", args[len(args)-1], err)
			code = exitCode(err)
		}
		exited <- code
	}()
	waitHealthy(t, adminAddr, exited)
	return func() int {
		cancel()
		select {
		case code := <-exited:
			return code
		case <-time.After(30 * time.Second):
			t.Fatalf("%v did not stop within 30s of its context ending", args)
			return -1
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestServeCutoverStatusAndRestart(t *testing.T) {
	oldSrv, newSrv := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	dataDir := t.TempDir()
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")

	stop := startServe(t, cfg, dataDir, adminAddr)
	if got := get(t, "http://"+listen+"/"); got != "old" {
		t.Fatalf("at weight 0 got %q, want old", got)
	}

	// A write without the token is refused and changes nothing.
	bad := &admin.Client{BaseURL: adminAddr, Token: "wrong"}
	if _, err := bad.SetWeight(context.Background(), "shop", 100, ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("SetWeight with a wrong token: err %v, want a 401", err)
	}

	code, out, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--weight", "100")
	if code != exitOK {
		t.Fatalf("cutover: code %d, stderr %s", code, errs)
	}
	if !strings.Contains(out, "weight 100%") {
		t.Errorf("cutover output %q", out)
	}
	if got := get(t, "http://"+listen+"/"); got != "new" {
		t.Fatalf("at weight 100 got %q, want new", got)
	}

	code, out, errs = runCLI(t, "--config", cfg, "status", "shop", "--format", "json")
	if code != exitOK {
		t.Fatalf("status: code %d, stderr %s", code, errs)
	}
	var st admin.AppStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if st.Weight != 100 || st.Phase != admin.PhaseNew || st.Sides["new"].Requests != 1 || st.Sides["old"].Requests != 1 {
		t.Errorf("status = %+v; want weight 100, phase new, one request per side", st)
	}
	code, out, _ = runCLI(t, "--config", cfg, "status", "shop")
	if code != exitOK || !strings.Contains(out, "requests") || !strings.Contains(out, "weight 100%") {
		t.Errorf("status text: code %d\n%s", code, out)
	}

	if code := stop(); code != exitOK {
		t.Fatalf("serve exit code %d, want 0", code)
	}

	// A restart keeps the weight set through the admin API.
	stop = startServe(t, cfg, dataDir, adminAddr)
	defer stop()
	if got := get(t, "http://"+listen+"/"); got != "new" {
		t.Fatalf("after restart got %q, want new (weight kept in the data dir)", got)
	}
}

// TestServeSIGTERMDrains runs the real binary: SIGTERM during 100 slow
// in-flight requests lets every one of them complete, then exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	bin := buildMigrate(t)
	var inFlight atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Migrate-Shadow") == "" { // count served requests, not their mirrors
			inFlight.Add(1)
		}
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	defer slow.Close()
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, slow.URL, slow.URL)

	cmd := exec.Command(bin, "--config", cfg, "--data-dir", t.TempDir(), "serve")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	waitHealthy(t, adminAddr, exited)

	const n = 100
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + listen + "/")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusOK && string(b) == "done" {
				ok.Add(1)
			} else {
				errs <- fmt.Errorf("status %d body %q", resp.StatusCode, b)
			}
		}()
	}
	for i := 0; inFlight.Load() < n && i < 400; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := inFlight.Load(); got < n {
		t.Fatalf("only %d of %d requests reached the backend", got, n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("in-flight request failed: %v", err)
	}
	if got := ok.Load(); got != n {
		t.Errorf("%d of %d in-flight requests completed", got, n)
	}
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("migrate did not exit within 20s of SIGTERM\n%s", stderr.String())
	}
}
