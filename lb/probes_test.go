package lb

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/manifest"
)

// seenBackend is a raw backend that records each request it gets as a
// line ("METHOD target host=H" and the fields the probes look at) and
// answers with that line; asked to upgrade, it switches protocols, as an
// h2c or websocket server would.
type seenBackend struct {
	*rawBackend
	mu   sync.Mutex
	seen []string
}

func newSeenBackend(t *testing.T) *seenBackend {
	t.Helper()
	e := &seenBackend{}
	e.rawBackend = newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
		line := fmt.Sprintf("%s %s host=%s", req.Method, req.RequestURI, req.Host)
		for _, k := range []string{"Upgrade", "X-Migrate-Shadow", "X-Migrate-Replay", gateRejectHeader} {
			if v := req.Header.Get(k); v != "" {
				line += " " + strings.ToLower(k) + "=" + v
			}
		}
		e.mu.Lock()
		e.seen = append(e.seen, line)
		e.mu.Unlock()
		if req.Header.Get("Upgrade") != "" {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + req.Header.Get("Upgrade") + "\r\n\r\n", false
		}
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(line), line), false
	})
	return e
}

func (e *seenBackend) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

func (e *seenBackend) addr() string { return e.ln.Addr().String() }

// probeApps are two apps on one listener, each with its own echo backend:
// shop.test and internal.admin, which a client must not reach by naming
// shop.test.
func probeApps(shop, admin *seenBackend) *manifest.Manifest {
	pool := func(e *seenBackend) manifest.Pool { return manifest.Pool{Backends: []string{"http://" + e.addr()}} }
	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"shop":  {Listen: "127.0.0.1:0", Hosts: []string{"shop.test"}, Old: pool(shop), New: pool(shop)},
		"admin": {Listen: "127.0.0.1:0", Hosts: []string{"internal.admin"}, Old: pool(admin), New: pool(admin)},
	}}
	m.Apps["shop"].CORS = &manifest.CORS{Origins: []string{"https://shop.test"}}
	m.Global.Limits.HeaderBytes = probeHeaderLimit
	m.Global.Limits.ClientBodyTimeout = manifest.Duration(300 * time.Millisecond)
	return m
}

// probeHeaderLimit is the probes' header limit: under a loop's head
// buffer, so that a loop has a head over it to refuse.
const probeHeaderLimit = 4 << 10

// probe is raw request bytes and what every path (and nginx, where it is
// the reference) must make of them.
type probe struct {
	name      string
	send      string
	wantCode  int      // of the first answer
	wantClose bool     // the connection closes after it
	wantShop  []string // what shop.test's backend saw, in order
	wantAdmin []string // what internal.admin's backend saw
	// The answer is an error of shop's (its CORS policy refusing the
	// origin, a malformed body): not a refusal of the rules, counted once
	// in migrate_proxy_errors_total under this reason.
	appError string
	// nginx 1.22 answers the same to the same bytes. It is not the
	// reference for the header limit (its buffers answer 400 or 414), for
	// HTTP/1.2 (it serves it), for h2c (its usual websocket configuration
	// tunnels any Upgrade), for the reserved headers (it passes them) nor
	// for a fragment in the target (it forwards it).
	nginx bool
}

// smuggle is a request with both Content-Length and Transfer-Encoding:
// chunked whose Content-Length body hides a second request after the
// chunked body's end.
func smuggle(order string) string {
	hidden := "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n"
	cl := fmt.Sprintf("Content-Length: %d\r\n", len(hidden))
	te := "Transfer-Encoding: chunked\r\n"
	if order == "te-first" {
		cl, te = te, cl
	}
	return "POST /upload HTTP/1.1\r\nHost: shop.test\r\n" + cl + te + "\r\n" + hidden
}

// sized is a GET whose head is n bytes long.
func sized(n int) string {
	head := "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Pad: \r\n\r\n"
	return strings.Replace(head, "X-Pad: ", "X-Pad: "+strings.Repeat("p", n-len(head)), 1)
}

