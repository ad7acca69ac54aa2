package dnscheck

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/migratekit/migrate/manifest"
)

// ResolvConf is where the system's resolvers are read from.
const ResolvConf = "/etc/resolv.conf"

// WatchOptionsFor turns an app's dns: and dns_check: sections into the
// options of a Watcher of its records: the panel (dns_check.resolvers, or
// the default one, plus the resolvers of resolvConf unless
// dns_check.system_resolvers is false; "" reads none), the authoritative
// servers and the query settings. The caller adds the Events, Gauges,
// Clock, Logger and OnRound it wants. Errors name the manifest path.
func WatchOptionsFor(a *manifest.App, resolvConf string) (WatchOptions, error) {
	dc := a.DNSCheck
	conf := resolvConf
	if dc.SystemResolvers != nil && !*dc.SystemResolvers {
		conf = ""
	}
	panel, err := Panel(dc.Resolvers, conf)
	if err != nil {
		return WatchOptions{}, fmt.Errorf("apps.%s.dns_check: %w", a.Name, err)
	}
	var subnet netip.Prefix
	if dc.ClientSubnet != "" {
		p, err := netip.ParsePrefix(dc.ClientSubnet)
		if err != nil {
			return WatchOptions{}, fmt.Errorf("apps.%s.dns_check.client_subnet: %q is not a CIDR such as 198.51.100.0/24", a.Name, dc.ClientSubnet)
		}
		subnet = p.Masked()
	}
	recs := make([]Query, 0, len(a.DNS))
	for _, r := range a.DNS {
		recs = append(recs, Query{Name: r.Name, Type: r.Type, Expect: r.Expect, Old: r.Old})
	}
	return WatchOptions{
		App: a.Name, Records: recs, Interval: dc.Interval.D(), MaxInterval: dc.MaxInterval.D(),
		Check: Options{Resolvers: panel, Authoritative: dc.Authoritative, Timeout: dc.Timeout.D(),
			Retries: dc.Retries, Rate: dc.Rate, ClientSubnet: subnet, DO: dc.DNSSEC != nil && *dc.DNSSEC},
	}, nil
}

// WatchOptionsForSystem is WatchOptionsFor with a resolvConf that is the
// system's default rather than the user's choice: one that cannot be read
// (no /etc/resolv.conf in a container, say) is no reason to stop watching,
// so the watch then uses the rest of its panel and log says so. A problem
// of the manifest is still an error.
func WatchOptionsForSystem(a *manifest.App, resolvConf string, log *slog.Logger) (WatchOptions, error) {
	wopts, err := WatchOptionsFor(a, resolvConf)
	if err == nil || resolvConf == "" {
		return wopts, err
	}
	without, werr := WatchOptionsFor(a, "")
	if werr != nil {
		return WatchOptions{}, err
	}
	log.Warn("watching dns without the system's resolvers: they cannot be read", "app", a.Name, "err", err)
	return without, nil
}

// Watching says whether `migrate serve` watches the app's records: it has
// some and dns_check.watch is not false.
func Watching(a *manifest.App) bool {
	return len(a.DNS) > 0 && (a.DNSCheck.Watch == nil || *a.DNSCheck.Watch)
}
