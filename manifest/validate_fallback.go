package manifest

import (
	"fmt"
	"net/netip"
	"time"
)

// dnsCheck checks how the app's records are checked.
func (c *checker) dnsCheck(path string, d *DNSCheck) {
	c.each(path+".resolvers", d.Resolvers, dnsServer)
	c.each(path+".authoritative", d.Authoritative, dnsServer)
	if d.ClientSubnet != "" {
		if _, err := netip.ParsePrefix(d.ClientSubnet); err != nil {
			c.addf(path+".client_subnet", "%q is not a CIDR such as 198.51.100.0/24", d.ClientSubnet)
		}
	}
	if d.Timeout < 0 {
		c.check(path+".timeout", "must not be negative")
	}
	if d.Retries < 0 {
		c.addf(path+".retries", "%d is negative", d.Retries)
	}
	if d.Rate < 0 {
		c.addf(path+".rate", "%g is negative", d.Rate)
	}
	if d.Interval < 0 {
		c.check(path+".interval", "must not be negative")
	}
	if d.MaxInterval < d.Interval {
		c.addf(path+".max_interval", "%s is shorter than interval %s", time.Duration(d.MaxInterval), time.Duration(d.Interval))
	}
}

// dnsServer checks a DNS server address: an IP, or IP:port.
func dnsServer(s string) string {
	if isIP(s) {
		return ""
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return fmt.Sprintf("%q is not a server address (IP or IP:port)", s)
	}
	return ""
}

// fallback checks the old-host fallback proxy.
func (c *checker) fallback(path string, f *Fallback) {
	if f.Listen != "" {
		c.check(path+".listen", listenAddr(f.Listen))
	}
	c.tls(path+".tls", f.TLS)
	c.each(path+".backends", f.Backends, baseURL)
	if f.ServerName != "" {
		c.check(path+".server_name", hostName(f.ServerName))
	}
	if f.CA != "" {
		c.check(path+".ca", readable(f.CA, "CA file"))
	}
	if f.RetireBelow != nil && *f.RetireBelow < 0 {
		c.addf(path+".retire_below", "%g is negative", *f.RetireBelow)
	}
	if f.RetireAfter < 0 {
		c.check(path+".retire_after", "must not be negative")
	}
	if f.Admin != "" {
		c.check(path+".admin", httpURL(f.Admin))
	}
}
