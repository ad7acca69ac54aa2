// Package leaktest holds the goleak options shared by the tests of packages
// that serve through lb.
package leaktest

import "go.uber.org/goleak"

// Options ignores the background goroutines of fasthttp (lb's data path):
// each ends by itself a while after its server or client has nothing left
// (the idle-connection cleaner of a client after its connections are
// closed, a server's worker-pool cleaner after its shutdown) or lives for
// the process (the server date updater). None holds a request or a
// connection.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
}
