package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// errNotLoopback is returned when a connection's peer is not on loopback
// (a localhost that resolves elsewhere).
var errNotLoopback = errors.New("peer is not a loopback address")

// clientConn is one keep-alive HTTP/1.1 connection owned by one worker:
// it writes the same GET request each time and reads the whole answer.
type clientConn struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

// maxSources is how many connections sourceAddr has an address for.
const maxSources = 250 * 256

// sourceAddr is the source address of connection i (below maxSources) when
// each has its own: 127.1.0.1 to 127.1.0.250, then 127.1.1.1 and on. Every
// address of 127.0.0.0/8 is on the loopback interface.
func sourceAddr(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 1, byte(i/250), byte(i%250+1))}
}

// dial connects to t.Addr from the address from (nil: any), giving up at
// deadline.
func dial(t Target, from *net.TCPAddr, deadline time.Time) (*clientConn, error) {
	d := net.Dialer{Deadline: deadline}
	if from != nil {
		d.LocalAddr = from
	}
	c, err := d.Dial("tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("dialling %s: %w", t.Addr, err)
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		_ = c.Close()
		return nil, fmt.Errorf("dialling %s: %w", t.Addr, errNotLoopback)
	}
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: migrate-pace\r\nAccept: */*\r\n\r\n", t.Path, t.Host)
	return &clientConn{conn: c, r: bufio.NewReaderSize(c, 16<<10), req: req}, nil
}

// get sends the request and reads the whole answer by deadline; it returns
// the status code and whether the connection can carry another request.
func (c *clientConn) get(deadline time.Time) (code int, keep bool, err error) {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return 0, false, fmt.Errorf("setting deadline: %w", err)
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, false, fmt.Errorf("writing request: %w", err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, false, fmt.Errorf("reading response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return resp.StatusCode, false, fmt.Errorf("reading response body: %w", err)
	}
	return resp.StatusCode, !resp.Close, nil
}

// close closes the connection.
func (c *clientConn) close() {
	_ = c.conn.Close()
}
