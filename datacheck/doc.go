// Package datacheck proves that two databases hold the same rows: the old
// stack's and the new one's, PostgreSQL or MySQL/MariaDB in any pairing.
//
// A Checker cuts each table's key space into chunks; each side computes a
// chunk's row count and checksum (an XOR of 64 bits of the MD5 of each
// row's canonical text) in its own database, so no rows cross the network
// while chunks agree. A chunk that differs is cut again (bisection) until
// it holds at most Options.LeafRows rows, which are then fetched from both
// sides and compared column by column. The canonical text of a value is
// the same on both engines (integers, decimals at a fixed scale, UTC
// timestamps, 1/0 booleans, hex bytes, lowercase UUIDs, a NULL marker),
// so a MySQL table can be checked against its PostgreSQL copy; JSON is
// compared by value across engines, in the rows fetched.
//
// Identifiers reach SQL quoted only (pgx.Identifier.Sanitize, MySQL
// backquotes). A table needs a primary key or a unique key over NOT NULL
// columns (or one declared in Table.Key); one with neither is refused
// (ErrNoKey).
//
// Run returns a Report: per table, the rows on each side and the keys
// missing on new, extra on new, or changed (with the columns that
// differ). With Options.Settle, differing rows are checked again after
// the settle time, and those that converged count as lagging: the
// Report's Verdict (in_sync, lagging, diverged) is what a watch loop or
// `migrate serve`'s plan gate reads. The package emits no metrics and
// logs at debug level only; callers own both.
package datacheck
