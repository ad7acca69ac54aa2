package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// signalContext returns ctx ended by SIGINT or SIGTERM, for a long-running
// command, and the function that releases the signals when it is done.
//
// SIGHUP, which nginx users and systemd's ExecReload send to reload, would
// end the process on its default action, without a drain: it runs onHUP
// instead (a serving instance reloads its manifest), and for a command
// with none it is logged, saying so, and otherwise ignored.
func (o *rootOptions) signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	log := o.logger()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				if f := o.onHUP.Load(); f != nil {
					(*f)()
					continue
				}
				log.Warn("SIGHUP: this command does not reload its manifest; still running with the one read at start (restart to apply changes)")
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, func() {
		stop()
		<-done
		signal.Stop(hup)
	}
}
