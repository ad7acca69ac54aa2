// Package logship ships the access and application logs of both sides of a
// migration to one place, labelled by app and side. On each host it tails
// files with checkpoints (delivered lines are never read twice after a
// restart, undelivered ones are never lost, across rotation and
// truncation), parses each line, sends the records to a sink (the embedded
// store of `migrate serve`, a file, stdout, Loki, Elasticsearch or an
// OpenTelemetry collector) and derives per-side request, error and latency
// metrics from access records, for telemetry and for the rollback analysis.
//
// The parsers are the part present now. New returns a Parser for one of the
// formats of Formats: nginx's combined format, nginx with a custom
// log_format, JSON objects, logfmt, and raw lines. A Parser fills a reused
// Record with the request (method, path, query, protocol, host), the answer
// (status, bytes, duration, upstream time), the client, the event time and
// any extra fields, without allocating for nginx formats in steady state.
// Lines it cannot parse are reported with a reason from a bounded set and
// keep what did parse, so that a shipper sends them raw and labelled and a
// replay skips them; a Parser never panics on any input.
package logship
