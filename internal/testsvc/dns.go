package testsvc

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// ListenDNS binds UDP and TCP on one free port of ip (a 127.0.0.x address).
func ListenDNS(t testing.TB, ip string) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", ip+":0")
		if err != nil {
			t.Fatalf("listening on %s: %v", ip, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatalf("no port free on both udp and tcp of %s", ip)
	return nil, nil
}

// ServeDNS serves h with miekg/dns on pc and ln until the test ends.
func ServeDNS(t testing.TB, pc net.PacketConn, ln net.Listener, h dns.Handler) {
	t.Helper()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started, done := make(chan struct{}), make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() {
			defer close(done)
			srv.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			srv.Shutdown()
			<-done
		})
	}
}

// StartDNS serves h on UDP and TCP of a free port of ip until the test
// ends, and returns its HOST:PORT.
func StartDNS(t testing.TB, ip string, h dns.Handler) string {
	t.Helper()
	pc, ln := ListenDNS(t, ip)
	ServeDNS(t, pc, ln, h)
	return pc.LocalAddr().String()
}
