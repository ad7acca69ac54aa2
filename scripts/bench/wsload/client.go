package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// handshake is the upgrade request: a fixed key (the backend does not
// care which) and its RFC 6455 answer.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// wsConn is an upgraded client connection with its frame buffers.
type wsConn struct {
	c     net.Conn
	br    *bufio.Reader
	frame []byte // the masked frame sent
	size  int    // its payload bytes
	got   []byte // the echo's payload
}

// dial connects to cfg.target and upgrades the connection.
func dial(cfg config) (*wsConn, error) {
	c, err := net.DialTimeout("tcp", cfg.target, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(cfg.duration + 30*time.Second))
	req := "GET /ws HTTP/1.1\r\nHost: " + cfg.host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	if err := readSwitch(br); err != nil {
		c.Close()
		return nil, err
	}
	return &wsConn{c: c, br: br, frame: maskedFrame(0x2, cfg.size), size: cfg.size, got: make([]byte, cfg.size)}, nil
}

// readSwitch reads the answer head and checks it is the switch.
func readSwitch(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		return fmt.Errorf("answer %q, want 101", strings.TrimSpace(status))
	}
	accepted := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Sec-WebSocket-Accept") && strings.TrimSpace(value) == wsAccept {
			accepted = true
		}
	}
	if !accepted {
		return errors.New("101 without the right Sec-WebSocket-Accept")
	}
	return nil
}

// maskedFrame is a final client frame of opcode op with n payload bytes,
// masked (RFC 6455 5.2, 5.3).
func maskedFrame(op byte, n int) []byte {
	var f []byte
	f = append(f, 0x80|op)
	switch {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	f = append(f, mask[:]...)
	for i := range n {
		f = append(f, byte('a'+i%26)^mask[i%4])
	}
	return f
}

// roundTrip sends the message and reads its echo.
func (w *wsConn) roundTrip() error {
	if _, err := w.c.Write(w.frame); err != nil {
		return err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(w.br, hdr[:]); err != nil {
		return err
	}
	n := int(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(w.br, ext[:]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(w.br, ext[:]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint64(ext[:]))
	}
	if hdr[0] != 0x82 || n != w.size {
		return fmt.Errorf("echo frame %#x of %d bytes, want 0x82 of %d", hdr[0], n, w.size)
	}
	if _, err := io.ReadFull(w.br, w.got); err != nil {
		return err
	}
	if w.got[0] != 'a' || w.got[n-1] != byte('a'+(n-1)%26) {
		return errors.New("echo payload differs")
	}
	return nil
}

// closeFrame is a client's masked close frame, status 1000.
var closeFrame = func() []byte {
	f := []byte{0x88, 0x80 | 2, 0, 0, 0, 0}
	return binary.BigEndian.AppendUint16(f, 1000)
}()

// sendClose sends a close frame.
func (w *wsConn) sendClose() error {
	_, err := w.c.Write(bytes.Clone(closeFrame))
	return err
}

func (w *wsConn) close() { w.c.Close() }
