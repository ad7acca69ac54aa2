package admin

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDNSText(t *testing.T) {
	eta := time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  DNSRecordStatus
		want string
	}{
		{"propagated", DNSRecordStatus{Name: "shop.example.com", Type: "A", Propagated: 1, Agreement: 1, Done: true, ETABasis: "propagated"},
			"dns shop.example.com A  propagated everywhere\n"},
		{"stale caches", DNSRecordStatus{Name: "shop.example.com", Type: "A", Propagated: 0.5, Agreement: 1, ETA: eta, ETABasis: "resolver_ttl",
			Stale: []string{"resolver 127.0.0.2:53 stale"}},
			"dns shop.example.com A  propagated 50% of resolvers, 100% of authoritative servers, ETA 12:05:00; stale: resolver 127.0.0.2:53 stale\n"},
		{"lagging authoritative", DNSRecordStatus{Name: "shop.example.com", Type: "A", Agreement: 0.5, ETABasis: "authoritative_lagging",
			Stale: []string{"authoritative 127.0.0.3:53 stale"}},
			"dns shop.example.com A  propagated 0% of resolvers, 50% of authoritative servers, ETA authoritative lagging; stale: authoritative 127.0.0.3:53 stale\n"},
		{"failed check", DNSRecordStatus{Name: "shop.example.com", Type: "A", Error: "no name servers"},
			"dns shop.example.com A  check failed: no name servers\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeDNSText(&buf, &DNSStatus{Records: []DNSRecordStatus{tt.rec}})
			if diff := cmp.Diff(buf.String(), tt.want); diff != "" {
				t.Errorf("text (-got +want):\n%s", diff)
			}
		})
	}
}

// TestStatusDNSField checks that the dns field is in the status JSON only
// when set, and that the text shows it.
func TestStatusDNSField(t *testing.T) {
	st := AppStatus{App: "shop", Phase: "old"}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"dns"`)) {
		t.Errorf("status without DNS has a dns field: %s", b)
	}
	st.DNS = &DNSStatus{Records: []DNSRecordStatus{{Name: "shop.example.com", Type: "A", Done: true}}}
	var buf bytes.Buffer
	if err := st.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("dns shop.example.com A  propagated everywhere\n")) {
		t.Errorf("text lacks the dns line:\n%s", buf.String())
	}
}
