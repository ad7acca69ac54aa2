package forward

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHopOf(t *testing.T) {
	for name, want := range map[string]Hop{
		"Connection": Connection, "keep-alive": KeepAlive, "TE": TE, "te": TE, "Expect": Expect,
		"FORWARDED": Forwarded, "Proxy-Authorization": ProxyAuthorization, "Trailer": Trailer,
		"Transfer-Encoding": 0, "X-Forwarded-For": 0, "Tee": 0, "": 0, "T": 0,
	} {
		if got := HopOf(name); got != want {
			t.Errorf("HopOf(%q) = %b, want %b", name, got, want)
		}
		if got := HopOf([]byte(name)); got != want {
			t.Errorf("HopOf([]byte(%q)) = %b, want %b", name, got, want)
		}
	}
}

func TestHasToken(t *testing.T) {
	for _, tt := range []struct {
		v, tok string
		want   bool
	}{
		{"trailers", "trailers", true},
		{"deflate;q=0.5, Trailers ", "trailers", true},
		{"\ttrailers\t,gzip", "trailers", true},
		{"trailersx, gzip", "trailers", false},
		{",,", "trailers", false},
		{"", "trailers", false},
	} {
		if got := HasToken(tt.v, tt.tok); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tt.v, tt.tok, got, tt.want)
		}
	}
}

// TestRequestHeader checks the hop-by-hop rule on an http.Header: what a
// Connection field names, the hop-by-hop fields and Transfer-Encoding go,
// "TE: trailers" and Trailer (end to end: RFC 9110 6.6.2) stay, and a
// carried upgrade keeps its two fields.
func TestRequestHeader(t *testing.T) {
	h := http.Header{
		"Connection":        {"X-Hop, close", "Upgrade"},
		"X-Hop":             {"1"},
		"Keep-Alive":        {"300"},
		"Te":                {"gzip", "Trailers"},
		"Expect":            {"100-continue"},
		"Forwarded":         {"for=192.0.2.1"},
		"Trailer":           {"X-Sum"},
		"Transfer-Encoding": {"chunked"},
		"Upgrade":           {"websocket"},
		"Proxy-Connection":  {"keep-alive"},
		"X-Custom":          {"kept"},
	}
	RequestHeader(h, "")
	want := http.Header{"Te": {"trailers"}, "Trailer": {"X-Sum"}, "X-Custom": {"kept"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("RequestHeader (-want +got):\n%s", diff)
	}
	h = http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Te": {"gzip"}}
	RequestHeader(h, "websocket")
	want = http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("RequestHeader of an upgrade (-want +got):\n%s", diff)
	}
}

// TestSetXForwarded checks the X-Forwarded-* rule: a trusted peer's values
// are kept (For goes on after its chain), anyone else's replaced.
func TestSetXForwarded(t *testing.T) {
	in := http.Header{
		"X-Forwarded-For":   {"192.0.2.1", "192.0.2.2, 192.0.2.3"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"shop.example"},
	}
	peer := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name    string
		trusted bool
		peer    netip.Addr
		tls     bool
		want    http.Header
	}{
		{"untrusted", false, peer, false, http.Header{
			"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"h:8080"}}},
		{"untrusted over TLS", false, peer, true, http.Header{
			"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"h:8080"}}},
		{"trusted", true, peer, false, http.Header{
			"X-Forwarded-For": {"192.0.2.1, 192.0.2.2, 192.0.2.3, 10.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"shop.example"}}},
		{"no peer address", false, netip.Addr{}, false, http.Header{
			"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"h:8080"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := in.Clone()
			SetXForwarded(out, in, tt.trusted, tt.peer, "h:8080", tt.tls)
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("SetXForwarded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}
	for s, want := range map[string]bool{"10.1.2.3:80": true, "[::ffff:10.1.2.3]:80": true, "[fe80::1%eth0]:80": true, "192.0.2.1:80": false, "pipe": false} {
		if got := Trusted(PeerAddr(s), trusted); got != want {
			t.Errorf("Trusted(PeerAddr(%q)) = %v, want %v", s, got, want)
		}
	}
}