func requestProbes() []probe {
	return []probe{
		{name: "head at the limit", send: sized(probeHeaderLimit), wantCode: 200, wantShop: []string{"GET / host=shop.test"}},
		{name: "head over the limit", send: sized(probeHeaderLimit + 1), wantCode: 431, wantClose: true},
		{name: "content-length and chunked", send: smuggle("cl-first"), wantCode: 400, wantClose: true, nginx: true},
		{name: "chunked and content-length", send: smuggle("te-first"), wantCode: 400, wantClose: true, nginx: true},
		{name: "absolute-form routes and forwards its host",
			send:     "GET http://shop.test/x HTTP/1.1\r\nHost: internal.admin\r\n\r\n",
			wantCode: 200, wantShop: []string{"GET /x host=shop.test"}, nginx: true},
		{name: "h2c upgrade not tunnelled",
			send:     "GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
			wantCode: 200, wantShop: []string{"GET / host=shop.test"}},
		{name: "websocket upgrade tunnelled",
			send:     "GET /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			wantCode: 101, wantShop: []string{"GET /ws host=shop.test upgrade=websocket"}},
		{name: "upgrade with a body",
			send:     "POST /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
			wantCode: 101, wantShop: []string{"POST /ws host=shop.test upgrade=websocket"}},
		{name: "Upgrade without Connection: upgrade",
			send:     "GET / HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\n\r\n",
			wantCode: 200, wantShop: []string{"GET / host=shop.test"}},
		{name: "two Upgrade fields",
			send:     "GET /ws HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n",
			wantCode: 101, wantShop: []string{"GET /ws host=shop.test upgrade=websocket"}},
		{name: "HTTP/9.9", send: "GET / HTTP/9.9\r\nHost: shop.test\r\n\r\n", wantCode: 505, wantClose: true, nginx: true},
		{name: "HTTP/2.0", send: "GET / HTTP/2.0\r\nHost: shop.test\r\n\r\n", wantCode: 505, wantClose: true, nginx: true},
		{name: "HTTP/1.2", send: "GET / HTTP/1.2\r\nHost: shop.test\r\n\r\n", wantCode: 505, wantClose: true},
		{name: "HTTP/1.0", send: "GET / HTTP/1.0\r\nHost: shop.test\r\n\r\n", wantCode: 200, wantClose: true,
			wantShop: []string{"GET / host=shop.test"}, nginx: true},
		{name: "HTTP/1.0 keep-alive", send: "GET / HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\n\r\n", wantCode: 200,
			wantShop: []string{"GET / host=shop.test"}, nginx: true},
		{name: "HTTP/1.0 POST", send: "POST /f HTTP/1.0\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello", wantCode: 200, wantClose: true,
			wantShop: []string{"POST /f host=shop.test"}, nginx: true},
		{name: "HTTP/1.0 without Host", send: "GET / HTTP/1.0\r\n\r\n", wantCode: 421, wantClose: true},
		{name: "HTTP/1.0 without Host, keep-alive", send: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", wantCode: 421},
		{name: "HTTP/1.0 host no app claims", send: "GET / HTTP/1.0\r\nHost: nobody.test\r\nConnection: keep-alive\r\n\r\n", wantCode: 421},
		{name: "transfer-encoding on HTTP/1.0",
			send:     "POST / HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			wantCode: 400, wantClose: true, nginx: true},
		{name: "space in a header name", send: "GET / HTTP/1.1\r\nHost: shop.test\r\nFoo Bar: 1\r\n\r\n", wantCode: 400, wantClose: true, nginx: true},
		{name: "space before the colon", send: "GET / HTTP/1.1\r\nHost: shop.test\r\nFoo : 1\r\n\r\n", wantCode: 400, wantClose: true, nginx: true},
		{name: "forged shadow marker", send: "GET / HTTP/1.1\r\nHost: shop.test\r\nX-Migrate-Shadow: 1\r\nX-Migrate-Replay: 1\r\nX-Migrate-Rejected: x\r\n\r\n",
			wantCode: 200, wantShop: []string{"GET / host=shop.test"}},
		{name: "asterisk-form with DELETE", send: "DELETE * HTTP/1.1\r\nHost: shop.test\r\n\r\n", wantCode: 400, wantClose: true, nginx: true},
		// nginx 1.22 forwards a fragment in the target as it came; RFC
		// 9112 3.2 never allows one (HAProxy refuses it too).
		{name: "fragment in the target", send: "GET /a#frag HTTP/1.1\r\nHost: shop.test\r\n\r\n", wantCode: 400, wantClose: true},
		{name: "host no app claims", send: "GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n", wantCode: 421},
		{name: "host no app claims, with a body", send: "POST / HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 5\r\n\r\nhello", wantCode: 421},
		{name: "host no app claims, with a chunked body", send: "POST / HTTP/1.1\r\nHost: nobody.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", wantCode: 421},
		{name: "CORS preflight answered by the proxy",
			send:     "OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://shop.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
			wantCode: 204},
		{name: "CORS preflight from an origin not allowed",
			send:     "OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://evil.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
			wantCode: 403, appError: reasonCORS},
		{name: "CORS preflight asking to close",
			send:     "OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://shop.test\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n",
			wantCode: 204, wantClose: true},
		{name: "CONNECT", send: "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n", wantCode: 405},
		{name: "chunked upload",
			send:     "POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
			wantCode: 200, wantShop: []string{"POST /up host=shop.test"}, nginx: true},
		{name: "chunked body stalls", send: "POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", wantCode: 408, wantClose: true},
		{name: "chunked body malformed", send: "POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", wantCode: 400, wantClose: true, nginx: true, appError: reasonClientBody},
		{name: "Connection names Content-Length",
			send:     "POST /x HTTP/1.1\r\nHost: shop.test\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello",
			wantCode: 200, wantShop: []string{"POST /x host=shop.test"}, nginx: true},
		{name: "Connection names Transfer-Encoding",
			send:     "POST /x HTTP/1.1\r\nHost: shop.test\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			wantCode: 200, wantShop: []string{"POST /x host=shop.test"}, nginx: true},
		{name: "body stalls", send: "POST /up HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 10\r\n\r\nhello", wantCode: 408, wantClose: true},
	}
}

// TestRequestRules sends each probe's bytes to every path, shadowing on and
// off, and checks the answer, whether the connection stays open (a second
// request on it is then answered), what the backends saw, and that a
// refused probe (every answer from 400 up in the table is a refusal) was
// counted once in migrate_proxy_refused_total under its status, and
// nothing else was.
func TestRequestRules(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		for _, p := range requestProbes() {
			t.Run(p.name, func(t *testing.T) {
				shop, admin := newSeenBackend(t), newSeenBackend(t)
				metrics, reg := newMetrics(t)
				r := startOn(t, pc, probeApps(shop, admin), Options{Metrics: metrics})
				runProbe(t, r.dial(t), p, shop, admin)
				want, wantErrors := map[string]float64{}, map[string]float64{}
				if p.appError != "" {
					wantErrors[p.appError] = 1
				} else if p.wantCode >= 400 {
					want["127.0.0.1:0 "+strconv.Itoa(p.wantCode)] = 1
				}
				if diff := cmp.Diff(want, refusedCounts(t, reg)); diff != "" {
					t.Errorf("migrate_proxy_refused_total by listen and status (-want +got):\n%s", diff)
				}
				for _, reason := range []string{reasonCORS, p.appError} {
					if got := counterSeries(t, reg, "migrate_proxy_errors_total", "reason")[reason]; got != wantErrors[reason] {
						t.Errorf("migrate_proxy_errors_total{reason=%q} = %v, want %v", reason, got, wantErrors[reason])
					}
				}
			})
		}
	})
}

// TestRefusedHTTP2: over HTTP/2, which has no gate (net/http's HTTP/2
// server judges its frames), the router's refusals are answered and
// counted as on HTTP/1.x: a host no app claims gets 421.
func TestRefusedHTTP2(t *testing.T) {
	t.Parallel()
	shop, admin := newSeenBackend(t), newSeenBackend(t)
	metrics, reg := newMetrics(t)
	r := startOn(t, pathCase{tls: true}, probeApps(shop, admin), Options{Metrics: metrics})
	tr := &http.Transport{TLSClientConfig: r.tls.Clone(), ForceAttemptHTTP2: true}
	tr.TLSClientConfig.ServerName = "127.0.0.1"
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, r.base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "nobody.test"
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("answer %d over %s, want 421 over HTTP/2", res.StatusCode, res.Proto)
	}
	if diff := cmp.Diff(map[string]float64{"127.0.0.1:0 421": 1}, refusedCounts(t, reg)); diff != "" {
		t.Errorf("migrate_proxy_refused_total by listen and status (-want +got):\n%s", diff)
	}
}

// refusedCounts returns the series of migrate_proxy_refused_total that
// are not 0, by "listen status".
func refusedCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return counterSeries(t, reg, "migrate_proxy_refused_total", "listen", "status")
}

