package fallback

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/migratekit/migrate/internal/testsvc"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what the echo backend saw of a request.
type seen struct {
	Host     string `json:"host"`
	For      string `json:"for"`
	Proto    string `json:"proto"`
	Fallback string `json:"fallback"`
	SNI      string `json:"sni"`
	Upgrade  string `json:"upgrade"`
	Marked   string `json:"marked"` // the shadow and replay markers, as "shadow/replay"
}

// echoHandler answers with what it saw of the request, as JSON.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	s := seen{Host: r.Host, For: r.Header.Get("X-Forwarded-For"), Proto: r.Header.Get("X-Forwarded-Proto"), Fallback: r.Header.Get(Header),
		Upgrade: r.Header.Get("Upgrade")}
	if sh, rp := r.Header.Get(lb.ShadowHeader), r.Header.Get(lb.ReplayHeader); sh != "" || rp != "" {
		s.Marked = sh + "/" + rp
	}
	if r.TLS != nil {
		s.SNI = r.TLS.ServerName
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

func echoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(echoHandler))
	t.Cleanup(s.Close)
	return s
}

// freeAddr returns a loopback address nothing listens on (for a fallback
// that must know its own address before it binds).
func freeAddr(t *testing.T) string { return testsvc.FreeAddr(t) }

// testManifest is a manifest with one app, shop.test, whose fallback
// forwards to backends.
func testManifest(listen string, backends ...string) *manifest.Manifest {
	return &manifest.Manifest{
		Global: manifest.Global{Drain: manifest.Duration(5 * time.Second)},
		Apps: map[string]*manifest.App{"shop": {
			Name:   "shop",
			Listen: listen,
			Hosts:  []string{"shop.test"},
			Old:    manifest.Pool{Backends: []string{"http://192.0.2.1:3000"}},
			New:    manifest.Pool{Backends: backends},
		}},
	}
}

// running is a fallback serving on a real listener.
type running struct {
	f    *Fallback
	base string
	reg  *prometheus.Registry
}

func start(t *testing.T, m *manifest.Manifest, clock clockwork.Clock) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(m, "shop", Options{Metrics: metrics, Clock: clock, ID: "fb1"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := f.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, lb.ErrDrainDeadline) {
			t.Errorf("Run: %v", err)
		}
	})
	return &running{f: f, base: "http://" + f.Addr().String(), reg: reg}
}

// get sends a GET for shop.test with extra headers and decodes what the
// backend saw.
func (r *running) get(t *testing.T, hdr http.Header) (int, seen) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.test"
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s seen
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatalf("decoding the backend's echo: %v", err)
		}
	}
	return res.StatusCode, s
}

func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	v, err := telemetry.Read(r.reg, name, map[string]string{"app": "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "migrate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf issues a server certificate for name (a DNS name only: no IP).
func (ca *testCA) leaf(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// file writes the CA's PEM into a file and returns its path.
func (ca *testCA) file(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
