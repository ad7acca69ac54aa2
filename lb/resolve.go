package lb

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Backend host names on the event loops. A loop does not resolve names
// (a lookup blocks), so the proxy resolves the names of the loops' backends
// when serving starts and then every 30 s, as nginx resolves an upstream's
// names (at start, or with a resolver's valid=); the addresses a name had
// last are kept while a lookup fails. New connections to a backend go to
// its addresses in turn; a kept-alive one to an address the name no
// longer has is closed when its answer is done (current), so that steady
// traffic, which never lets a connection idle out, follows the name too.
// net/http's path resolves at each new connection, through the same
// resolver, and keeps their kept-alive connections where they are.

// resolveTimeout bounds one lookup.
const resolveTimeout = 5 * time.Second

// loopAddrs are the addresses a backend's name resolved to.
type loopAddrs struct {
	addrs []netip.AddrPort
	next  atomic.Uint32
}

// dialAddr is the address of b a loop connects to next.
func (b *backend) dialAddr() (netip.AddrPort, error) {
	if b.loopAddr.IsValid() {
		return b.loopAddr, nil
	}
	r := b.resolved.Load()
	if r == nil {
		return netip.AddrPort{}, fmt.Errorf("backend host %s has no address yet", b.loopHost)
	}
	return r.addrs[int(r.next.Add(1)-1)%len(r.addrs)], nil
}

// current reports whether a connection to addr still goes where b
// points: always for a backend given by address, and for a name when addr
// is among the addresses it resolved to last.
func (b *backend) current(addr netip.AddrPort) bool {
	if b.loopAddr.IsValid() {
		return true
	}
	r := b.resolved.Load()
	return r == nil || slices.Contains(r.addrs, addr)
}

// namedBackends are the backends of the loops' apps that have a host name.
func (p *Proxy) namedBackends() []*backend {
	var out []*backend
	for _, l := range p.listeners {
		if !l.loop {
			continue
		}
		l.router.all(func(a *App) bool {
			for _, s := range a.sides {
				for _, b := range s.pool.backends {
					if b.loopHost != "" && !slices.Contains(out, b) {
						out = append(out, b)
					}
				}
			}
			return true
		})
	}
	return out
}

// resolveAll resolves the names of bs at once.
func (p *Proxy) resolveAll(ctx context.Context, bs []*backend) {
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() { p.resolve(ctx, b) })
	}
	wg.Wait()
}

// resolve looks b's name up and keeps the addresses it finds.
func (p *Proxy) resolve(ctx context.Context, b *backend) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := p.resolver.LookupNetIP(ctx, "ip", b.loopHost)
	addrs := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		if ip.Zone() == "" {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), b.loopPort))
		}
	}
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no usable address")
	}
	if err != nil {
		if ctx.Err() == nil || b.resolved.Load() == nil {
			p.log.Warn("resolving backend host failed", "backend", b.label, "err", err)
		}
		return
	}
	slices.SortFunc(addrs, func(x, y netip.AddrPort) int { return x.Compare(y) })
	if old := b.resolved.Load(); old != nil && slices.Equal(old.addrs, addrs) {
		return
	}
	b.resolved.Store(&loopAddrs{addrs: addrs})
	p.log.Info("backend host resolved", "backend", b.label, "addrs", fmt.Sprint(addrs))
}

// keepResolving resolves bs every p.resolveEvery until ctx is done.
func (p *Proxy) keepResolving(ctx context.Context, bs []*backend) {
	t := time.NewTicker(p.resolveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.resolveAll(ctx, bs)
		}
	}
}
