package main

import (
	"bytes"
	"errors"
	"fmt"
)

// Errors of the request-head parser; each maps to the status the client gets.
var (
	errBadRequest  = errors.New("malformed request head")                        // 400
	errUnsupported = errors.New("request body with a transfer-encoding refused") // 501
)

// requestHead is what the proxy needs from a parsed request head.
type requestHead struct {
	headLen       int   // bytes of the head, the blank line included; 0: incomplete
	contentLength int64 // body length (0 without a Content-Length)
	isHead        bool  // method HEAD: the answer has no body
	close         bool  // Connection: close, or HTTP/1.0: close after answering
}

// responseHead is what the proxy needs from a parsed response head.
type responseHead struct {
	headLen       int   // bytes of the head, the blank line included; 0: incomplete
	status        int   // status code
	contentLength int64 // -1 when absent
	chunked       bool  // Transfer-Encoding ends with chunked
	otherCoding   bool  // a Transfer-Encoding that does not end with chunked
	close         bool  // the backend closes the connection after this answer
}

var crlf2 = []byte("\r\n\r\n")

// headEnd is the length of the head at the start of p (up to and with the
// blank line), or 0 when p has no blank line yet.
func headEnd(p []byte) int {
	i := bytes.Index(p, crlf2)
	if i < 0 {
		return 0
	}
	return i + 4
}

// parseRequestHead parses the HTTP/1.x request head at the start of p in
// place. A zero headLen and a nil error mean the head is not complete yet.
func parseRequestHead(p []byte) (requestHead, error) {
	var h requestHead
	n := headEnd(p)
	if n == 0 {
		return h, nil
	}
	line, rest := nextLine(p[:n])
	http10, isHead, err := parseRequestLine(line)
	if err != nil {
		return h, err
	}
	h.headLen, h.isHead, h.close = n, isHead, http10
	sawLength := false
	err = eachHeader(rest, func(name, value []byte) error {
		switch {
		case equalFold(name, "Content-Length"):
			v, err := parseLength(value)
			if err != nil || (sawLength && v != h.contentLength) {
				return errBadRequest
			}
			h.contentLength, sawLength = v, true
		case equalFold(name, "Transfer-Encoding"):
			return errUnsupported
		case equalFold(name, "Connection"):
			if hasToken(value, "close") {
				h.close = true
			}
		}
		return nil
	})
	if err != nil {
		return requestHead{}, err
	}
	return h, nil
}

// parseRequestLine checks "METHOD SP target SP HTTP/1.x".
func parseRequestLine(line []byte) (http10, isHead bool, err error) {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !isToken(method) {
		return false, false, errBadRequest
	}
	target, version, ok := bytes.Cut(rest, []byte(" "))
	if !ok || len(target) == 0 || !isTargetText(target) {
		return false, false, errBadRequest
	}
	switch string(version) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return false, false, errBadRequest
	}
	return http10, string(method) == "HEAD", nil
}

// parseResponseHead parses the HTTP/1.x response head at the start of p in
// place. A zero headLen and a nil error mean the head is not complete yet.
func parseResponseHead(p []byte) (responseHead, error) {
	h := responseHead{contentLength: -1}
	n := headEnd(p)
	if n == 0 {
		return h, nil
	}
	line, rest := nextLine(p[:n])
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) ||
		(line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return h, fmt.Errorf("parsing status line %q: malformed", line)
	}
	h.close = line[7] == '0'
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return h, fmt.Errorf("parsing status line %q: malformed code", line)
		}
		h.status = h.status*10 + int(c-'0')
	}
	h.headLen = n
	err := eachHeader(rest, func(name, value []byte) error {
		return h.header(name, value)
	})
	if err != nil {
		return responseHead{}, err
	}
	return h, nil
}

// header records one response header.
func (h *responseHead) header(name, value []byte) error {
	switch {
	case equalFold(name, "Content-Length"):
		v, err := parseLength(value)
		if err != nil || (h.contentLength >= 0 && v != h.contentLength) {
			return fmt.Errorf("parsing Content-Length %q: not one length", value)
		}
		h.contentLength = v
	case equalFold(name, "Transfer-Encoding"):
		h.chunked = lastTokenIs(value, "chunked")
		h.otherCoding = !h.chunked
	case equalFold(name, "Connection"):
		if hasToken(value, "close") {
			h.close = true
		} else if hasToken(value, "keep-alive") {
			h.close = false
		}
	}
	return nil
}

// nextLine splits p after its first CRLF; line has no CRLF.
func nextLine(p []byte) (line, rest []byte) {
	i := bytes.Index(p, []byte("\r\n"))
	return p[:i], p[i+2:]
}

// eachHeader calls fn with the name and trimmed value of every header line
// of p (header lines each ending in CRLF, then the blank line), and stops at
// the first error. Folded lines, bare CR or LF and bad names are errors.
func eachHeader(p []byte, fn func(name, value []byte) error) error {
	for {
		line, rest := nextLine(p)
		if len(line) == 0 {
			return nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) || !isFieldValue(value) {
			return errBadRequest
		}
		if err := fn(name, bytes.Trim(value, " \t")); err != nil {
			return err
		}
		p = rest
	}
}

// parseLength parses a Content-Length value: 1 to 18 decimal digits.
func parseLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, errBadRequest
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errBadRequest
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}