// counterSeries returns the series of the counter name that are not 0, by
// the values of labels joined with spaces (summed over the other labels).
func counterSeries(t *testing.T, reg *prometheus.Registry, name string, labels ...string) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				var key []string
				for _, k := range labels {
					key = append(key, l[k])
				}
				out[strings.Join(key, " ")] += v
			}
		}
	}
	return out
}

// TestRequestRulesNginx sends the probes nginx is the reference for to a
// real nginx in front of the same backends.
func TestRequestRulesNginx(t *testing.T) {
	t.Parallel()
	for _, p := range requestProbes() {
		if !p.nginx {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			shop, admin := newSeenBackend(t), newSeenBackend(t)
			addr := startNginxProxy(t, "", nginxServer{"shop.test", shop.addr()}, nginxServer{"internal.admin", admin.addr()})
			runProbe(t, dialAddr(t, addr, nil), p, shop, admin)
		})
	}
}

func runProbe(t *testing.T, rc *rawConn, p probe, shop, admin *seenBackend) {
	t.Helper()
	rc.send(t, p.send)
	res, body := rc.response(t, "GET")
	if res.StatusCode != p.wantCode {
		t.Errorf("answer %d %q, want %d", res.StatusCode, body, p.wantCode)
	}
	if p.wantClose {
		if !rc.closed() {
			t.Errorf("connection open after the answer, want it closed")
		}
	} else {
		rc.send(t, "GET /next HTTP/1.1\r\nHost: shop.test\r\n\r\n")
		if next, body := rc.response(t, "GET"); next.StatusCode != 200 {
			t.Errorf("next request on the connection: %d %q, want 200", next.StatusCode, body)
		}
		p.wantShop = append(slices.Clone(p.wantShop), "GET /next host=shop.test")
	}
	got := [][]string{shop.lines(), admin.lines()}
	if diff := cmp.Diff([][]string{p.wantShop, p.wantAdmin}, got, cmpEmpty); diff != "" {
		t.Errorf("[shop, admin] backends saw (-want +got):\n%s", diff)
	}
}

