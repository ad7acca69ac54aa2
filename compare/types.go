package compare

import (
	"net/http"
	"time"
)

// Request is the request both sides answered, as the shadow engine or
// replay captured it.
type Request struct {
	Method   string
	Path     string // raw path, never used as a metric label
	RawQuery string
	Host     string
	Header   http.Header
	Body     []byte
}

// Response is one side's answer. Body holds at most the capture limit;
// Truncated says the rest was not kept (such a pair is not body-diffed).
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool
	Latency   time.Duration
	// Err is set when the side gave no response (connection refused,
	// reset, timeout); Status is then 0.
	Err error
	// Timeout is set when Err is the side's deadline.
	Timeout bool
}

// Direction says which side served a pair's request (its Primary) and
// which side it was mirrored to (its Candidate). The set is closed (metric
// label values); an empty Direction means DirectionOldToNew.
type Direction string

// Directions.
const (
	// DirectionOldToNew: served by old, mirrored to new (the shadow
	// phase, and clients still on old after it).
	DirectionOldToNew Direction = "old_to_new"
	// DirectionNewToOld: served by new, mirrored to old (clients moved to
	// new by the cutover).
	DirectionNewToOld Direction = "new_to_old"
)

// Directions lists every direction, in a stable order.
var Directions = []Direction{DirectionOldToNew, DirectionNewToOld}

// Norm returns d within the closed set: DirectionNewToOld, else
// DirectionOldToNew (the empty Direction included).
func (d Direction) Norm() Direction {
	if d == DirectionNewToOld {
		return d
	}
	return DirectionOldToNew
}

// Sides returns the side names ("old", "new") of the primary and the
// candidate.
func (d Direction) Sides() (primary, candidate string) {
	if d.Norm() == DirectionNewToOld {
		return "new", "old"
	}
	return "old", "new"
}

// Arrow renders d for people: "old->new" or "new->old".
func (d Direction) Arrow() string {
	p, c := d.Sides()
	return p + "->" + c
}

// Pair is one request with the primary's answer (the side that served the
// client: old in direction old_to_new), the candidate's (the side it was
// mirrored to), and optionally the answer of a second instance of one of
// the two sides, whose differences from that side's answer are noise (the
// primary's, or the candidate's with SecondaryOfCandidate).
type Pair struct {
	App string
	// Direction says which side is the primary; empty means old_to_new.
	Direction Direction
	// Endpoint is the endpoint template; empty lets the engine derive it from
	// Request.Path (see Templater).
	Endpoint  string
	Request   Request
	Primary   Response
	Candidate Response
	Secondary *Response
	// SecondaryOfCandidate says Secondary is an instance of the
	// candidate's side (a second old when new serves the client), so that
	// the noise is its difference from Candidate.
	SecondaryOfCandidate bool
	// At is when the pair was captured.
	At time.Time
}

// Outcome is the verdict on a pair; the set is closed (metric label values).
type Outcome string

// Outcomes.
const (
	OutcomeMatch         Outcome = "match"          // no difference after normalisation and ignores
	OutcomeDiff          Outcome = "diff"           // at least one difference that is not noise
	OutcomeNoise         Outcome = "noise"          // every difference is a known-noisy field
	OutcomeShadowError   Outcome = "shadow_error"   // the candidate gave no response
	OutcomeShadowTimeout Outcome = "shadow_timeout" // the candidate passed its deadline
	OutcomeSkippedUnsafe Outcome = "skipped_unsafe" // method not mirrored (writes are opt-in)
	OutcomeSkippedStream Outcome = "skipped_stream" // upgrade or streaming response, served only
	OutcomeTooLarge      Outcome = "too_large"      // request body over max_body, served only
	OutcomeDropped       Outcome = "dropped"        // shadow queue full, served only
	OutcomeAborted       Outcome = "aborted"        // the client left before the primary's answer was complete
)

// Outcomes lists every outcome, in a stable order.
var Outcomes = []Outcome{
	OutcomeMatch, OutcomeDiff, OutcomeNoise, OutcomeShadowError, OutcomeShadowTimeout,
	OutcomeSkippedUnsafe, OutcomeSkippedStream, OutcomeTooLarge, OutcomeDropped, OutcomeAborted,
}

// Kind is what a difference is about.
type Kind string

