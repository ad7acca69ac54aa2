package dnscheck

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleReport is a report as a check of a record half-way through its
// propagation returns it.
func sampleReport() Report {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return Report{
		Name: "www.example.com", Type: "A", Expect: []string{"192.0.2.10"}, Old: []string{"198.51.100.7"},
		Zone: "example.com", Serial: 2026030102, CheckedAt: t0,
		Authoritative: []Result{
			{Server: "192.0.2.53:53", Host: "ns1.example.com", Role: RoleAuthoritative, Status: StatusMatch, Rcode: "NOERROR", Answers: []string{"192.0.2.10"}, TTLSeconds: 300, NegativeTTLSeconds: 60, AA: true, Serial: 2026030102, Zone: "example.com", RTTMs: 12.5, Attempts: 1},
			{Server: "198.51.100.53:53", Host: "ns2.example.com", Role: RoleAuthoritative, Status: StatusStale, Rcode: "NOERROR", Answers: []string{"198.51.100.7"}, TTLSeconds: 300, NegativeTTLSeconds: 60, AA: true, Serial: 2026030101, Zone: "example.com", Lagging: true, RTTMs: 30.1, Attempts: 1},
		},
		Resolvers: []Result{
			{Server: "1.1.1.1:53", Role: RoleResolver, Status: StatusMatch, Rcode: "NOERROR", Answers: []string{"192.0.2.10"}, TTLSeconds: 280, RTTMs: 8, Attempts: 1},
			{Server: "8.8.8.8:53", Role: RoleResolver, Status: StatusStale, Rcode: "NOERROR", Answers: []string{"198.51.100.7"}, TTLSeconds: 140, RTTMs: 9, Attempts: 1},
			{Server: "9.9.9.9:53", Role: RoleResolver, Status: StatusFailed, Reason: ReasonTimeout, Error: "timeout: waiting for 9.9.9.9:53: i/o timeout", Answers: nil, Attempts: 3},
			{Server: "208.67.222.222:53", Role: RoleResolver, Status: StatusMatch, Rcode: "NOERROR", Chain: []string{"edge.example.net"}, Answers: []string{"192.0.2.10"}, TTLSeconds: 30, RTTMs: 20, Attempts: 1, TCP: true},
		},
		Propagated: 0.5, Agreement: 0.5,
		ETA: ETA{Basis: ETAAuthoritativeLagging, WorstCase: t0.Add(5 * time.Minute), WorstCaseBasis: "change at 2026-03-01T12:00:00Z + 5m0s, the longest TTL seen"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s (-got +want):\n%s", name, diff)
	}
}

func TestRender(t *testing.T) {
	rep := sampleReport()
	later := rep.CheckedAt.Add(100 * time.Second)
	tests := []struct {
		name   string
		golden string
		render func(*bytes.Buffer) error
	}{
		{"text table", "report.txt", func(b *bytes.Buffer) error { return WriteText(b, rep, later) }},
		{"json", "report.json", func(b *bytes.Buffer) error { return WriteJSON(b, []Report{rep}) }},
		{"watch lines", "watch.txt", func(b *bytes.Buffer) error {
			return NewView(b, false).Render(Round{N: 2, At: later, Reports: []Report{rep}, Errors: []error{nil}, Next: 10 * time.Second,
				Advice: &Advice{Reasons: []string{"www.example.com A not propagated (50% of resolvers, 50% of authoritative servers)"}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, b.Bytes())
		})
	}
}

// TestViewRedraw: on a terminal every round clears the screen and draws
// the tables again.
func TestViewRedraw(t *testing.T) {
	var b bytes.Buffer
	v := NewView(&b, true)
	r := Round{N: 1, At: sampleReport().CheckedAt, Reports: []Report{sampleReport()}, Errors: []error{nil}, Next: 5 * time.Second}
	for range 2 {
		if err := v.Render(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(b.String(), "\x1b[H\x1b[2J"); got != 2 {
		t.Errorf("%d screen clears in two rounds, want 2", got)
	}
	if got := strings.Count(b.String(), "ROLE"); got != 2 {
		t.Errorf("%d tables in two rounds, want 2", got)
	}
}
