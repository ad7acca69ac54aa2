// Package dashboards serves migrate's side-by-side dashboards: the embedded
// web dashboard (old on the left, new on the right, the same panels on
// shared axes, the cutover, the event timeline, the diff table and the
// diff detail) and the Grafana export of the same series.
//
// A Dashboard samples a Source once a second: the apps' status (weight,
// phase, verdict, plan, backends), the Prometheus series of the proxy and
// of the shadow traffic, from which it derives per-second rates and
// latency quantiles, the diff report every few seconds and the new events.
// Each side's column shows the clients it served and, apart and labelled
// as mirrored (dashed lines, the card's mirrored counts), its answers to
// the requests mirrored to it: in the shadow phase those are all that new
// answers, 5xx included. The diff table has a row per endpoint and
// direction (old→new: served by old, mirrored to new; new→old).
// It keeps a bounded history of the per-second points (15 minutes by
// default) and pushes each frame to the open pages over Server-Sent Events
// through a hub whose per-client buffers are bounded: a slow page misses
// frames and is told to resync, it never holds up the sampler or the other
// pages. The sources are Local (in the process that serves the apps) and
// Remote (a running instance's admin API, for `migrate dashboard`).
//
// Sections fed by other parts are optional and hidden until there is
// something to show: the log error rate, the DNS panel and the fallback's
// stragglers appear when the instance exports their series
// (migrate_logs_requests_total, migrate_dns_propagated_ratio and
// migrate_dns_eta_seconds, migrate_fallback_clients and
// migrate_fallback_requests_per_minute), or when Options.Logs,
// Options.DNS or Options.Fallback provide them (a provider wins; the DNS
// provider adds each resolver's answer).
//
// Grafana builds the Grafana dashboard JSON (see grafana.go).
//
// It emits no metrics of its own; it logs a source that fails to answer,
// once per change of error.
package dashboards
