package dnscheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// UDPSize is the EDNS0 buffer size advertised, the DNS flag day 2020 value.
const UDPSize = 1232

// Reasons a server's result is failed (or, for not-authoritative and
// cname-loop, why it is not trusted).
const (
	ReasonTimeout          = "timeout"
	ReasonServfail         = "servfail"
	ReasonRefused          = "refused"
	ReasonRcode            = "rcode" // another error rcode (FORMERR, NOTIMP, ...)
	ReasonIDMismatch       = "id-mismatch"
	ReasonQuestionMismatch = "question-mismatch"
	ReasonMalformed        = "malformed"
	ReasonTruncated        = "truncated" // truncated over UDP and TCP failed
	ReasonNetwork          = "network"   // the connection itself failed
	ReasonNotAuthoritative = "not-authoritative"
	ReasonCNAMELoop        = "cname-loop"
)

// queryError is a failed exchange with its reason.
type queryError struct {
	Reason string
	Err    error
}

func (e *queryError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *queryError) Unwrap() error { return e.Err }

// reasonOf returns the reason of a failed exchange.
func reasonOf(err error) string {
	var qe *queryError
	if errors.As(err, &qe) {
		return qe.Reason
	}
	return ReasonNetwork
}

// exchange is one answered query.
type exchange struct {
	Msg      *dns.Msg
	RTT      time.Duration // of the last attempt, TCP retry included
	Attempts int
	TCP      bool
}

// client sends queries the way a propagation check needs.
type client struct {
	timeout time.Duration
	retries int
	backoff time.Duration
	limits  *Limits
	subnet  netip.Prefix // sent as EDNS client subnet when valid
	do      bool
}

// query asks server for name's records of type qt, with recursion desired
// or not, retrying with backoff after a failed attempt.
func (c *client) query(ctx context.Context, server, name string, qt uint16, rd bool) (exchange, error) {
	var ex exchange
	q := c.message(name, qt, rd)
	for attempt := 0; ; attempt++ {
		r, tcp, err := c.attempt(ctx, server, q, &ex)
		ex.TCP = tcp
		if err == nil {
			ex.Msg = r
			return ex, nil
		}
		if attempt >= c.retries || ctx.Err() != nil {
			return ex, err
		}
		t := time.NewTimer(c.backoff << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return ex, err
		case <-t.C:
		}
		q.Id = dns.Id()
	}
}

// attempt sends q once over UDP, and again over TCP when the UDP answer
// is truncated.
func (c *client) attempt(ctx context.Context, server string, q *dns.Msg, ex *exchange) (*dns.Msg, bool, error) {
	if err := c.limits.Wait(ctx, server); err != nil {
		return nil, false, err
	}
	start := time.Now()
	ex.Attempts++
	r, err := c.udp(ctx, server, q)
	if err != nil || !r.Truncated {
		ex.RTT = time.Since(start)
		return r, false, err
	}
	if err := c.limits.Wait(ctx, server); err != nil {
		return nil, true, err
	}
	r, err = c.tcp(ctx, server, q)
	ex.RTT = time.Since(start)
	if err != nil {
		return nil, true, &queryError{Reason: ReasonTruncated, Err: fmt.Errorf("retrying over tcp after a truncated udp answer: %w", err)}
	}
	return r, true, nil
}

func (c *client) message(name string, qt uint16, rd bool) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qt)
	q.RecursionDesired = rd
	q.SetEdns0(UDPSize, c.do)
	if c.subnet.IsValid() {
		opt := q.IsEdns0()
		e := &dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        1,
			SourceNetmask: uint8(c.subnet.Bits()),
			Address:       c.subnet.Addr().AsSlice(),
		}
		if c.subnet.Addr().Is6() {
			e.Family = 2
		}
		opt.Option = append(opt.Option, e)
	}
	return q
}

// deadline is the end of one attempt: the timeout, or ctx's deadline when
// sooner.
func (c *client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// udp sends q and reads replies until one has q's ID and question. A
// reply that does not is ignored (it may be spoofed or late), and named
// in the error when no good one arrives in time.
func (c *client) udp(ctx context.Context, server string, q *dns.Msg) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return nil, &queryError{Reason: ReasonNetwork, Err: fmt.Errorf("dialing %s: %w", server, err)}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	conn.SetDeadline(c.deadline(ctx))
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("packing query: %w", err)
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, &queryError{Reason: ReasonNetwork, Err: fmt.Errorf("sending to %s: %w", server, err)}
	}
	buf := make([]byte, dns.MaxMsgSize)
	var bad string
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, readError(ctx, server, bad, err)
		}
		r, reason := checkReply(q, buf[:n])
		if reason == "" {
			return r, nil
		}
		bad = reason
	}
}

// tcp sends q over TCP and reads one reply.
func (c *client) tcp(ctx context.Context, server string, q *dns.Msg) (*dns.Msg, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, &queryError{Reason: ReasonNetwork, Err: fmt.Errorf("dialing %s: %w", server, err)}
	}
	conn := &dns.Conn{Conn: nc}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(c.deadline(ctx))
	if err := conn.WriteMsg(q); err != nil {
		return nil, &queryError{Reason: ReasonNetwork, Err: fmt.Errorf("sending to %s over tcp: %w", server, err)}
	}
	wire, err := conn.ReadMsgHeader(nil)
	if err != nil {
		return nil, readError(ctx, server, "", err)
	}
	r, reason := checkReply(q, wire)
	if reason != "" {
		return nil, &queryError{Reason: reason, Err: fmt.Errorf("reading tcp reply of %s: %s", server, reason)}
	}
	return r, nil
}

// readError names a failed read: the bad replies seen before the deadline
// when there were some, else a timeout or a network error.
func readError(ctx context.Context, server, bad string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	switch {
	case bad != "":
		return &queryError{Reason: bad, Err: fmt.Errorf("no valid reply from %s: only replies with a bad %s", server, strings.TrimSuffix(bad, "-mismatch"))}
	case timeout:
		return &queryError{Reason: ReasonTimeout, Err: fmt.Errorf("waiting for %s: %w", server, err)}
	}
	return &queryError{Reason: ReasonNetwork, Err: fmt.Errorf("reading from %s: %w", server, err)}
}

// checkReply unpacks wire and checks it answers q; it returns the reason
// when it does not. A truncated reply whose sections do not unpack still
// counts (with its header only) so that the caller retries over TCP.
func checkReply(q *dns.Msg, wire []byte) (*dns.Msg, string) {
	r := new(dns.Msg)
	if err := r.Unpack(wire); err != nil {
		if len(wire) >= 12 && binary.BigEndian.Uint16(wire) == q.Id && wire[2]&0x02 != 0 {
			r = &dns.Msg{MsgHdr: dns.MsgHdr{Id: q.Id, Response: true, Truncated: true}}
			return r, ""
		}
		return nil, ReasonMalformed
	}
	if r.Id != q.Id {
		return nil, ReasonIDMismatch
	}
	if !r.Response {
		return nil, ReasonMalformed
	}
	if r.Truncated && len(r.Question) == 0 {
		return r, ""
	}
	if len(r.Question) != 1 || !sameQuestion(q.Question[0], r.Question[0]) {
		return nil, ReasonQuestionMismatch
	}
	return r, ""
}

func sameQuestion(a, b dns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
