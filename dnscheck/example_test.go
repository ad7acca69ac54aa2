package dnscheck_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/migratekit/migrate/dnscheck"
)

// Check one record on the default panel and the zone's own name servers,
// and print the table.
func ExampleCheck() {
	panel, err := dnscheck.Panel(nil, "/etc/resolv.conf")
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := dnscheck.Check(context.Background(), dnscheck.Query{
		Name: "www.example.com", Type: "A",
		Expect: []string{"203.0.113.10"}, Old: []string{"198.51.100.7"},
	}, dnscheck.Options{Resolvers: panel})
	if err != nil {
		fmt.Println(err)
		return
	}
	dnscheck.WriteText(os.Stdout, rep, time.Now())
	if !rep.Done() {
		fmt.Println(dnscheck.ETAText(rep.ETA, time.Now()))
	}
}

func ExampleParseValue() {
	for _, v := range [][2]string{{"AAAA", "2001:DB8:0::10"}, {"CNAME", "Edge.Example.NET."}, {"MX", "10  mail.example.com"}, {"A", "2001:db8::10"}} {
		got, err := dnscheck.ParseValue(v[0], v[1])
		fmt.Printf("%s %q: %q %v\n", v[0], v[1], got, err)
	}
	// Output:
	// AAAA "2001:DB8:0::10": "2001:db8::10" <nil>
	// CNAME "Edge.Example.NET.": "edge.example.net" <nil>
	// MX "10  mail.example.com": "10 mail.example.com" <nil>
	// A "2001:db8::10": "" parsing A value "2001:db8::10": not an IPv4 address
}

func ExampleRetire() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	since := now.Add(-2 * time.Hour)
	rep := dnscheck.Report{Name: "www.example.com", Type: "A",
		Authoritative: []dnscheck.Result{{Status: dnscheck.StatusMatch}},
		Resolvers:     []dnscheck.Result{{Status: dnscheck.StatusMatch}},
		ETA:           dnscheck.ETA{Basis: dnscheck.ETAPropagated, WorstCase: now.Add(-time.Hour)}}
	fb := dnscheck.FallbackStatus{URL: "http://old-host:9090", RequestsPerMinute: 0.2, BelowSince: &since, RetireBelow: 1, RetireAfterSeconds: 3600}
	fmt.Println(dnscheck.Retire(now, []dnscheck.Report{rep}, []dnscheck.FallbackStatus{fb}, nil))
	fb.BelowSince = nil
	fmt.Println(dnscheck.Retire(now, []dnscheck.Report{rep}, []dnscheck.FallbackStatus{fb}, nil))
	// Output:
	// safe to retire the old host: DNS propagated everywhere, its ETA passed, and the fallback's arrivals stayed low long enough
	// not yet safe to retire the old host: fallback http://old-host:9090: 0.2 requests per minute, not under 1
}
