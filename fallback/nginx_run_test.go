package fallback

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
)

// nginxPrefix writes a whole nginx configuration around the rendered
// fallback into a fresh prefix directory. It returns the prefix.
func nginxPrefix(t *testing.T, fallbackConf []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fallback.conf"), fallbackConf, 0o644); err != nil {
		t.Fatal(err)
	}
	testsvc.WriteNginxConf(t, dir, "    include "+dir+"/fallback.conf;")
	return dir
}

// tlsFiles writes a certificate and key for name, issued by ca, and
// returns their paths.
func tlsFiles(t *testing.T, ca *testCA, name string) manifest.TLS {
	t.Helper()
	cert := ca.leaf(t, name)
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	files := manifest.TLS{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(files.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return files
}

func render(t *testing.T, m *manifest.Manifest) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := RenderNginx(&buf, m, "shop", "fb1"); err != nil {
		t.Fatalf("RenderNginx: %v", err)
	}
	return buf.Bytes()
}

// TestNginxAcceptsRendering runs nginx -t on the renderings: plain HTTP to
// one backend, and TLS on the listener with https backends in an upstream
// block verified against a CA.
func TestNginxAcceptsRendering(t *testing.T) {
	bin := testsvc.NginxBinary(t)
	ca := newCA(t)
	tests := []struct {
		name string
		edit func(a *manifest.App)
	}{
		{name: "plain", edit: func(a *manifest.App) {}},
		{name: "tls listener, https upstream, trusted proxies", edit: func(a *manifest.App) {
			files := tlsFiles(t, ca, "shop.test")
			a.TrustedProxies = []string{"10.0.0.0/8"}
			a.Fallback.TLS = &files
			a.Fallback.Backends = []string{"https://127.0.0.1:9443", "https://127.0.0.2:9443"}
			a.Fallback.CA = ca.file(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest(freeAddr(t), "http://127.0.0.1:9")
			m.Apps["shop"].Fallback.AccessLog = filepath.Join(t.TempDir(), "access.log")
			tt.edit(m.Apps["shop"])
			dir := nginxPrefix(t, render(t, m))
			out, err := exec.Command(bin, testsvc.NginxArgs(dir, "-t")...).CombinedOutput()
			if err != nil {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "test is successful") {
				t.Errorf("nginx -t did not report success:\n%s", out)
			}
		})
	}
}

// TestNginxForwards starts a real nginx with the rendering and checks what
// the backend sees, the loop guard, and the access log that logship reads.
func TestNginxForwards(t *testing.T) {
	ca := newCA(t)
	plain := echoBackend(t)
	secure := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "shop.test")}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	tests := []struct {
		name     string
		backend  string // "" forwards to nginx itself
		ca       *testCA
		hdr      http.Header
		wantCode int
		want     seen
	}{
		{name: "host kept, client forwarded, id added", backend: plain.URL, wantCode: http.StatusOK,
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"}},
		{name: "id appended after another fallback's", backend: plain.URL, hdr: http.Header{Header: {"other"}}, wantCode: http.StatusOK,
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "other, fb1"}},
		{name: "https backend by IP: SNI and verification for the host", backend: secure.URL, ca: ca, wantCode: http.StatusOK,
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1", SNI: "shop.test"}},
		{name: "https backend with a certificate of another authority", backend: secure.URL, ca: newCA(t), wantCode: http.StatusBadGateway},
		{name: "a client's shadow and replay markers dropped", backend: plain.URL, hdr: http.Header{"X-Migrate-Shadow": {"1"}, "X-Migrate-Replay": {"1"}}, wantCode: http.StatusOK,
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"}},
		{name: "h2c upgrade not passed on", backend: plain.URL, hdr: http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}, wantCode: http.StatusOK,
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"}},
		{name: "arriving with its own id", backend: plain.URL, hdr: http.Header{Header: {"x, fb1"}}, wantCode: http.StatusLoopDetected},
		{name: "forwarded to itself", wantCode: http.StatusLoopDetected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := freeAddr(t)
			backend := tt.backend
			if backend == "" {
				backend = "http://" + addr
			}
			m := testManifest(addr, backend)
			accessLog := filepath.Join(t.TempDir(), "access.log")
			m.Apps["shop"].Fallback.AccessLog = accessLog
			if tt.ca != nil {
				m.Apps["shop"].Fallback.CA = tt.ca.file(t)
			}
			testsvc.StartNginx(t, nginxPrefix(t, render(t, m)), addr)
			r := &running{base: "http://" + addr}
			code, got := r.get(t, tt.hdr)
			if diff := cmp.Diff([]any{code, got}, []any{tt.wantCode, tt.want}); diff != "" {
				t.Errorf("[status, backend saw] (-got +want):\n%s", diff)
			}
			checkAccessLog(t, accessLog, tt.wantCode)
		})
	}
}

// checkAccessLog reads the fallback's access log with logship's nginx
// parser and the rendered log_format: its last line is the request, from
// 127.0.0.1 for shop.test with status code.
func checkAccessLog(t *testing.T, path string, code int) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(5 * time.Second); last == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			last = sc.Text()
		}
		f.Close()
	}
	p, err := logship.New("nginx", logship.Options{LogFormat: NginxLogFormat})
	if err != nil {
		t.Fatal(err)
	}
	var rec logship.Record
	if err := p.Parse([]byte(last), &rec); err != nil {
		t.Fatalf("parsing access log line %q: %v", last, err)
	}
	got := []any{string(rec.RemoteAddr), string(rec.Host), rec.Method, string(rec.Path), rec.Status}
	want := []any{"127.0.0.1", "shop.test", "GET", "/x", code}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("access log line %q: [client, host, method, path, status] (-got +want):\n%s", last, diff)
	}
}
