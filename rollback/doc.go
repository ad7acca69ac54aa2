// Package rollback decides, from per-side numbers over a sliding window,
// whether an app's new side is healthy enough to keep its traffic, and acts
// when it is not: it evaluates the manifest's rollback rules every interval
// with statistical tests on counts (never bare ratios), keeps every verdict
// with its numbers, and calls its Actions after enough breaches or at once
// on gross failure.
//
// Sources: the in-process telemetry, a Prometheus server (PromQL
// templates), and later the rates derived from shipped logs.
package rollback
