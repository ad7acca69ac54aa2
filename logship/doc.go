// Package logship ships the access and application logs of both sides of a
// migration to one place, labelled by app and side, and loses no line on
// the way.
//
// The parts, in the order a line meets them:
//
//   - Sources (source.go, tail.go, fileid.go): file globs re-scanned for
//     new files, each file known by device, inode and a fingerprint of its
//     first KiB, read at exact offsets by one polling reader per side.
//     Rename rotation drains the old file through its open descriptor;
//     copytruncate and truncation are caught by size or fingerprint; a
//     last line without its newline is flushed after a timeout and long
//     lines are split, both counted.
//   - Parsers (parse.go): New returns a Parser for one of Formats: nginx's
//     combined format, nginx with a custom log_format, JSON objects, logfmt
//     and raw lines. A Parser fills a reused Record with the request, the
//     answer, the client, the event time and extra fields, without
//     allocating for nginx formats in steady state. Lines it cannot parse
//     keep what did parse and are shipped raw with a reason from a bounded
//     set; a Parser never panics.
//   - The Shipper (ship.go): parses, labels each line as an Event with a
//     deterministic id (a hash of fingerprint and offset), batches by count,
//     bytes and time, and hands batches to a Sink. Checkpoints (checkpoint.go)
//     hold, per file, the highest offset every event before which the sink
//     acknowledged, saved atomically in the data dir: a restart resumes from
//     it, at least once, and sinks drop the duplicates by id.
//   - Sinks (sink*.go, retry.go, deadletter.go): NewSink wraps a Deliverer
//     (one attempt over one protocol) with retries (full-jitter backoff,
//     Retry-After honoured) and a dead-letter file for what a receiver
//     refuses for good. Deliverers: the embedded store of migrate serve
//     (embedded.go), a JSON-lines file, stdout, Loki, Elasticsearch _bulk
//     and OTLP/HTTP logs.
//   - Log-derived metrics (derive.go): per side requests, errors by code
//     class and durations from access records, in windows keyed by event
//     time with duplicates dropped by id, for telemetry and for
//     rollback.source: logs. LogStore (logstore.go) keeps the recent lines
//     of both sides for migrate logs tail and the dashboard.
package logship
