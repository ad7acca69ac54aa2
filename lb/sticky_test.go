package lb

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/migratekit/migrate/internal/forward"
)

func mustTrusted(t testing.TB, entries ...string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrusted(entries)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientIP(t *testing.T) {
	trusted := mustTrusted(t, "10.0.0.0/8", "192.0.2.1", "2001:db8::/32")
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "198.51.100.7:4242", nil, "198.51.100.7"},
		{"untrusted peer: XFF ignored", "198.51.100.7:4242", []string{"1.1.1.1"}, "198.51.100.7"},
		{"trusted peer: last untrusted", "10.0.0.1:80", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted hops skipped", "10.0.0.1:80", []string{"203.0.113.9, 10.2.3.4, 192.0.2.1"}, "203.0.113.9"},
		{"several header lines", "10.0.0.1:80", []string{"1.1.1.1", "203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"spaces and empty entries", "10.0.0.1:80", []string{" 203.0.113.9 ,, "}, "203.0.113.9"},
		{"entry with port", "10.0.0.1:80", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"ipv6 entry in brackets", "10.0.0.1:80", []string{"[2001:4860::1]:443"}, "2001:4860::1"},
		{"ipv6 peer trusted", "[2001:db8::5]:443", []string{"203.0.113.9"}, "203.0.113.9"},
		{"v4-mapped entry unmapped", "10.0.0.1:80", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"malformed entry stops the walk", "10.0.0.1:80", []string{"203.0.113.9, garbage, 10.1.1.1"}, "10.1.1.1"},
		{"malformed last entry: the peer", "10.0.0.1:80", []string{"1.1.1.1, unknown"}, "10.0.0.1"},
		{"all trusted: leftmost", "10.0.0.1:80", []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"trusted peer, no XFF", "10.0.0.1:80", nil, "10.0.0.1"},
		{"remote without port", "198.51.100.7", nil, "198.51.100.7"},
		{"remote not an address", "@", nil, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			if got := ClientIP(r, trusted).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseTrusted(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{"10.1.2.3/8", "10.0.0.0/8", false},
		{" 192.0.2.1 ", "192.0.2.1/32", false},
		{"::1", "::1/128", false},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"10.0.0.0/33", "", true},
		{"proxy.internal", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTrusted([]string{tt.in})
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTrusted(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got[0].String() != tt.want {
				t.Errorf("ParseTrusted(%q) = %s, want %s", tt.in, got[0], tt.want)
			}
		})
	}
}

func TestStickyCookie(t *testing.T) {
	tests := []struct {
		name   string
		cookie []string
		want   string
		wantOK bool
	}{
		{"present", []string{"a=1; migrate_sticky=ABCDEFGH12345678; b=2"}, "ABCDEFGH12345678", true},
		{"second line", []string{"a=1", "migrate_sticky=abcdefgh"}, "abcdefgh", true},
		{"absent", []string{"a=1; b=2"}, "", false},
		{"too short", []string{"migrate_sticky=abc"}, "", false},
		{"bad characters", []string{`migrate_sticky="abcdefgh"`}, "", false},
		{"too long", []string{"migrate_sticky=" + strings.Repeat("a", 65)}, "", false},
		{"prefix of another name", []string{"xmigrate_sticky=abcdefgh"}, "", false},
		{"first well-formed wins", []string{"migrate_sticky=bad; migrate_sticky=goodvalue"}, "goodvalue", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Header: http.Header{"Cookie": tt.cookie}}
			got, ok := StickyCookie(r, "migrate_sticky")
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("StickyCookie = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// The points are part of the contract: every instance and every release
// must put a client on the same side.
func TestStickyPointStable(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"", 4342},
		{"203.0.113.9", 9854},
		{"2001:db8::1", 4615},
		{"ABCDEFGH12345678", 7859},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := StickyPoint(tt.key); got != tt.want {
				t.Errorf("StickyPoint(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
	ip := netip.MustParseAddr("203.0.113.9")
	if got, want := ipPoint(ip), StickyPoint(ip.String()); got != want {
		t.Errorf("ipPoint = %d, StickyPoint(text) = %d: they must agree", got, want)
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "1.1.1.1, 203.0.113.9", "")
	f.Add("[2001:db8::5]:443", "[::1]:80, unknown", "10.0.0.3")
	f.Add("10.0.0.1:80", " , ,,", "10.0.0.2,garbage")
	f.Add("@", "1.2.3.4", "")
	trusted := mustTrusted(f, "10.0.0.0/8", "2001:db8::/32")
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff1, xff2}}}
		got := ClientIP(r, trusted)
		peer := forward.ParseHop(remote)
		if !forward.Trusted(peer, trusted) {
			if got != peer {
				t.Fatalf("untrusted peer %q: ClientIP = %s, want the peer %s", remote, got, peer)
			}
			return
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %q: ClientIP is invalid", remote)
		}
		if got.Is4In6() {
			t.Fatalf("ClientIP %s is not unmapped", got)
		}
		if got != peer && !hopIn(got, xff1, xff2) {
			t.Fatalf("ClientIP %s is neither the peer nor an XFF entry of %q, %q", got, xff1, xff2)
		}
	})
}

// hopIn reports whether a is one of the XFF entries.
func hopIn(a netip.Addr, lines ...string) bool {
	for _, l := range lines {
		for e := range strings.SplitSeq(l, ",") {
			if forward.ParseHop(strings.TrimSpace(e)) == a {
				return true
			}
		}
	}
	return false
}

func FuzzStickyKey(f *testing.F) {
	f.Add("a=1; migrate_sticky=ABCDEFGH12345678", "migrate_sticky")
	f.Add("migrate_sticky=; x", "migrate_sticky")
	f.Add(";;=;", "")
	f.Fuzz(func(t *testing.T, cookie, name string) {
		r := &http.Request{Header: http.Header{"Cookie": {cookie}}}
		v, ok := StickyCookie(r, name)
		if ok && !ValidStickyValue(v) {
			t.Fatalf("StickyCookie returned malformed %q", v)
		}
		if ok && !strings.Contains(cookie, name+"="+v) {
			t.Fatalf("StickyCookie returned %q, not in %q", v, cookie)
		}
		if p := StickyPoint(cookie); p < 0 || p >= PointScale || p != StickyPoint(cookie) {
			t.Fatalf("StickyPoint(%q) = %d: out of range or unstable", cookie, p)
		}
	})
}
