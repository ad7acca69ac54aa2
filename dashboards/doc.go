// Package dashboards serves migrate's side-by-side dashboards: the embedded
// web dashboard (old on the left, new on the right, the same panels on
// shared axes, the cutover, the event timeline, the diff table and the
// diff detail) and the Grafana export of the same series.
//
// A Dashboard samples a Source once a second: the apps' status (weight,
// phase, verdict, plan, backends), the Prometheus series of the proxy and
// of the shadow traffic, from which it derives per-second rates and
// latency quantiles, the diff report every few seconds and the new events.
// It keeps a bounded history of the per-second points (15 minutes by
// default) and pushes each frame to the open pages over Server-Sent Events
// through a hub whose per-client buffers are bounded: a slow page misses
// frames and is told to resync, it never holds up the sampler or the other
// pages. The sources are Local (in the process that serves the apps) and
// Remote (a running instance's admin API, for `migrate dashboard`).
//
// Sections fed by other parts are optional: Options.DNS, Options.Fallback
// and Options.Logs each add a panel when set and hide it when nil.
//
// Grafana builds the Grafana dashboard JSON (see grafana.go).
//
// It emits no metrics of its own; it logs a source that fails to answer,
// once per change of error.
package dashboards
