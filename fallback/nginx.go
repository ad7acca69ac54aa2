package fallback

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/migratekit/migrate/internal/hostport"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
)

// NginxLogFormat is the log_format of the rendered access log: nginx's
// combined format followed by the X-Forwarded-For chain, the host, the
// request time and the upstream's response time. logship reads it with
// format nginx_combined, or with format nginx and this string for every
// field.
const NginxLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" "$host" $request_time $upstream_response_time`

// systemCAs is Debian's bundle of the system's roots, trusted when
// fallback.ca is not set.
const systemCAs = "/etc/ssl/certs/ca-certificates.crt"

//go:embed nginx.conf.tmpl
var nginxTemplate string

var nginxTmpl = template.Must(template.New("nginx").Parse(nginxTemplate))

// nginxData is what the template renders.
type nginxData struct {
	App, Ident, ID, IDPattern string
	LogFormat, AccessLog      string
	Listen, ServerNames       string
	TLS                       *manifest.TLS
	Servers                   []string // host:port of each backend, when there are several
	ProxyPass                 string
	Connect                   string
	ForwardedFor              string
	HTTPS                     bool
	SSLName, CA               string
	Upgrades                  string   // the app's, for the comment
	UpgradePattern            string   // an alternation of them, for nginx's regex
	Reserved                  []string // request headers dropped (lb's reserved ones)
}

// RenderNginx writes the fallback of app as an nginx configuration for the
// http {} context: a server block on fallback.listen for the app's hosts
// that proxies to fallback.backends (an upstream block when there are
// several) with the Host kept, the forwarding headers, websocket upgrades,
// SNI and certificate verification for https backends, the loop guard for
// id (empty: DefaultID(app)) and its own access log. Bad input is reported
// with the manifest key it comes from.
func RenderNginx(w io.Writer, m *manifest.Manifest, app, id string) error {
	if m == nil || m.Apps[app] == nil {
		return fmt.Errorf("rendering nginx fallback: %w: %q", ErrUnknownApp, app)
	}
	if id == "" {
		id = DefaultID(app)
	}
	d, err := nginxConfig(m.Apps[app], app, id)
	if err != nil {
		return fmt.Errorf("rendering nginx fallback of %s: %w", app, err)
	}
	if err := nginxTmpl.Execute(w, d); err != nil {
		return fmt.Errorf("rendering nginx fallback of %s: %w", app, err)
	}
	return nil
}

func nginxConfig(cfg *manifest.App, app, id string) (*nginxData, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	d := &nginxData{
		App: app, Ident: nginxIdent(app), ID: id, IDPattern: regexp.QuoteMeta(id),
		LogFormat: NginxLogFormat, TLS: cfg.FallbackTLS(),
		Connect:      nginxDuration(cfg.Timeouts.Connect.Or(manifest.DefaultConnectTimeout)),
		ForwardedFor: "$remote_addr",
		Reserved:     []string{lb.ShadowHeader, lb.ReplayHeader},
	}
	d.upgrades(cfg.Upgrades)
	if len(cfg.TrustedProxies) > 0 {
		d.ForwardedFor = "$proxy_add_x_forwarded_for"
	}
	var errs []error
	d.AccessLog = cmp.Or(cfg.Fallback.AccessLog, manifest.DefaultFallbackAccessLog(app))
	errs = append(errs, nginxPath("fallback.access_log", d.AccessLog))
	if d.TLS != nil {
		errs = append(errs, nginxPath("fallback.tls.cert", d.TLS.Cert), nginxPath("fallback.tls.key", d.TLS.Key))
	}
	var err error
	if d.Listen, err = nginxListen(proxyListen(cfg)); err != nil {
		errs = append(errs, err)
	}
	if d.ServerNames, err = nginxServerNames(cfg.Hosts); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, d.backends(cfg, app))
	return d, errors.Join(errs...)
}

// upgrades sets what the rendering lets clients switch to: the app's list
// (nil: lb's default, websocket).
func (d *nginxData) upgrades(list []string) {
	if list == nil {
		list = []string{"websocket"}
	}
	quoted := make([]string, len(list))
	for i, u := range list {
		quoted[i] = regexp.QuoteMeta(u)
	}
	d.Upgrades = strings.Join(list, ", ")
	if len(list) == 0 {
		d.Upgrades = "none"
	}
	d.UpgradePattern = strings.Join(quoted, "|")
}

