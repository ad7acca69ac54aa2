//go:build linux

package lb

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
)

// TestLoopBackendByName checks that a backend given by host name is served
// on the event loops: its name is resolved (by a real DNS server, through
// Options.Resolver) when serving starts, and again later, so that the
// requests follow the name to its new address: through new connections,
// and through kept-alive ones under steady traffic, which never idle out
// (they close once their answer is done).
//
// One path: the refresh of a backend name on Options.Resolver is the
// loops' (net/http's transport resolves it at each new connection).
func TestLoopBackendByName(t *testing.T) {
	t.Parallel()
	for _, keepAlive := range []bool{false, true} {
		t.Run(fmt.Sprint("keep-alive=", keepAlive), func(t *testing.T) {
			// Two backends on one port of two loopback addresses.
			one, two, port := listenPair(t)
			serveText(t, one, "one", keepAlive)
			serveText(t, two, "two", keepAlive)

			var addr atomic.Value // of string: the A record of app.test.
			addr.Store("127.0.0.1")
			dnsAddr := testsvc.StartDNS(t, "127.0.0.1", dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
				m := new(dns.Msg)
				m.SetReply(q)
				if len(q.Question) == 1 && q.Question[0].Name == "app.test." && q.Question[0].Qtype == dns.TypeA {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: "app.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
						A:   net.ParseIP(addr.Load().(string)),
					})
				}
				w.WriteMsg(m)
			}))
			resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, dnsAddr)
			}}
			u := "http://app.test:" + strconv.Itoa(port)
			app := &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}}}
			r := start(t, pathAuto, oneApp(app), Options{Resolver: resolver, test: testHooks{resolveEvery: 20 * time.Millisecond}})
			if !r.p.servedByLoops(r.p.listeners[0]) {
				t.Fatal("a listener whose backend has a host name is not served by event loops")
			}
			if code, _, body := r.do(t, http.MethodGet, "/", "", nil); code != http.StatusOK || body != "one" {
				t.Fatalf("answer %d %q, want 200 \"one\" from the address the name had at start", code, body)
			}
			addr.Store("127.0.0.2")
			eventually(t, "the requests to follow the name to its new address", func() bool {
				_, _, body := r.do(t, http.MethodGet, "/", "", nil)
				return body == "two"
			})
		})
	}
}

// listenPair listens on one port of 127.0.0.1 and 127.0.0.2.
func listenPair(t *testing.T) (net.Listener, net.Listener, int) {
	t.Helper()
	for range 20 {
		one, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := one.Addr().(*net.TCPAddr).Port
		two, err := net.Listen("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(port)).String())
		if err == nil {
			return one, two, port
		}
		one.Close()
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return nil, nil, 0
}

// serveText answers text on ln until the test ends; unless keepAlive,
// every answer closes its connection, so that the proxy connects anew for
// each request.
func serveText(t *testing.T, ln net.Listener, text string, keepAlive bool) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if !keepAlive {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprint(w, text)
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
}
