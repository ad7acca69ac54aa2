package dashboards

import (
	"context"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// Frame is what the dashboard pushes every second: each app's current
// status and the point of the second just ended.
type Frame struct {
	Seq uint64 `json:"seq"`
	// At is the end of the second, in Unix milliseconds.
	At   int64      `json:"at"`
	Apps []AppFrame `json:"apps"`
	// Error says what could not be read from the source this second.
	Error string `json:"error,omitempty"`
	// Events are the events recorded since the previous frame, oldest
	// first.
	Events []state.Event `json:"events,omitempty"`
}

// AppFrame is one app in a Frame.
type AppFrame struct {
	App    string `json:"app"`
	Weight int    `json:"weight"`
	Phase  string `json:"phase"`
	// Verdict is the rollback analysis's last verdict with its numbers.
	Verdict  *rollback.Verdict              `json:"verdict,omitempty"`
	Plan     *rollback.PlanStatus           `json:"plan,omitempty"`
	Backends []admin.Backend                `json:"backends"`
	Totals   map[string]telemetry.SideStats `json:"totals"`
	Point    Point                          `json:"point"`
	// Shadowed says the app mirrors traffic; Diffs is then its diff table
	// as of the last refresh.
	Shadowed bool          `json:"shadowed"`
	Diffs    []EndpointRow `json:"diffs,omitempty"`
	// DNS, Fallback are set when their provider is and knows the app.
	DNS      *DNSStatus      `json:"dns,omitempty"`
	Fallback *FallbackStatus `json:"fallback,omitempty"`
}

// Point is one second of an app.
type Point struct {
	Old SidePoint `json:"old"`
	New SidePoint `json:"new"`
	// Pairs and DiffRate are the shadow comparisons of the second:
	// compared pairs per second and the share of them that differ.
	Pairs    float64 `json:"pairs"`
	DiffRate float64 `json:"diff_rate"`
}

// SidePoint is one second of one side.
type SidePoint struct {
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"` // 5xx share of the second's answers
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// Classes are answers per second by status class, 1xx to 5xx.
	Classes [5]float64 `json:"classes"`
	// LogErrorRate is the share of log lines that are errors (Options.Logs);
	// nil without logs.
	LogErrorRate *float64 `json:"log_error_rate,omitempty"`
	// Mirrored is the second of the requests mirrored to the side (from
	// clients the other side served): its answers to them, not counted
	// above. In the shadow phase they are all that new answers.
	Mirrored MirrorPoint `json:"mirrored"`
}

// MirrorPoint is one second of the requests mirrored to a side.
type MirrorPoint struct {
	RPS          float64 `json:"rps"`
	ErrorRate    float64 `json:"error_rate"`     // 5xx share of them
	NoAnswerRate float64 `json:"no_answer_rate"` // share that got no answer
	P50Ms        float64 `json:"p50_ms"`         // latency of its answers
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	// Classes are its answers per second by status class, 1xx to 5xx.
	Classes [5]float64 `json:"classes"`
}

// EndpointRow is one line of the diff table: an endpoint in one direction
// (old_to_new: served by old, mirrored to new; new_to_old: the other way).
type EndpointRow struct {
	Endpoint  string            `json:"endpoint"`
	Direction compare.Direction `json:"direction"`
	Requests  uint64            `json:"requests"` // compared pairs
	Diffs     uint64            `json:"diffs"`
	DiffRate  float64           `json:"diff_rate"`
	Fields    []string          `json:"fields"` // the top differing fields that are not noise
}

// DNSStatus is an app's DNS propagation, for the DNS panel.
type DNSStatus struct {
	Records []DNSRecord `json:"records"`
}

// DNSRecord is one checked record.
type DNSRecord struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Expect []string `json:"expect"`
	// Propagated is the share of resolvers answering the expected value.
	Propagated float64 `json:"propagated"`
	// ETA is when every resolver should answer it (the TTLs still
	// running); zero when propagated or unknown.
	ETA       time.Time        `json:"eta,omitzero"`
	Resolvers []ResolverStatus `json:"resolvers"`
}

// ResolverStatus is one resolver's answer for a record.
type ResolverStatus struct {
	Resolver string   `json:"resolver"` // name or host:port
	OK       bool     `json:"ok"`       // it answers the expected value
	Answer   []string `json:"answer,omitempty"`
	TTL      int      `json:"ttl_s,omitempty"` // seconds left
	Error    string   `json:"error,omitempty"`
	// Role is "authoritative" for a zone's name server, else empty (a
	// resolver); Status is dnscheck's (match, stale, wrong, missing,
	// failed) when the provider knows it.
	Role   string `json:"role,omitempty"`
	Status string `json:"status,omitempty"`
}

// FallbackStatus is what the old host's fallback proxy sees.
type FallbackStatus struct {
	// Clients are the distinct clients that reached the old host over the
	// last hour (an estimate).
	Clients uint64 `json:"clients"`
	// RequestsPerMinute reached it over the last minute.
	RequestsPerMinute float64 `json:"requests_per_minute"`
	// BelowSince is when the arrivals dropped under RetireBelow and stayed
	// there; nil while they are not under it.
	BelowSince *time.Time `json:"below_since,omitempty"`
	// RetireBelow (requests per minute) and RetireAfterSeconds are the
	// thresholds for retiring the old host (fallback.retire_below and
	// retire_after).
	RetireBelow        float64 `json:"retire_below"`
	RetireAfterSeconds float64 `json:"retire_after_seconds"`
}

// FallbackFrom is the dashboard's view of a fallback's admin status.
func FallbackFrom(st admin.FallbackStatus) FallbackStatus {
	return FallbackStatus{Clients: st.ClientsLastHour, RequestsPerMinute: st.RequestsPerMinute,
		BelowSince: st.BelowSince, RetireBelow: st.RetireBelow, RetireAfterSeconds: st.RetireAfterSeconds}
}

// LogCounts are a side's log lines since its shipper started: all of them
// and the ones that are errors. The dashboard derives the log error rate
// from their change every second.
type LogCounts struct {
	Lines  uint64
	Errors uint64
}

// DNSProvider feeds the DNS panel (package dnscheck's watch loop); ok is
// false for an app it does not check.
type DNSProvider interface {
	DNSStatus(ctx context.Context, app string) (st DNSStatus, ok bool)
}

// FallbackProvider feeds the straggler count (package fallback); ok is
// false for an app without a fallback.
type FallbackProvider interface {
	FallbackStatus(ctx context.Context, app string) (st FallbackStatus, ok bool)
}

// LogProvider feeds the log error rate (package logship); ok is false for
// a side whose logs are not shipped.
type LogProvider interface {
	LogCounts(ctx context.Context, app, side string) (c LogCounts, ok bool)
}
