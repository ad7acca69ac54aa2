package fallback

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"

	"github.com/migratekit/migrate/manifest"
)

// proxyListen is the fallback's listen address: lb's default for an app
// that sets none.
func proxyListen(cfg *manifest.App) string {
	return cmp.Or(cfg.FallbackListen(), manifest.DefaultListen)
}

// proxyManifest is the manifest lb serves for the fallback of app: only
// that app, on the fallback's listener and TLS, with every client on the
// new side, whose backends are the fallback's. The old side must exist for
// lb; it gets the same backends without a health check and never serves
// (weight 100, no failover). Shadowing, CORS answers and the cutover plan
// are the new stack's business, not the old host's.
func proxyManifest(m *manifest.Manifest, app string) *manifest.Manifest {
	cfg := m.Apps[app]
	a := *cfg
	a.Listen = proxyListen(cfg)
	a.TLS = cfg.FallbackTLS()
	backends := cfg.FallbackBackends()
	a.New = manifest.Pool{Backends: backends, Balance: cfg.New.Balance, Health: cfg.New.Health, Passive: cfg.New.Passive}
	a.Old = manifest.Pool{Backends: backends, Balance: cfg.New.Balance}
	weight := 100
	a.Cutover = manifest.Cutover{Weight: &weight}
	a.Shadow = manifest.Shadow{}
	a.CORS = nil
	a.Failover = nil
	out := *m
	out.Apps = map[string]*manifest.App{app: &a}
	return &out
}

// upstreamTLS is the TLS client configuration of the fallback's https
// backends: fallback.server_name as SNI and the name verified, against
// fallback.ca or the system's roots. It is nil when no backend is https.
func upstreamTLS(cfg *manifest.App) (*tls.Config, error) {
	https := false
	for _, b := range cfg.FallbackBackends() {
		if u, err := url.Parse(b); err == nil && u.Scheme == "https" {
			https = true
		}
	}
	if !https {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.FallbackServerName()}
	if cfg.Fallback.CA == "" {
		return c, nil
	}
	pem, err := os.ReadFile(cfg.Fallback.CA)
	if err != nil {
		return nil, fmt.Errorf("reading fallback.ca: %w: %w", ErrConfig, err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading fallback.ca %s: no PEM certificate in it: %w", cfg.Fallback.CA, ErrConfig)
	}
	return c, nil
}

// validID checks a loop guard id: it travels in a header, and the nginx
// rendering puts it in a regular expression, so letters, digits, '-', '_'
// and '.' only, at most 64 of them.
func validID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("checking loop guard id %q: must be 1 to 64 characters: %w", id, ErrConfig)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("checking loop guard id %q: only letters, digits, '-', '_' and '.' are allowed: %w", id, ErrConfig)
		}
	}
	return nil
}
