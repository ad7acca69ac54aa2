package admin

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// DNSStatus is an app's DNS propagation as of the last round of the
// instance's watch of its dns: records (`migrate serve` with
// dns_check.watch).
type DNSStatus struct {
	CheckedAt time.Time `json:"checked_at"`
	// Done says every record is propagated to every server checked.
	Done    bool              `json:"done"`
	Records []DNSRecordStatus `json:"records"`
}

// DNSRecordStatus is one record in DNSStatus.
type DNSRecordStatus struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Propagated is the share (0-1) of resolvers answering the expected
	// values; Agreement the share of authoritative servers doing so.
	Propagated float64 `json:"propagated"`
	Agreement  float64 `json:"authoritative_agreement"`
	Done       bool    `json:"done"`
	// ETA is when the last stale resolver cache expires; zero when
	// propagated or unknown, ETABasis then says which (dnscheck's ETA
	// bases).
	ETA      time.Time `json:"eta,omitzero"`
	ETABasis string    `json:"eta_basis,omitempty"`
	// Stale are the servers not answering the expected values, as
	// "ROLE HOST:PORT STATUS".
	Stale []string `json:"stale,omitempty"`
	// Error says why the record could not be checked this round.
	Error string `json:"error,omitempty"`
}

// DNSReporter answers an app's DNS status; ok is false when the instance
// does not watch the app's records or has not checked them yet.
type DNSReporter interface {
	AppDNS(app string) (st DNSStatus, ok bool)
}

// writeDNSText writes one line per record: the propagated share, the ETA
// and the servers still lagging.
func writeDNSText(w io.Writer, d *DNSStatus) {
	for _, r := range d.Records {
		fmt.Fprintf(w, "dns %s %s  %s\n", r.Name, r.Type, dnsRecordText(r))
	}
}

func dnsRecordText(r DNSRecordStatus) string {
	if r.Error != "" {
		return "check failed: " + r.Error
	}
	if r.Done {
		return "propagated everywhere"
	}
	s := fmt.Sprintf("propagated %.0f%% of resolvers, %.0f%% of authoritative servers", r.Propagated*100, r.Agreement*100)
	switch {
	case !r.ETA.IsZero():
		s += ", ETA " + r.ETA.Format("15:04:05")
	case r.ETABasis != "":
		s += ", ETA " + strings.ReplaceAll(r.ETABasis, "_", " ")
	}
	if len(r.Stale) > 0 {
		s += "; stale: " + strings.Join(r.Stale, ", ")
	}
	return s
}
