package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The checks below return what is wrong with a value, "" when nothing is.

// httpURL checks an http:// or https:// URL with a host.
func httpURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", s)
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if portNumber(p, false) != "" {
			return fmt.Sprintf("%q has a bad port %q", s, p)
		}
	}
	if h := u.Hostname(); !isIP(h) && hostName(h) != "" {
		return fmt.Sprintf("%q has a bad host name %q", s, h)
	}
	return ""
}

// baseURL checks an http(s) URL that requests are sent under: no query,
// fragment or credentials.
func baseURL(s string) string {
	if msg := httpURL(s); msg != "" {
		return msg
	}
	u, _ := url.Parse(s)
	switch {
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Sprintf("%q has a query or fragment; give a base URL", s)
	case u.User != nil:
		return fmt.Sprintf("%q holds credentials; a base URL may not", s)
	}
	return ""
}

// sameURL is the form of a base URL compared for duplicates.
func sameURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
}

// origin checks a CORS origin: "*" or scheme://host[:port].
func origin(s string) string {
	if s == "*" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("%q is not an origin (use * or scheme://host[:port])", s)
	}
	return ""
}

// listenAddr checks a listen address: [host]:port, port 0 picking any.
func listenAddr(s string) string {
	host, port, err := net.SplitHostPort(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not host:port", s)
	case portNumber(port, true) != "":
		return fmt.Sprintf("%q has %s", s, portNumber(port, true))
	case host != "" && !isIP(host) && hostName(host) != "":
		return fmt.Sprintf("%q has a bad host", s)
	}
	return ""
}

// hostPort checks host or host:port (a Host header value, the host of a
// URL); with needPort, the port is required.
func hostPort(s string, needPort bool) string {
	host, port, err := net.SplitHostPort(s)
	switch {
	case err == nil:
		if msg := portNumber(port, false); msg != "" {
			return fmt.Sprintf("%q has %s", s, msg)
		}
		if isIP(host) {
			return ""
		}
	case needPort:
		return fmt.Sprintf("%q is not host:port", s)
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err != nil || !ip.Is6() {
			return fmt.Sprintf("%q is not an IPv6 address", s)
		}
		return ""
	default:
		host = s
		if _, err := netip.ParseAddr(host); err == nil && !strings.Contains(host, ":") {
			return ""
		}
	}
	return hostName(host)
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func portNumber(p string, zeroOK bool) string {
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) || strings.HasPrefix(p, "+") {
		return fmt.Sprintf("a bad port %q", p)
	}
	return ""
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// hostName checks a DNS name: dot-separated labels of letters, digits,
// hyphens and underscores (as in _acme-challenge), an optional final dot.
func hostName(s string) string {
	name := strings.TrimSuffix(strings.ToLower(s), ".")
	if name == "" || len(name) > 253 {
		return fmt.Sprintf("%q is not a host name", s)
	}
	for label := range strings.SplitSeq(name, ".") {
		if !dnsLabel.MatchString(label) {
			return fmt.Sprintf("%q is not a host name", s)
		}
	}
	return ""
}

// ipOrCIDR checks an IP address or a CIDR prefix.
func ipOrCIDR(s string) string {
	if _, err := netip.ParsePrefix(s); err == nil {
		return ""
	}
	if isIP(s) {
		return ""
	}
	return fmt.Sprintf("%q is not an IP address or CIDR", s)
}

// token checks an HTTP token (RFC 9110): methods, header and cookie names.
func token(s, what string) string {
	if s == "" {
		return fmt.Sprintf("empty %s", what)
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return fmt.Sprintf("%q is not a valid %s", s, what)
		}
	}
	return ""
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readable checks that file is a regular file that can be opened. It
// opens nothing else, so a FIFO or device cannot block it.
func readable(file, what string) string {
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return what + " does not exist"
	case err != nil:
		return what + " cannot be read: " + pathErr(err)
	case !info.Mode().IsRegular():
		return what + " is not a regular file"
	}
	f, err := os.Open(file)
	if err != nil {
		return what + " cannot be read: " + pathErr(err)
	}
	f.Close()
	return ""
}

// pathErr is the cause of a file error, without the path (which the
// problem's position already shows).
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// httpMethods are the methods of IANA's HTTP Method Registry (less PRI,
// HTTP/2's preface, and "*").
var httpMethods = []string{
	"ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD",
	"LABEL", "LINK", "LOCK", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF", "MKWORKSPACE",
	"MOVE", "OPTIONS", "ORDERPATCH", "PATCH", "POST", "PROPFIND", "PROPPATCH", "PUT", "QUERY", "REBIND",
	"REPORT", "SEARCH", "TRACE", "UNBIND", "UNCHECKOUT", "UNLINK", "UNLOCK", "UPDATE", "UPDATEREDIRECTREF",
	"VERSION-CONTROL",
}

// method checks an HTTP method (defaults has put it in upper case): a
// registered one, so that a typo such as POTS, which would never match a
// request, is reported with the method meant.
func method(m string) string {
	switch {
	case m == "":
		return "empty HTTP method"
	case slices.Contains(httpMethods, m):
		return ""
	}
	best, dist := "", 3
	for _, k := range httpMethods {
		if d := editDistance(strings.ToUpper(m), k); d < dist && 2*d <= len(m) {
			best, dist = k, d
		}
	}
	if best == "" {
		return fmt.Sprintf("%q is not an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, ...)", m)
	}
	return fmt.Sprintf("%q is not an HTTP method (did you mean %s?)", m, best)
}

// CheckListen checks a listen address (host:port, host optional) as the
// manifest's listen keys are checked, for flags that take one.
func CheckListen(addr string) error {
	if msg := listenAddr(addr); msg != "" {
		return errors.New(msg)
	}
	return nil
}
