package lb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// reload reloads r's proxy with m, failing the test on error.
func (r *running) reload(t *testing.T, m *manifest.Manifest, opts Options) {
	t.Helper()
	if err := r.p.Reload(m, opts); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

// A reload replaces a pool's backends: the new one serves, the one gone
// gets no new request, and the one kept keeps its state.
func TestReloadBackends(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		kept, gone, added := newBackend(t, "kept"), newBackend(t, "gone"), newBackend(t, "added")
		app := testApp(kept, newBackend(t, "new"))
		app.Old.Backends = []string{kept.URL, gone.URL}
		app.Cutover.Weight = ptr(0)
		opts := Options{test: testHooks{path: path}}
		r := start(t, path, oneApp(app), opts)
		before := r.p.App("web")
		keptBackend := before.sides[sideOld].pool.backends()[0]
		next := testApp(kept, newBackend(t, "new"))
		next.Old.Backends = []string{kept.URL, added.URL}
		next.Cutover.Weight = ptr(0)
		r.reload(t, oneApp(next), opts)
		a := r.p.App("web")
		if got := a.sides[sideOld].pool.backends()[0]; got != keptBackend {
			t.Error("the backend kept by the reload is a new object: its state is lost")
		}
		eventually(t, "the added backend in rotation", func() bool { st, _ := backendOf(a, added.URL); return st.Healthy })
		goneHits := gone.hits.Load()
		if got := hitsDuring(t, r, 20); got["added"] == 0 || got["kept"] == 0 {
			t.Errorf("after the reload: hits %v, want kept and added", got)
		}
		if gone.hits.Load() != goneHits {
			t.Error("the backend the reload removed still gets requests")
		}
		if !before.sides[sideOld].pool.backends()[1].removed.Load() {
			t.Error("the backend the reload removed is not marked removed")
		}
	})
}

// A reload changes hosts and apps: a new host and a new app route, a
// host gone is refused 421; the weight of an app kept is kept, and
// setting it on the app object of before (the rollback manager holds it)
// sets it on the one served now.
func TestReloadHostsAndApps(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		oldB, newB, other := newBackend(t, "old"), newBackend(t, "new"), newBackend(t, "other")
		app := testApp(oldB, newB)
		app.Hosts = []string{"shop.test", "legacy.test"}
		app.Cutover.Weight = ptr(0)
		opts := Options{test: testHooks{path: path}}
		r := start(t, path, oneApp(app), opts)
		before := r.p.App("web")
		if err := before.SetWeight(100); err != nil {
			t.Fatal(err)
		}
		next := testApp(oldB, newB)
		next.Hosts = []string{"shop.test", "www.shop.test"}
		next.Cutover.Weight = ptr(0) // the served weight wins over the manifest's
		second := testApp(other, other)
		second.Hosts = []string{"admin.test"}
		m := &manifest.Manifest{Apps: map[string]*manifest.App{"web": next, "admin": second}}
		r.reload(t, m, opts)
		for _, tt := range []struct {
			host    string
			status  int
			backend string
		}{
			{"shop.test", 200, "new"},
			{"www.shop.test", 200, "new"},
			{"admin.test", 200, "other"},
			{"legacy.test", http.StatusMisdirectedRequest, ""},
		} {
			status, h, _ := r.do(t, http.MethodGet, "/", tt.host, nil)
			if status != tt.status || h.Get("X-Backend") != tt.backend {
				t.Errorf("Host %s after the reload: %d from %q, want %d from %q", tt.host, status, h.Get("X-Backend"), tt.status, tt.backend)
			}
		}
		if err := before.SetWeight(0); err != nil {
			t.Fatal(err)
		}
		if w := r.p.App("web").Weight(); w != 0 {
			t.Errorf("weight set on the app object of before the reload: served %d, want 0", w)
		}
		if _, h, _ := r.do(t, http.MethodGet, "/", "shop.test", nil); h.Get("X-Backend") != "old" {
			t.Errorf("at weight 0 after the reload: served by %q, want old", h.Get("X-Backend"))
		}
		// The app goes: its host is refused.
		r.reload(t, &manifest.Manifest{Apps: map[string]*manifest.App{"admin": second}}, opts)
		if status, _, _ := r.do(t, http.MethodGet, "/", "shop.test", nil); status != http.StatusMisdirectedRequest {
			t.Errorf("host of an app the reload removed: %d, want 421", status)
		}
		if r.p.App("web") != nil {
			t.Error("the removed app is still served")
		}
	})
}

// A manifest that fails to build changes nothing: the proxy serves on
// with what it had.
func TestReloadInvalidChangesNothing(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		oldB, newB := newBackend(t, "old"), newBackend(t, "new")
		app := testApp(oldB, newB)
		app.Cutover.Weight = ptr(0)
		opts := Options{test: testHooks{path: path}}
		r := start(t, path, oneApp(app), opts)
		before := r.p.App("web")
		bad := []struct {
			name string
			m    *manifest.Manifest
		}{
			{"a backend that is not a URL", oneApp(&manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{"ftp://x"}}, New: manifest.Pool{Backends: []string{newB.URL}}})},
			{"TLS on a plain listener", func() *manifest.Manifest {
				a := testApp(oldB, newB)
				a.TLS = &manifest.TLS{Cert: "c", Key: "k"}
				return oneApp(a)
			}()},
			{"a new listener that cannot bind", &manifest.Manifest{Apps: map[string]*manifest.App{
				"web":   testApp(oldB, newB),
				"other": {Listen: "192.0.2.1:1", Old: manifest.Pool{Backends: []string{oldB.URL}}, New: manifest.Pool{Backends: []string{newB.URL}}},
			}}},
			{"no manifest", nil},
		}
		for _, tt := range bad {
			err := r.p.Reload(tt.m, opts)
			if !errors.Is(err, ErrReload) {
				t.Errorf("%s: Reload = %v, want ErrReload", tt.name, err)
			}
			if r.p.App("web") != before {
				t.Errorf("%s: the app served changed", tt.name)
			}
			if status, h, _ := r.do(t, http.MethodGet, "/", "", nil); status != 200 || h.Get("X-Backend") != "old" {
				t.Errorf("%s: after the failed reload: %d from %q, want 200 from old", tt.name, status, h.Get("X-Backend"))
			}
		}
	})
}

