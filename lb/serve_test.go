package lb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/migratekit/migrate/manifest"
)

func TestGracefulDrain(t *testing.T) { forEachPath(t, testGracefulDrain) }

func testGracefulDrain(t *testing.T, path dataPath) {
	const n = 100
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	slow := newBackendFunc(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte("done"))
	})
	r := start(t, path, oneApp(testApp(slow, slow)), Options{})
	addr := strings.TrimPrefix(r.base, "http://")

	codes := make(chan int, n)
	for range n {
		go func() {
			res, err := r.client.Get(r.base + "/")
			if err != nil {
				t.Errorf("in-flight request: %v", err)
				codes <- 0
				return
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || string(body) != "done" {
				t.Errorf("in-flight body %q, %v", body, err)
			}
			codes <- res.StatusCode
		}()
	}
	for range n {
		<-arrived
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }() // SIGTERM: cancel Serve's context

	waitRefused(t, addr)
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with %d requests in flight", err, n)
	default:
	}
	close(release)
	for range n {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("in-flight request finished with %d, want 200", code)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// echoBackend is a websocket echo server.
func echoBackend(t *testing.T) *testBackend {
	return newBackendFunc(t, "ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, data); err != nil {
				return
			}
		}
	})
}

func echo(ctx context.Context, c *websocket.Conn, msg string) (string, error) {
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return "", err
	}
	_, data, err := c.Read(ctx)
	return string(data), err
}

func TestWebsocketEcho(t *testing.T) { forEachPath(t, testWebsocketEcho) }

func testWebsocketEcho(t *testing.T, path dataPath) {
	ws := echoBackend(t)
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(testApp(ws, ws)), Options{Metrics: metrics})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: r.client})
	if err != nil {
		t.Fatalf("dialing through the proxy: %v", err)
	}
	for _, msg := range []string{"hello", "world", strings.Repeat("x", 20000)} {
		got, err := echo(ctx, c, msg)
		if err != nil || got != msg {
			t.Fatalf("echo of %d bytes = %d bytes, %v", len(msg), len(got), err)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Errorf("closing: %v", err)
	}
	labels := map[string]string{"app": "web", "side": "old", "code_class": "1xx"}
	eventually(t, "the upgraded request to be recorded", func() bool {
		return metricValue(t, reg, "migrate_proxy_requests_total", labels) == 1
	})
}

func TestDrainCutsWebsocket(t *testing.T) { forEachPath(t, testDrainCutsWebsocket) }

