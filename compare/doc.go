// Package compare is migrate's diff engine: it takes a Pair (one request and
// the answers of the primary side, the candidate side and optionally a second
// primary instance), normalises both answers, diffs status, headers and
// bodies (JSON structurally, by JSON Pointer), applies ignore rules, scores
// noise, and returns a Result with a bounded Outcome. It aggregates results
// per endpoint template (EndpointStats: routes, else templates inferred
// from each app's traffic, infer.go), judges each endpoint's latency on
// confidence bounds (latency.go), keeps a bounded, redacted store of
// examples in SQLite, and renders reports (text, JSON, Markdown, JUnit).
//
// It is usable on its own: build an Engine, call Compare for each Pair.
package compare