// A listen address new to the manifest is bound and served; one gone
// stops accepting, while the request in flight on it finishes.
func TestReloadListeners(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		release := make(chan struct{})
		started := make(chan struct{})
		var once sync.Once
		slow := newBackendFunc(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				once.Do(func() { close(started) })
				<-release
			}
			fmt.Fprint(w, "slow")
		})
		first := testApp(slow, slow)
		opts := Options{test: testHooks{path: path}}
		r := start(t, path, oneApp(first), opts)
		firstAddr := r.p.Addrs()["127.0.0.1:0"].String()
		inflight := make(chan int, 1)
		go func() {
			res, err := http.Get("http://" + firstAddr + "/slow")
			if err != nil {
				inflight <- 0
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			inflight <- res.StatusCode
		}()
		<-started
		moved := testApp(slow, slow)
		moved.Listen = "127.0.0.3:0"
		r.reload(t, oneApp(moved), opts)
		addr := r.p.Addrs()["127.0.0.3:0"]
		if addr == nil {
			t.Fatalf("the new listen address is not bound: %v", r.p.Addrs())
		}
		res, err := http.Get("http://" + addr.String() + "/")
		if err != nil {
			t.Fatalf("a request on the new listener: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("a request on the new listener: %d, want 200", res.StatusCode)
		}
		waitRefused(t, firstAddr)
		close(release)
		if status := <-inflight; status != 200 {
			t.Errorf("the request in flight on the retired listener: %d, want 200", status)
		}
	})
}

// A reload reads the TLS certificates again: a new handshake gets the
// new one, a connection open before keeps serving with the old one.
func TestReloadRotatesCertificate(t *testing.T) {
	t.Parallel()
	b := newBackend(t, "b")
	dir := t.TempDir()
	certFile, keyFile, oldRoots := selfSigned(t, dir)
	app := testApp(b, b)
	app.TLS = &manifest.TLS{Cert: certFile, Key: keyFile}
	r := start(t, pathAuto, oneApp(app), Options{})
	addr := r.p.Addrs()["127.0.0.1:0"].String()
	before := dialAddr(t, addr, &tls.Config{RootCAs: oldRoots})
	before.send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := before.response(t, http.MethodGet); res.StatusCode != 200 {
		t.Fatalf("before the rotation: %d", res.StatusCode)
	}
	newCert, newKey, newRoots := selfSigned(t, t.TempDir())
	next := testApp(b, b)
	next.TLS = &manifest.TLS{Cert: newCert, Key: newKey}
	r.reload(t, oneApp(next), Options{})
	if err := handshake(addr, newRoots); err != nil {
		t.Errorf("a handshake after the rotation, trusting the new certificate: %v", err)
	}
	if err := handshake(addr, oldRoots); err == nil {
		t.Error("a handshake after the rotation still gets the old certificate")
	}
	before.send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := before.response(t, http.MethodGet); res.StatusCode != 200 {
		t.Errorf("the connection open before the rotation: %d, want 200", res.StatusCode)
	}
}

// handshake completes a TLS handshake with addr trusting roots.
func handshake(addr string, roots *x509.CertPool) error {
	host, _, _ := net.SplitHostPort(addr)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: host})
	if err != nil {
		return err
	}
	return c.Close()
}

// Reloads under steady load, changing the backend list each time: no
// request fails, and the backends of each reload serve.
func TestReloadUnderLoad(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		backends := []*testBackend{newBackend(t, "b0"), newBackend(t, "b1"), newBackend(t, "b2")}
		appOf := func(i int) *manifest.App {
			a := testApp(backends[i%3], backends[i%3])
			a.Old.Backends = []string{backends[i%3].URL, backends[(i+1)%3].URL}
			a.Cutover.Weight = ptr(0)
			return a
		}
		opts := Options{test: testHooks{path: path}}
		r := start(t, path, oneApp(appOf(0)), opts)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var failed, served atomic.Int64
		var firstErr atomic.Value
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					res, err := r.client.Get(r.base + "/")
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", res.StatusCode))
					}
					served.Add(1)
				}
			})
		}
		for i := 1; i <= 20; i++ {
			r.reload(t, oneApp(appOf(i)), opts)
			want := backends[(i+1)%3]
			a := r.p.App("web")
			eventually(t, "the reload's backends in rotation", func() bool {
				st, _ := backendOf(a, want.URL)
				return st.Healthy
			})
		}
		cancel()
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Errorf("%d of %d requests failed through 20 reloads (first: %v)", n, served.Load(), firstErr.Load())
		}
		if !strings.Contains(fmt.Sprint(r.p.Addrs()), "127.0.0.1") {
			t.Error("the listener is gone")
		}
	})
}
