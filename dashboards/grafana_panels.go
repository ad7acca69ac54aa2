package dashboards

import (
	"fmt"
	"strings"
)

// The Grafana dashboard's panels, built on the series package telemetry
// exports. Every panel the web dashboard draws per side is a pairedPanel
// (old left, new right); what concerns the app as a whole is an appPanel.

// sideQuery is one series of a side's panel; its expression has %[1]s
// where the side goes.
type sideQuery struct {
	Legend string
	Expr   string
}

// pairedPanel is drawn twice, once per side, on the same axes.
type pairedPanel struct {
	Title string
	Unit  string
	// SoftMax keeps a flat line from filling the panel (0: none).
	SoftMax float64
	Queries []sideQuery
	// Optional panels draw series that exist only where their feature
	// runs (shipped logs, DNS checks, the fallback).
	Optional bool
}

// appPanel is one panel about the whole app.
type appPanel struct {
	Title    string
	Unit     string
	Max      float64 // 0: none
	Queries  []sideQuery
	Optional bool
}

const (
	requests = `migrate_proxy_requests_total{app="$app",side="%[1]s"}`
	buckets  = `migrate_proxy_request_duration_seconds_bucket{app="$app",side="%[1]s"}`
	pairs    = `migrate_shadow_pairs_total{app="$app",outcome=~"match|diff|noise"}`
	diffs    = `migrate_shadow_pairs_total{app="$app",outcome="diff"}`
	logReqs  = `migrate_logs_requests_total{app="$app",side="%[1]s"}`
	mirrored = `migrate_shadow_mirrored_requests_total{app="$app",side="%[1]s"}`
)

func rate(series string) string { return "rate(" + series + "[$__rate_interval])" }

func latency(q string) sideQuery {
	return sideQuery{Legend: "%[1]s p" + strings.TrimPrefix(q, "0.")[:2],
		Expr: fmt.Sprintf("histogram_quantile(%s, sum by (le) (%s))", q, rate(buckets))}
}

// axisLegend names the shared-axis query's series: "Max" is also the
// field name Grafana's config-from-query transformation maps to max.
const axisLegend = "Max"

// axisExpr is the largest value of every series of the panel on either
// side: each series is told apart by a label of its own (so that "or"
// keeps them all) before max folds them into one. A panel with a soft max
// never goes below it; in another a zero is left out, so that an idle
// pair keeps Grafana's automatic range instead of a 0-0 axis.
func (p pairedPanel) axisExpr() string {
	var terms []string
	for _, side := range sides {
		for i, q := range p.Queries {
			terms = append(terms, fmt.Sprintf(`label_replace(%s, "axis", "%s_%d", "", "")`, fmt.Sprintf(q.Expr, side), side, i))
		}
	}
	folded := "max(" + strings.Join(terms, " or ") + ")"
	if p.SoftMax > 0 {
		return fmt.Sprintf("clamp_min(%s, %g)", folded, p.SoftMax)
	}
	return folded + " > 0"
}

var sidePanels = []pairedPanel{
	{Title: "Requests/s", Unit: "reqps", Queries: []sideQuery{
		{Legend: "%[1]s", Expr: "sum(" + rate(requests) + ")"},
	}},
	{Title: "Error rate (5xx)", Unit: "percentunit", SoftMax: 0.01, Queries: []sideQuery{
		{Legend: "%[1]s 5xx", Expr: "sum(" + rate(strings.Replace(requests, `"}`, `",code_class="5xx"}`, 1)) + ") / sum(" + rate(requests) + ")"},
	}},
	{Title: "Latency p50 / p95 / p99", Unit: "s", Queries: []sideQuery{latency("0.50"), latency("0.95"), latency("0.99")}},
	{Title: "Answers/s by status class", Unit: "reqps", Queries: []sideQuery{
		{Legend: "%[1]s {{code_class}}", Expr: "sum by (code_class) (" + rate(requests) + ")"},
	}},
	{Title: "Mirrored answers/s by status class", Unit: "reqps", Queries: []sideQuery{
		{Legend: "%[1]s mirrored {{code_class}}", Expr: "sum by (code_class) (" + rate(mirrored) + ")"},
	}},
	{Title: "Log error rate (5xx in the access logs)", Unit: "percentunit", SoftMax: 0.01, Optional: true, Queries: []sideQuery{
		{Legend: "%[1]s logs 5xx", Expr: "sum(" + rate(strings.Replace(logReqs, `"}`, `",code_class="5xx"}`, 1)) + ") / sum(" + rate(logReqs) + ")"},
	}},
}