var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

// TestUpgradeList: an app's upgrades list says which protocols a client
// may switch to: h2c once listed, and not even websocket with an empty
// list (the request is then served as a plain one).
func TestUpgradeList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		upgrades []string
		upgrade  string
		wantCode int
		wantSeen string
	}{
		{"h2c listed", []string{"websocket", "h2c"}, "h2c", 101, "GET / host=shop.test upgrade=h2c"},
		{"websocket by default", nil, "websocket", 101, "GET / host=shop.test upgrade=websocket"},
		{"websocket not listed", []string{}, "websocket", 200, "GET / host=shop.test"},
		{"one of two offered not listed", nil, "websocket, h2c", 200, "GET / host=shop.test"},
	}
	everyPath(t, func(t *testing.T, pc pathCase) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				shop, admin := newSeenBackend(t), newSeenBackend(t)
				m := probeApps(shop, admin)
				m.Apps["shop"].Upgrades = tt.upgrades
				r := startOn(t, pc, m, Options{})
				c := r.dial(t)
				c.send(t, "GET / HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: "+tt.upgrade+"\r\n\r\n")
				if code, _ := c.head(t); code != tt.wantCode {
					t.Errorf("answer %d, want %d", code, tt.wantCode)
				}
				if got := shop.lines(); len(got) != 1 || got[0] != tt.wantSeen {
					t.Errorf("backend saw %q, want %q", got, tt.wantSeen)
				}
			})
		}
	})
}

