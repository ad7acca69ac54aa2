// Package evloop runs Linux epoll event loops: one OS thread per loop, no
// goroutine per connection, as nginx's workers do. A Loop dispatches the
// edge-triggered events of its sockets to their Handlers, accepts on
// listening sockets shared with other loops (EPOLLEXCLUSIVE), runs timers
// from a binary heap and functions posted from other goroutines. Buffer,
// Readiness, ReadFD, WriteFD and WriteBytes are the pieces of non-blocking
// socket I/O the handlers build on; Dial connects without blocking, and
// FileConn hands a connection over to Go's netpoller. It emits no metrics;
// it logs accept failures to the logger given to NewLoop.
//
// The package is Linux-only: on other systems it is empty.
package evloop