func testDrainCutsWebsocket(t *testing.T, path dataPath) {
	ws := echoBackend(t)
	m := oneApp(testApp(ws, ws))
	m.Global.Drain = manifest.Duration(time.Second)
	r := start(t, path, m, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: r.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	if got, err := echo(ctx, c, "still here"); err != nil || got != "still here" {
		t.Errorf("echo during the drain = %q, %v; want the connection alive until the deadline", got, err)
	}
	if err := <-stopped; !errors.Is(err, ErrDrainDeadline) {
		t.Errorf("Serve = %v, want ErrDrainDeadline", err)
	}
	if _, err := echo(ctx, c, "after"); err == nil {
		t.Errorf("websocket still open after the drain deadline")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "migrate test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "PRIVATE KEY", keyDER)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSListener checks a TLS listener. One path: net/http serves every
// TLS listener (httptlsgate.go).
func TestTLSListener(t *testing.T) {
	t.Parallel()
	certFile, keyFile, roots := selfSigned(t, t.TempDir())
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	app := testApp(oldB, newB)
	app.TLS = &manifest.TLS{Cert: certFile, Key: keyFile}
	app.Cutover = manifest.Cutover{Weight: ptr(50), Sticky: "cookie"}
	r := start(t, pathNetHTTP, oneApp(app), Options{})
	addr := strings.TrimPrefix(r.base, "http://")

	tests := []struct {
		name        string
		min, max    uint16
		h2          bool // the client offers HTTP/2
		wantRefused bool
	}{
		{"TLS 1.1 refused", tls.VersionTLS10, tls.VersionTLS11, false, true},
		{"TLS 1.2 served", tls.VersionTLS12, tls.VersionTLS12, false, false},
		{"TLS 1.3 served", tls.VersionTLS13, tls.VersionTLS13, false, false},
		{"HTTP/2 served", tls.VersionTLS13, tls.VersionTLS13, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tt.min, MaxVersion: tt.max}, ForceAttemptHTTP2: tt.h2}
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
			if tt.wantRefused {
				if err == nil {
					res.Body.Close()
					t.Fatalf("TLS %x handshake accepted", tt.max)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET over TLS %x: %v", tt.max, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version != tt.max {
				t.Errorf("status %d over %+v, want 200 over TLS %x", res.StatusCode, res.TLS, tt.max)
			}
			if h2 := res.ProtoMajor == 2; h2 != tt.h2 {
				t.Errorf("answered over %s, want HTTP/2 %v", res.Proto, tt.h2)
			}
			if c := res.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
				t.Errorf("Set-Cookie %q is not Secure on a TLS listener", c)
			}
			seen := oldB.lastHeader()
			if res.Header.Get("X-Backend") == "new" {
				seen = newB.lastHeader()
			}
			if got := seen.Get("X-Forwarded-Proto"); got != "https" {
				t.Errorf("X-Forwarded-Proto at the backend = %q, want https", got)
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bk := newBackend(t, "b")
	tests := []struct {
		name   string
		listen string
		tls    *manifest.TLS
	}{
		{"address in use", busy.Addr().String(), nil},
		{"missing certificate", "127.0.0.1:0", &manifest.TLS{Cert: "/nonexistent/cert.pem", Key: "/nonexistent/key.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := testApp(bk, bk)
			app.Listen, app.TLS = tt.listen, tt.tls
			p, err := New(oneApp(app), nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Listen()
			if err == nil || !strings.Contains(err.Error(), tt.listen) {
				t.Errorf("Listen = %v, want an error naming %s", err, tt.listen)
			}
			if err := p.Serve(context.Background()); !errors.Is(err, ErrNotListening) {
				t.Errorf("Serve after a failed Listen = %v, want ErrNotListening", err)
			}
		})
	}
}

// TestDrainCutsStream checks that a drain deadline cuts an answer still
// streaming, and Serve returns.
func TestDrainCutsStream(t *testing.T) { forEachPath(t, testDrainCutsStream) }

func testDrainCutsStream(t *testing.T, path dataPath) {
	started := make(chan struct{}, 1)
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-r.Context().Done()
	})
	m := oneApp(testApp(b, b))
	m.Global.Drain = manifest.Duration(100 * time.Millisecond)
	r := start(t, path, m, Options{})
	res, err := r.client.Get(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("the stream ended cleanly, want it cut")
	}
	select {
	case err := <-stopped:
		if err != nil && !errors.Is(err, ErrDrainDeadline) {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain deadline")
	}
}

// TestRefusedUpgradeStreams checks that the answer to an upgrade request
// the backend refuses (the loops hand upgrades to net/http) reaches the
// client while it is written, not once it is whole.
func TestRefusedUpgradeStreams(t *testing.T) { forEachPath(t, testRefusedUpgradeStreams) }

func testRefusedUpgradeStreams(t *testing.T, path dataPath) {
	received := make(chan struct{})
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(256<<10+1000)) // a known length: ReverseProxy does not flush
		w.Write(make([]byte, 256<<10))                             // no upgrade: a plain answer
		select {
		case <-received: // the client has the first part
		case <-time.After(10 * time.Second):
			t.Error("the client got nothing of the answer while the backend wrote it")
		}
		w.Write(make([]byte, 1000))
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	req, _ := http.NewRequest(http.MethodGet, r.base+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	res, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	close(received)
	rest, err := io.ReadAll(res.Body)
	if err != nil || len(rest) != 256<<10 {
		t.Errorf("rest of the answer: %d bytes, %v; want %d", len(rest), err, 256<<10)
	}
}
