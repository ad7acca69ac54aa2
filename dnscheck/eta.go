package dnscheck

import (
	"fmt"
	"time"
)

// Bases of an ETA.
const (
	// ETAPropagated: every server answers the expected values.
	ETAPropagated = "propagated"
	// ETAResolverTTL: the last stale cache of the panel expires then.
	ETAResolverTTL = "resolver_ttl"
	// ETAAuthoritativeLagging: not every authoritative server has the
	// change yet, so no cache can be counted down.
	ETAAuthoritativeLagging = "authoritative_lagging"
	// ETAUnknown: only failed resolvers are left; their caches are unknown.
	ETAUnknown = "unknown"
)

// ETA is when the record should be propagated.
type ETA struct {
	Basis string `json:"basis"`
	// At is when the last stale cache of the panel expires: the check's
	// time plus the longest remaining TTL of a resolver still answering
	// something else. Zero when unknown.
	At time.Time `json:"at,omitzero"`
	// Seconds is At minus the check's time.
	Seconds float64 `json:"seconds"`
	// Server is the resolver whose cache expires last.
	Server string `json:"server,omitempty"`
	// WorstCase is the change time plus the TTL an old answer could have
	// been cached with: the old record's TTL, or the negative-caching TTL
	// from the SOA for a name that is new. Zero when unknown.
	WorstCase      time.Time `json:"worst_case,omitzero"`
	WorstCaseBasis string    `json:"worst_case_basis,omitempty"`
}

// Remaining returns how long until At, seen at now; 0 once passed or when
// At is unknown.
func (e ETA) Remaining(now time.Time) time.Duration {
	if e.At.IsZero() {
		return 0
	}
	return max(0, e.At.Sub(now))
}

// Passed says whether the ETA and its worst case are behind now.
func (e ETA) Passed(now time.Time) bool {
	if e.Basis != ETAPropagated && (e.At.IsZero() || e.At.After(now)) {
		return false
	}
	return e.WorstCase.IsZero() || !e.WorstCase.After(now)
}

// eta computes the ETA of a summarized report.
func (ck *checker) eta(rep *Report) ETA {
	e := ck.worstCase(rep)
	if rep.Complete {
		e.Basis, e.At = ETAPropagated, rep.CheckedAt
		return e
	}
	for _, a := range rep.Authoritative {
		if a.Status != StatusMatch || a.Lagging {
			e.Basis = ETAAuthoritativeLagging
			return e
		}
	}
	var last uint32
	found := false
	for _, r := range rep.Resolvers {
		ttl, ok := pendingTTL(r)
		if ok && (!found || ttl > last) {
			last, e.Server, found = ttl, r.Server, true
		}
	}
	if !found {
		e.Basis = ETAUnknown
		return e
	}
	e.Basis = ETAResolverTTL
	e.At = rep.CheckedAt.Add(time.Duration(last) * time.Second)
	e.Seconds = float64(last)
	return e
}

// pendingTTL is how long a resolver not yet answering the expected values
// keeps its current answer.
func pendingTTL(r Result) (uint32, bool) {
	switch r.Status {
	case StatusStale, StatusWrong:
		return r.TTLSeconds, true
	case StatusMissing:
		return r.NegativeTTLSeconds, true
	}
	return 0, false
}

// worstCase fills the worst-case fields: the change time plus the old
// TTL (or the negative TTL of a new name).
func (ck *checker) worstCase(rep *Report) ETA {
	var e ETA
	changed := ck.opts.ChangedAt
	if changed.IsZero() {
		changed = rep.CheckedAt
	}
	ttl, basis := ck.opts.OldTTL, "the old TTL given"
	if ttl <= 0 {
		ttl, basis = ck.observedTTL(rep)
	}
	if ttl <= 0 {
		return e
	}
	e.WorstCase = changed.Add(ttl)
	e.WorstCaseBasis = fmt.Sprintf("change at %s + %s, %s", changed.UTC().Format(time.RFC3339), ttl, basis)
	return e
}

// observedTTL is the longest TTL an old answer may have been cached with,
// as far as the check can tell: the TTLs of the authoritative answers
// (a lagging server still has the old record) and the remaining TTLs of
// the resolvers. A record without old values that some server reports
// missing, and none answers with other values, is taken for a new name:
// what may be cached is its absence, for the negative-caching TTL of the
// zone's SOA.
func (ck *checker) observedTTL(rep *Report) (time.Duration, string) {
	var ttl, neg uint32
	missing, other := false, false
	for _, set := range [][]Result{rep.Authoritative, rep.Resolvers} {
		for _, r := range set {
			if r.Status != StatusFailed {
				ttl = max(ttl, r.TTLSeconds)
				neg = max(neg, r.NegativeTTLSeconds)
			}
			missing = missing || r.Status == StatusMissing
			other = other || r.Status == StatusWrong || r.Status == StatusStale
		}
	}
	if len(ck.q.Old) == 0 && missing && !other && neg > 0 {
		return time.Duration(neg) * time.Second, "the negative-caching TTL of the SOA (a new name)"
	}
	return time.Duration(ttl) * time.Second, "the longest TTL seen"
}
