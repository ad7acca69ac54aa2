package logship

import "time"

// The defaults of the manifest's logs: keys. They are declared here, not in
// package manifest, because manifest imports logship (to check log
// formats): manifest's own list of defaults names these, and Load applies
// them, so each is written once.
const (
	DefaultMaxLine      = 256 << 10        // logs.old/new.max_line
	DefaultFlushTimeout = 5 * time.Second  // logs.old/new.flush_timeout
	DefaultReadFrom     = "beginning"      // logs.old/new.read_from
	DefaultBatchSize    = 1000             // logs.sink.batch_size
	DefaultBatchBytes   = 1 << 20          // logs.sink.batch_bytes
	DefaultBatchWait    = time.Second      // logs.sink.batch_wait
	DefaultSinkTimeout  = 10 * time.Second // logs.sink.timeout
	DefaultMaxBackoff   = 30 * time.Second // logs.sink.max_backoff
)
