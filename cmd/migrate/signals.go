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
// end the process on its default action, without a drain. Until a live
// reload exists it is logged, saying so, and otherwise ignored: the
// command keeps running on the manifest it read at start.
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
				log.Warn("SIGHUP: reloading the manifest is not supported yet; still running with the one read at start (restart to apply changes)")
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
