package telemetry

import "net"

// packetSender is a statsd.Sender that batches lines into UDP packets of at
// most max bytes and sends them when a packet is full or on Flush. Unlike
// the library's buffered sender it has no lock and no goroutine of its own:
// the mirror's single goroutine is its only user, and the mirror's clock
// decides when packets leave.
type packetSender struct {
	conn  net.Conn
	buf   []byte
	max   int
	onErr func(error)
}

func newPacketSender(addr string, max int, onErr func(error)) (*packetSender, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	return &packetSender{conn: conn, buf: make([]byte, 0, max), max: max, onErr: onErr}, nil
}

// Send adds one line to the current packet, sending the packet first if the
// line would not fit. A line longer than max goes alone.
func (p *packetSender) Send(line []byte) (int, error) {
	if len(p.buf) > 0 && len(p.buf)+1+len(line) > p.max {
		p.Flush()
	}
	if len(p.buf) > 0 {
		p.buf = append(p.buf, '\n')
	}
	p.buf = append(p.buf, line...)
	return len(line), nil
}

// Flush sends the current packet, if any.
func (p *packetSender) Flush() {
	if len(p.buf) == 0 {
		return
	}
	if _, err := p.conn.Write(p.buf); err != nil && p.onErr != nil {
		p.onErr(err)
	}
	p.buf = p.buf[:0]
}

// Close sends the current packet and closes the socket.
func (p *packetSender) Close() error {
	p.Flush()
	return p.conn.Close()
}
