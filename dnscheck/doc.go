// Package dnscheck checks that a DNS change has propagated: it asks every
// authoritative server of the zone (every address of every NS, recursion
// off, EDNS0, AA bit required, SOA serials compared) and a panel of
// recursive resolvers (recursion on) for a record, classifies each answer
// as match, stale (still an old value), wrong, missing or failed (with a
// reason: timeout, servfail, refused, id-mismatch, question-mismatch,
// malformed, ...), and estimates when the last cache will expire (the ETA).
//
// The client is written on miekg/dns primitives rather than dns.Client so
// that it can check what a propagation check needs: the reply's ID and
// question, the TC bit (retried over TCP), a per-query timeout, retries with
// backoff, and a per-server rate limit (golang.org/x/time/rate) shared by
// every check of a process. Servers are queried concurrently, with a bound.
//
// Check runs one check and returns a Report, which renders as a text table
// (WriteText) or JSON (its fields have stable snake_case names). Watcher
// re-checks a set of records on a backing-off interval, records an event
// when a record becomes fully propagated or regresses, and feeds the
// migrate_dns_* gauges through the Gauges interface (see telemetry/dns.go).
// Retire decides from a Report set and the fallback's arrival counts whether
// the old host can be retired.
//
// The package logs through the *slog.Logger of its Options and emits no
// metrics by itself. Socket deadlines and retry backoff use real time; TTLs,
// the ETA and the watch intervals use the clock of the Options.
package dnscheck
