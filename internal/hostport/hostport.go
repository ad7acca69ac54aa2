// Package hostport holds the host:port helpers shared by lb, fallback and
// the bench tools.
package hostport

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Of is u's host with its port, the scheme's default (443 for https, else
// 80) if none.
func Of(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// Check accepts host:port with a host and a numeric port from 1 to 65535.
func Check(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}