// backends sets the proxy_pass target, the upstream servers and the TLS
// settings of the fallback's backends.
func (d *nginxData) backends(cfg *manifest.App, app string) error {
	raw := cfg.FallbackBackends()
	if len(raw) == 0 {
		return errors.New("fallback.backends: no backend (and new.backends is empty)")
	}
	var scheme, path string
	for i, b := range raw {
		u, err := url.Parse(strings.TrimSpace(b))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("fallback.backends[%d] %q: not an http:// or https:// URL", i, b)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("fallback.backends[%d] %q: nginx cannot proxy to a URL with a query, fragment or user info", i, b)
		}
		if i > 0 && (u.Scheme != scheme || u.EscapedPath() != path) {
			return fmt.Errorf("fallback.backends[%d] %q: every backend must have the scheme and path of the first (%s://...%s)", i, b, scheme, path)
		}
		scheme, path = u.Scheme, u.EscapedPath()
		if strings.ContainsAny(u.Host+path, "\"'\\$;{} \t") {
			return fmt.Errorf("fallback.backends[%d] %q: characters nginx would misread", i, b)
		}
		d.Servers = append(d.Servers, hostport.Of(u))
	}
	if path == "/" {
		path = ""
	}
	if len(d.Servers) == 1 {
		d.ProxyPass = scheme + "://" + d.Servers[0] + path
		d.Servers = nil
	} else {
		d.ProxyPass = scheme + "://migrate_fallback_" + d.Ident + path
	}
	if scheme != "https" {
		return nil
	}
	d.HTTPS = true
	d.SSLName = cfg.FallbackServerName()
	if d.SSLName == "" {
		d.SSLName = firstName(d.ServerNames)
	} else if !validHost(d.SSLName) {
		return fmt.Errorf("fallback.server_name %q: not a host name", d.SSLName)
	}
	d.CA = cfg.Fallback.CA
	if d.CA == "" {
		d.CA = systemCAs
	}
	return nginxPath("fallback.ca", d.CA)
}

// firstName is the first server name that is not an IP address, else
// $host (the request's).
func firstName(serverNames string) string {
	for _, n := range strings.Fields(serverNames) {
		if n != "_" && !strings.HasPrefix(n, "*") && net.ParseIP(strings.Trim(n, "[]")) == nil {
			return n
		}
	}
	return "$host"
}

// nginxListen turns a Go listen address into nginx's: ":443" is "443".
func nginxListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("fallback.listen %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("fallback.listen %q: nginx needs a port from 1 to 65535", addr)
	}
	switch {
	case host == "":
		return port, nil
	case host != "*" && !isIP(host) && !isHostName(host):
		return "", fmt.Errorf("fallback.listen %q: %q is not an IP address or host name", addr, host)
	}
	return net.JoinHostPort(host, port), nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// isHostName reports whether s is dot-separated labels of letters, digits
// and hyphens.
func isHostName(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return len(s) <= 253
}

func nginxServerNames(hosts []string) (string, error) {
	if len(hosts) == 0 {
		return "_", nil
	}
	names := make([]string, 0, len(hosts))
	for i, h := range hosts {
		name := h
		if host, _, err := net.SplitHostPort(h); err == nil {
			name = host // nginx matches server_name without the port
		}
		if !validHost(name) {
			return "", fmt.Errorf("hosts[%d] %q: not a host name nginx can match", i, h)
		}
		names = append(names, name)
	}
	return strings.Join(names, " "), nil
}

var hostRE = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$|^\[?[0-9A-Fa-f:.]+\]?$`)

func validHost(h string) bool { return len(h) <= 253 && hostRE.MatchString(h) }

// nginxPath checks a file path put between double quotes in the config.
func nginxPath(key, p string) error {
	if p == "" {
		return fmt.Errorf("%s: empty path", key)
	}
	// Braces, semicolons, quotes and # are legal in a quoted nginx string
	// but break the YAML hint written next to it (and a reader's eye).
	if i := strings.IndexFunc(p, func(r rune) bool { return strings.ContainsRune("\"\\$'{};#", r) || r < ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%s %q: character %q at %d cannot be written in an nginx config", key, p, p[i], i)
	}
	return nil
}

// nginxIdent is app as an nginx variable and upstream name.
func nginxIdent(app string) string {
	var b strings.Builder
	for _, r := range app {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// nginxDuration writes d in nginx's units: whole seconds, else
// milliseconds.
func nginxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(max(int64(d/time.Millisecond), 1), 10) + "ms"
}