var appPanels = []appPanel{
	{Title: "Weight on new", Unit: "percent", Max: 100, Queries: []sideQuery{
		{Legend: "weight", Expr: `max(migrate_cutover_weight{app="$app"})`},
	}},
	{Title: "Shadow diff rate by direction", Unit: "percentunit", Queries: []sideQuery{
		{Legend: "{{direction}}", Expr: "sum by (direction) (" + rate(diffs) + ") / sum by (direction) (" + rate(pairs) + ")"},
	}},
	{Title: "Diff rate by endpoint", Unit: "percentunit", Queries: []sideQuery{
		{Legend: "{{endpoint}} {{direction}}", Expr: "sum by (endpoint, direction) (" + rate(diffs) + ") / sum by (endpoint, direction) (" + rate(pairs) + ")"},
	}},
	{Title: "DNS propagated", Unit: "percentunit", Max: 1, Optional: true, Queries: []sideQuery{
		{Legend: "{{record}}", Expr: `max by (record) (migrate_dns_propagated_ratio{app="$app"})`},
	}},
	{Title: "DNS ETA", Unit: "s", Optional: true, Queries: []sideQuery{
		{Legend: "{{record}}", Expr: `max by (record) (migrate_dns_eta_seconds{app="$app"})`},
	}},
	{Title: "Fallback stragglers (old host)", Unit: "short", Optional: true, Queries: []sideQuery{
		{Legend: "clients, last hour", Expr: `sum(migrate_fallback_clients{app="$app"})`},
		{Legend: "requests/min", Expr: `sum(migrate_fallback_requests_per_minute{app="$app"})`},
	}},
	// A refused request belongs to no app: the panel shows every
	// listener's (the series exist at 0 from the proxy's start).
	{Title: "Requests refused/s by status", Unit: "reqps", Queries: []sideQuery{
		{Legend: "{{status}} on {{listen}}", Expr: "sum by (listen, status) (" + rate("migrate_proxy_refused_total") + ")"},
	}},
}

// Annotations: the weight changes and the rollbacks, read from
// migrate_cutover_weight. (The events with their reasons are in the admin
// API's /api/v1/events and the web dashboard's timeline; a Prometheus
// query needs no Grafana plugin.)
var annotations = []struct {
	Name, Color, Expr, Title string
}{
	{"Weight changes", "blue", `changes(migrate_cutover_weight{app="$app"}[1m]) > 0`, "weight changed"},
	{"Rollbacks", "red", `(max(migrate_cutover_weight{app="$app"}) == 0) and (max(max_over_time(migrate_cutover_weight{app="$app"}[1m])) > 0)`, "rolled back to old"},
}

// AxisLegend is the Legend of a paired panel's shared-axis query in
// GrafanaQueries: the largest value of the pair's series on either side,
// which both panels of the pair take as their max.
const AxisLegend = "shared axis max"

// Query is one PromQL expression of the Grafana dashboard, with its panel.
type Query struct {
	Panel string
	// Side is old or new for a side's series, empty otherwise (an app
	// panel, or the shared axis of a pair).
	Side string
	// Legend names the series in the panel.
	Legend string
	Expr   string
	// Optional says the series exist only where their feature runs
	// (shipped logs, DNS checks, the fallback).
	Optional bool
}

// GrafanaQueries lists every expression of the Grafana dashboard, with
// $app (and $__rate_interval) unexpanded, annotations last.
func GrafanaQueries() []Query {
	var out []Query
	for _, p := range sidePanels {
		for _, side := range sides {
			for _, q := range p.Queries {
				out = append(out, Query{Panel: p.Title, Side: side, Legend: fmt.Sprintf(q.Legend, side), Expr: fmt.Sprintf(q.Expr, side), Optional: p.Optional})
			}
		}
		out = append(out, Query{Panel: p.Title, Legend: AxisLegend, Expr: p.axisExpr(), Optional: p.Optional})
	}
	for _, p := range appPanels {
		for _, q := range p.Queries {
			out = append(out, Query{Panel: p.Title, Legend: q.Legend, Expr: q.Expr, Optional: p.Optional})
		}
	}
	for _, a := range annotations {
		out = append(out, Query{Panel: "annotation: " + a.Name, Legend: a.Title, Expr: a.Expr})
	}
	return out
}