// Kinds of difference.
const (
	KindStatus Kind = "status"
	KindHeader Kind = "header"
	KindBody   Kind = "body" // a non-JSON body, or JSON against non-JSON
	KindJSON   Kind = "json" // one JSON value, at Path
)

// Difference is one way the candidate's answer differs from the primary's.
type Difference struct {
	Kind Kind
	// Path names the place: a JSON Pointer (/items/3/price) for KindJSON,
	// the canonical header name for KindHeader, "" otherwise.
	Path string
	// Field is the template that groups differences across requests: the
	// JSON Pointer with array indices collapsed (/items/*/price), the header
	// name, "status" or "body". Reports and noise scores are per Field.
	Field string
	// Primary and Candidate render the two values briefly (at most a few
	// hundred bytes each; a short unified excerpt for text bodies).
	Primary, Candidate string
}

// Result is the engine's verdict on one pair.
type Result struct {
	App       string
	Direction Direction // never empty
	Endpoint  string
	Method    string
	Outcome   Outcome
	// Diffs are the differences between primary and candidate after
	// normalisation and ignore rules, at most Config.MaxDiffs of them;
	// Omitted counts those past the bound.
	Diffs   []Difference
	Omitted int
	// Truncated says the bodies were not compared (a side's capture was
	// truncated, or decoded past Config.MaxDecodedBody): the outcome rests
	// on status and headers only.
	Truncated bool
	// Noisy lists the Fields of Diffs judged noise (from the secondary or
	// from flaky-field detection).
	Noisy []string
	// PrimaryStatus and CandidateStatus are the two status codes (0: none).
	PrimaryStatus, CandidateStatus int
	// PrimaryLatency and CandidateLatency are the two sides' latencies.
	PrimaryLatency, CandidateLatency time.Duration
}

// EndpointStats aggregates one endpoint's pairs in one direction. It is the
// unit of the diff report (`migrate compare report`) and of GET
// /api/v1/apps/{app}/diffs.
type EndpointStats struct {
	Endpoint string `json:"endpoint"`
	// Inferred says the template was inferred from traffic (a parameter
	// learned from the values a position takes, or an identifier's shape),
	// not given by a route of the manifest.
	Inferred bool `json:"inferred,omitempty"`
	// Direction is the direction of the pairs counted: an endpoint served
	// by both sides has one EndpointStats per direction.
	Direction Direction `json:"direction"`
	// Requests counts compared pairs (outcomes match, diff and noise).
	Requests uint64 `json:"requests"`
	// Diffs counts pairs with outcome diff; DiffRate is Diffs/Requests.
	Diffs    uint64             `json:"diffs"`
	DiffRate float64            `json:"diff_rate"`
	Outcomes map[Outcome]uint64 `json:"outcomes"`
	// Truncated counts compared pairs whose bodies were not compared
	// (see Result.Truncated).
	Truncated uint64 `json:"truncated,omitempty"`
	// Fields are the differing fields, highest rate first.
	Fields  []FieldStats `json:"fields"`
	Latency LatencyStats `json:"latency"`
	// StatusMatrix counts pairs by status classes, "2xx->5xx" meaning the
	// primary answered 2xx and the candidate 5xx ("none" for no answer).
	StatusMatrix map[string]uint64 `json:"status_matrix"`
}

// FieldStats is one differing field of an endpoint.
type FieldStats struct {
	Path string `json:"path"` // the Field template: /items/*/price, a header name, status, body
	Kind Kind   `json:"kind"`
	// Count is the pairs where it differed; Rate is Count/Requests.
	Count uint64  `json:"count"`
	Rate  float64 `json:"rate"`
	// NoiseRate is how often it differed between the two primary instances
	// (with a secondary); Noise says it is judged noise, not a regression.
	NoiseRate float64 `json:"noise_rate"`
	Noise     bool    `json:"noise"`
}

// LatencyStats compares the two sides' latencies on an endpoint.
type LatencyStats struct {
	Primary   Quantiles `json:"primary"`
	Candidate Quantiles `json:"candidate"`
	// Judgement says whether the candidate is slower than the primary by
	// more than the latency margin, with confidence (see LatencyMargin).
	Judgement LatencyJudgement `json:"judgement"`
}

// Quantiles of a latency distribution, in milliseconds.
type Quantiles struct {
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
}