// TestAnswerFramingNamedInConnection: an answer whose Connection header
// names its Content-Length reaches the client framed, on every path (a
// loop dropped the field as hop-by-hop while keeping the connection: the
// client waited for the end of a body that had ended), and the connection
// serves the next request.
func TestAnswerFramingNamedInConnection(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		b := newRawBackend(t, func(*http.Request, int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello", false
		})
		r := startOn(t, pc, &manifest.Manifest{Apps: map[string]*manifest.App{"a": b.app()}}, Options{})
		c := r.dial(t)
		for range 2 {
			c.send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "hello" {
				t.Fatalf("answer %d %q, want 200 \"hello\"", res.StatusCode, body)
			}
		}
	})
}

// TestHTTP10Answers: an HTTP/1.0 client gets an HTTP/1.0 answer, on every
// path: one with a length keeps a keep-alive connection ("Connection:
// keep-alive"), a chunked one comes without its framing and ends with the
// connection, and no interim 1xx answer reaches it (RFC 9110 15.2).
func TestHTTP10Answers(t *testing.T) {
	answers := map[string]string{
		"/length":  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"/interim": "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	}
	tests := []struct {
		path, want string
		keep       bool
	}{
		{"/length", "hello", true},
		{"/chunked", "hello world", false},
		{"/interim", "ok", true},
	}
	everyPath(t, func(t *testing.T, pc pathCase) {
		b := newRawBackend(t, func(req *http.Request, _ int) (string, bool) { return answers[req.URL.Path], false })
		r := startOn(t, pc, &manifest.Manifest{Apps: map[string]*manifest.App{"a": b.app()}}, Options{})
		for _, tt := range tests {
			c := r.dial(t)
			c.send(t, "GET "+tt.path+" HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
			res, body := c.response(t, http.MethodGet)
			if res.Proto != "HTTP/1.0" || res.StatusCode != 200 || body != tt.want || len(res.TransferEncoding) > 0 {
				t.Errorf("%s: answer %s %d %q (transfer-encoding %q), want HTTP/1.0 200 %q unframed", tt.path, res.Proto, res.StatusCode, body, res.TransferEncoding, tt.want)
			}
			if got := res.Header.Get("Connection"); tt.keep != (got == "keep-alive") {
				t.Errorf("%s: Connection %q, want keep-alive %v", tt.path, got, tt.keep)
			}
			if !tt.keep {
				if !c.closed() {
					t.Errorf("%s: connection open after the answer, want it closed", tt.path)
				}
				continue
			}
			c.send(t, "GET /length HTTP/1.0\r\nHost: x\r\n\r\n")
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "hello" {
				t.Errorf("%s: next answer on the connection %d %q, want 200 \"hello\"", tt.path, res.StatusCode, body)
			}
		}
	})
}
