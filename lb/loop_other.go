//go:build !linux

package lb

import (
	"context"
	"errors"
	"log/slog"
	"net"
)

// The event-loop data path exists on Linux only (loop_linux.go); elsewhere
// plain-HTTP listeners are served by net/http.

const loopSupported = false

type loopServer struct{}

func (p *Proxy) newLoopServer(*listener, int, func(net.Conn)) (*loopServer, error) {
	return nil, errors.New("event loops need Linux")
}

func (*loopServer) serve() error          { return nil }
func (*loopServer) drain(context.Context) {}
func (*loopServer) stop()                 {}

func loopsFor(*slog.Logger) int { return 1 }
