package dnscheck

import (
	"time"
)

// Status is how one server's answer compares with the expected values.
type Status string

// Statuses of a server's result.
const (
	StatusMatch   Status = "match"   // exactly the expected values
	StatusStale   Status = "stale"   // still (some of) the old values
	StatusWrong   Status = "wrong"   // values that are neither expected nor old
	StatusMissing Status = "missing" // no such record (NXDOMAIN, NODATA)
	StatusFailed  Status = "failed"  // no usable answer; see Reason
)

// Roles of a server.
const (
	RoleAuthoritative = "authoritative"
	RoleResolver      = "resolver"
)

// Result is one server's answer.
type Result struct {
	Server string `json:"server"`         // HOST:PORT queried
	Host   string `json:"host,omitempty"` // the NS name of a discovered authoritative server
	Role   string `json:"role"`           // authoritative or resolver
	Status Status `json:"status"`
	// Reason says why a result is failed (timeout, servfail, refused,
	// id-mismatch, question-mismatch, malformed, truncated, network,
	// not-authoritative, cname-loop), or qualifies another status
	// (cname-out-of-zone).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"` // the failure in words
	Rcode  string `json:"rcode,omitempty"`
	// Answers are the canonical values at the end of the CNAME chain.
	Answers []string `json:"answers"`
	Chain   []string `json:"chain,omitempty"` // CNAME targets followed
	// TTLSeconds is the remaining TTL of the answer: for a resolver, how
	// long it will keep serving it from its cache.
	TTLSeconds uint32 `json:"ttl_seconds"`
	// NegativeTTLSeconds is the negative-caching TTL of a missing answer,
	// and of the zone on an authoritative server.
	NegativeTTLSeconds uint32 `json:"negative_ttl_seconds,omitempty"`
	AA                 bool   `json:"aa"`
	// Serial is the zone's SOA serial on an authoritative server.
	Serial uint32 `json:"serial,omitempty"`
	// Zone is the owner of that SOA.
	Zone string `json:"zone,omitempty"`
	// Lagging marks an authoritative server whose serial is older than the
	// newest one seen.
	Lagging  bool    `json:"lagging,omitempty"`
	RTTMs    float64 `json:"rtt_ms"`
	Attempts int     `json:"attempts"`
	TCP      bool    `json:"tcp,omitempty"` // answered over TCP after a truncated UDP answer
}

// Report is the outcome of one check of one record.
type Report struct {
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	Expect        []string  `json:"expect"`
	Old           []string  `json:"old,omitempty"`
	Zone          string    `json:"zone,omitempty"`
	Serial        uint32    `json:"serial,omitempty"` // the newest serial seen
	CheckedAt     time.Time `json:"checked_at"`
	Authoritative []Result  `json:"authoritative"`
	Resolvers     []Result  `json:"resolvers"`
	// Propagated is the share (0-1) of resolvers answering the expected
	// values.
	Propagated float64 `json:"propagated"`
	// Agreement is the share (0-1) of authoritative servers answering
	// the expected values with the newest serial.
	Agreement float64 `json:"authoritative_agreement"`
	ETA       ETA     `json:"eta"`
	Complete  bool    `json:"done"` // see Done
}

// Done says whether every authoritative server and every resolver of the
// panel answers the expected values.
func (r *Report) Done() bool {
	for _, set := range [][]Result{r.Authoritative, r.Resolvers} {
		for _, s := range set {
			if s.Status != StatusMatch {
				return false
			}
		}
	}
	return len(r.Authoritative)+len(r.Resolvers) > 0
}

// count returns how many results of rs have status st.
func count(rs []Result, st Status) int {
	n := 0
	for _, r := range rs {
		if r.Status == st {
			n++
		}
	}
	return n
}

// summarize fills the serial, the lagging flags, the shares and Complete.
func (r *Report) summarize() {
	for _, a := range r.Authoritative {
		r.Serial = max(r.Serial, a.Serial)
	}
	agree := 0
	for i := range r.Authoritative {
		a := &r.Authoritative[i]
		a.Lagging = a.Status != StatusFailed && a.Serial < r.Serial
		if a.Reason == reasonOutOfZone && a.Status == StatusMatch && a.Lagging {
			a.Status = StatusStale
		}
		if a.Status == StatusMatch && !a.Lagging {
			agree++
		}
	}
	if n := len(r.Authoritative); n > 0 {
		r.Agreement = float64(agree) / float64(n)
	}
	if n := len(r.Resolvers); n > 0 {
		r.Propagated = float64(count(r.Resolvers, StatusMatch)) / float64(n)
	}
	r.Complete = r.Done()
}
