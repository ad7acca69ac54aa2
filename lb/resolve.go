package lb

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/internal/hostport"
)

// Where a backend is. A backend URL names an IP address or a host name;
// the proxy resolves the names when serving starts and then every 30 s,
// off the request path (a lookup blocks), as nginx resolves an upstream's
// names (at start, or with a resolver's valid=); the addresses a name had
// last are kept while a lookup fails. A path that dials by address
// (dialAddr) sends new connections to a backend's addresses in turn and
// closes a kept-alive one to an address the name no longer has when its
// answer is done (current), so that steady traffic, which never lets a
// connection idle out, follows the name too. (A path may also dial the
// URL's host itself, through the same resolver: see its files.)

// resolveTimeout bounds one lookup.
const resolveTimeout = 5 * time.Second

// resolvedAddrs are the addresses a backend's name resolved to.
type resolvedAddrs struct {
	addrs []netip.AddrPort
	next  atomic.Uint32
}

// dialAddr is the address a new connection to b goes to.
func (b *backend) dialAddr() (netip.AddrPort, error) {
	if b.ip.IsValid() {
		return b.ip, nil
	}
	r := b.resolved.Load()
	if r == nil {
		return netip.AddrPort{}, fmt.Errorf("backend host %s has no address yet", b.host)
	}
	return r.addrs[int(r.next.Add(1)-1)%len(r.addrs)], nil
}

// current reports whether a connection to addr still goes where b
// points: always for a backend given by address, and for a name when addr
// is among the addresses it resolved to last.
func (b *backend) current(addr netip.AddrPort) bool {
	if b.ip.IsValid() {
		return true
	}
	r := b.resolved.Load()
	return r == nil || slices.Contains(r.addrs, addr)
}

// namedBackends are the backends that have a host name.
func (p *Proxy) namedBackends() []*backend {
	var out []*backend
	for _, a := range p.apps().sorted {
		for _, s := range a.sides {
			for _, b := range s.pool.backends() {
				if b.host != "" {
					out = append(out, b)
				}
			}
		}
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
	ips, err := p.resolver.LookupNetIP(ctx, "ip", b.host)
	addrs := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		if ip.Zone() == "" {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), b.port))
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
	b.resolved.Store(&resolvedAddrs{addrs: addrs})
	p.log.Info("backend host resolved", "backend", b.label, "addrs", fmt.Sprint(addrs))
}

// keepResolving resolves the backends' names every p.resolveEvery until
// ctx is done (those of backends added live too).
func (p *Proxy) keepResolving(ctx context.Context) {
	t := time.NewTicker(p.resolveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.resolveAll(ctx, p.namedBackends())
		}
	}
}

// setAddr sets where b is: its IP address (localhost is 127.0.0.1), or
// the host name to resolve and the port.
func (b *backend) setAddr() {
	host, port, err := net.SplitHostPort(hostport.Of(b.url))
	if err != nil {
		return
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || host == "" {
		return
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() == "" {
			b.ip = netip.AddrPortFrom(ip.Unmap(), uint16(p))
		}
		return
	}
	b.host, b.port = host, uint16(p)
}
