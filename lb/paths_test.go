package lb

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// pathCase is one way the proxy may serve a plain-HTTP listener: a data
// path, with shadowing on or off. Shadowing changes which path serves (the
// default manifest mirrors): a mirrored app's requests stay on the loops,
// which report their answers to the mirror.
//
// A TLS listener is a case of its own: whatever the path, net/http serves
// it, behind the gate after the handshake (httptlsgate.go).
type pathCase struct {
	path   dataPath
	shadow bool // every app has a mirror that samples every client
	tls    bool // the listener terminates TLS
}

func (pc pathCase) String() string {
	s := pc.path.String()
	if pc.tls {
		s = "tls"
	}
	if pc.shadow {
		return s + "/shadow"
	}
	return s
}

// pathCases are every data path the proxy has and a TLS listener, each
// with shadowing off and on: the list is made from the dataPath
// constants, so a new path is in it.
func pathCases() []pathCase {
	var out []pathCase
	for _, shadow := range []bool{false, true} {
		for p := range numPaths {
			out = append(out, pathCase{path: p, shadow: shadow})
		}
		out = append(out, pathCase{shadow: shadow, tls: true})
	}
	return out
}

// forEachPath runs test once per data path (numPaths: the loops where
// they serve, and net/http), each in a parallel subtest, and makes the
// test itself parallel: a behaviour test of the proxy starts its proxy
// through it, with start(t, path, ...), so that it runs on both paths by
// construction and no list of tests is kept by hand. everyPath adds a TLS
// listener and shadowing to the cases, for the tests of request rules.
func forEachPath(t *testing.T, test func(t *testing.T, path dataPath)) {
	t.Helper()
	t.Parallel()
	for p := range numPaths {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			test(t, p)
		})
	}
}

// everyPath runs test once per path case, in parallel subtests: a
// behaviour test of the data path runs on every path by construction.
func everyPath(t *testing.T, test func(t *testing.T, pc pathCase)) {
	t.Helper()
	for _, pc := range pathCases() {
		t.Run(pc.String(), func(t *testing.T) {
			t.Parallel()
			test(t, pc)
		})
	}
}

// startOn serves m on pc: its path, a sampling mirror for every app when
// pc shadows, TLS on every listener when pc says so (the client trusts its
// certificate).
func startOn(t *testing.T, pc pathCase, m *manifest.Manifest, opts Options) *running {
	t.Helper()
	opts.test.path = pc.path
	if pc.shadow {
		opts.Mirrors = map[string]Mirror{}
		for name := range m.Apps {
			opts.Mirrors[name] = &teeMirror{}
		}
	}
	var roots *x509.CertPool
	if pc.tls {
		var files manifest.TLS
		files.Cert, files.Key, roots = selfSigned(t, t.TempDir())
		for _, a := range m.Apps {
			a.TLS = &files
		}
	}
	r := serveProxy(t, m, opts)
	if pc.tls {
		r.tls = &tls.Config{RootCAs: roots}
		r.base = "https://" + strings.TrimPrefix(r.base, "http://")
		r.client.Transport.(*http.Transport).TLSClientConfig = r.tls
	}
	return r
}

// dial opens a raw connection to r's listener (over TLS on a TLS
// listener, offering no ALPN protocol: HTTP/1.1).
func (r *running) dial(t *testing.T) *rawConn {
	t.Helper()
	addr := r.base[strings.Index(r.base, "//")+2:]
	return dialAddr(t, addr, r.tls)
}

// dialAddr opens a raw connection to addr, over TLS with cfg if set.
func dialAddr(t *testing.T, addr string, cfg *tls.Config) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		c = tls.Client(c, cfg)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a hung test fails instead of hanging
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// serveProxy builds a proxy of m with opts (path included), serves it on
// its listeners until the test ends, and returns it with a client.
func serveProxy(t testing.TB, m *manifest.Manifest, opts Options) *running {
	t.Helper()
	p, err := New(m, nil, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := p.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	tr := &http.Transport{MaxIdleConnsPerHost: 200, Proxy: nil}
	r := &running{p: p, client: &http.Client{Transport: tr}}
	if a, ok := p.Addrs()["127.0.0.1:0"]; ok {
		r.base = "http://" + a.String()
	}
	var once sync.Once
	var result error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			result = <-done
			tr.CloseIdleConnections()
		})
		return result
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil && !errors.Is(err, ErrDrainDeadline) {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

// teeMirror is a mirror as package shadow's is, sampling every client: the
// loops report each answer to it (LoopMirror) and net/http calls Serve. It
// mirrors nothing itself; it only changes the path.
type teeMirror struct {
	mu    sync.Mutex
	began int // requests the loops reported
}

func (m *teeMirror) Serve(w http.ResponseWriter, r *http.Request, _ string, serve http.Handler) {
	serve.ServeHTTP(w, r)
}

func (m *teeMirror) Leaves(string, []byte) bool { return false }

func (m *teeMirror) BeginPrimary(*http.Request, string, []byte) MirrorPrimary {
	m.mu.Lock()
	m.began++
	m.mu.Unlock()
	return nopPrimary{}
}

type nopPrimary struct{}

func (nopPrimary) Header(int, http.Header, bool) {}
func (nopPrimary) Body([]byte)                   {}
func (nopPrimary) End(bool, bool)                {}
