package dnscheck

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// DefaultResolvers returns the default panel: well-known public resolvers
// of several operators and regions, by address.
func DefaultResolvers() []string {
	return []string{
		"1.1.1.1:53", "1.0.0.1:53", // Cloudflare, anycast
		"8.8.8.8:53", "8.8.4.4:53", // Google, anycast
		"9.9.9.9:53", "149.112.112.112:53", // Quad9, anycast (Switzerland)
		"208.67.222.222:53", "208.67.220.220:53", // OpenDNS (Cisco), US
		"94.140.14.14:53",    // AdGuard, Cyprus
		"185.222.222.222:53", // DNS.SB, Germany
		"76.76.2.0:53",       // Control D, Canada
		"149.112.121.10:53",  // CIRA Canadian Shield, Canada
		"77.88.8.8:53",       // Yandex, Russia
		"223.5.5.5:53",       // AliDNS, China
		"119.29.29.29:53",    // DNSPod (Tencent), China
		"180.76.76.76:53",    // Baidu, China
		"168.126.63.1:53",    // KT, South Korea
		"156.154.70.1:53",    // UltraDNS public (Vercara), US
	}
}

// SystemPanel is Panel with a resolvConf that is the system's default
// rather than the user's choice: when it cannot be read the panel is the
// other resolvers, and skipped says why (nil when it was read).
func SystemPanel(resolvers []string, resolvConf string) (panel []string, skipped, err error) {
	panel, err = Panel(resolvers, resolvConf)
	if err == nil || resolvConf == "" {
		return panel, nil, err
	}
	without, werr := Panel(resolvers, "")
	if werr != nil {
		return nil, nil, err
	}
	return without, err, nil
}

// Panel returns the resolvers to ask: resolvers when given, else the
// default panel, plus the nameservers of the resolv.conf file at
// resolvConf unless it is empty. Duplicates are dropped.
func Panel(resolvers []string, resolvConf string) ([]string, error) {
	base := DefaultResolvers()
	if len(resolvers) > 0 {
		var err error
		if base, err = Servers(resolvers); err != nil {
			return nil, fmt.Errorf("resolver %w", err)
		}
	}
	if resolvConf == "" {
		return base, nil
	}
	cfg, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("reading the system's resolvers: %w", err)
	}
	for _, s := range cfg.Servers {
		a, err := serverAddr(s, 53)
		if err != nil {
			return nil, fmt.Errorf("%s: nameserver %w", resolvConf, err)
		}
		if cfg.Port != "" && cfg.Port != "53" {
			a, _ = serverAddr(s+":"+cfg.Port, 53)
		}
		if !slices.Contains(base, a) {
			base = append(base, a)
		}
	}
	return base, nil
}
