package compare

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// excerptContext is the number of unchanged lines shown around a changed
// text hunk.
const excerptContext = 2

// diffResponses appends to out how b differs from a: status, headers,
// body. It reports whether the bodies were compared (both complete).
func (e *Engine) diffResponses(d *differ, a, b *normalized, rs *ruleSet, out *diffList) bool {
	if a.status != b.status {
		out.add(Difference{Kind: KindStatus, Field: "status",
			Primary: strconv.Itoa(a.status), Candidate: strconv.Itoa(b.status)})
	}
	diffHeaders(a.header, b.header, out)
	if !a.complete || !b.complete {
		return false
	}
	e.diffBody(d, a, b, rs, out)
	return true
}

func diffHeaders(a, b []headerField, out *diffList) {
	for i, j := 0, 0; i < len(a) || j < len(b); {
		c := 0
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = strings.Compare(a[i].name, b[j].name)
		}
		switch {
		case c == 0:
			if !slices.Equal(a[i].values, b[j].values) {
				out.add(headerDiff(a[i].name, joinValues(a[i].values, out.excerpt), joinValues(b[j].values, out.excerpt)))
			}
			i, j = i+1, j+1
		case c < 0:
			out.add(headerDiff(a[i].name, joinValues(a[i].values, out.excerpt), Absent))
			i++
		default:
			out.add(headerDiff(b[j].name, Absent, joinValues(b[j].values, out.excerpt)))
			j++
		}
	}
}

func headerDiff(name, p, c string) Difference {
	return Difference{Kind: KindHeader, Path: name, Field: name, Primary: p, Candidate: c}
}

func joinValues(vals []string, limit int) string {
	return cut([]byte(strings.Join(vals, ", ")), limit)
}

// diffBody compares complete bodies: structurally when both are JSON, as
// bytes otherwise.
func (e *Engine) diffBody(d *differ, a, b *normalized, rs *ruleSet, out *diffList) {
	if len(a.body) == 0 && len(b.body) == 0 {
		return
	}
	aJSON := looksJSON(a.body) && d.a.parse(a.body) == nil
	bJSON := looksJSON(b.body) && d.b.parse(b.body) == nil
	switch {
	case aJSON && bJSON:
		d.run(rs.json, rs.tol, out)
	case aJSON || bJSON:
		out.add(bodyDiff(renderBody(a, out.excerpt), renderBody(b, out.excerpt)))
	case !bytes.Equal(a.body, b.body):
		if isText(a) && isText(b) {
			p, c := textExcerpt(a.body, b.body, out.excerpt)
			out.add(bodyDiff(p, c))
			return
		}
		out.add(bodyDiff(renderBody(a, out.excerpt), renderBody(b, out.excerpt)))
	}
}

func bodyDiff(p, c string) Difference {
	return Difference{Kind: KindBody, Field: "body", Primary: p, Candidate: c}
}

// looksJSON is a cheap first test: the first byte that is not space may
// start a JSON value. Bodies are sniffed whatever their Content-Type says:
// many JSON APIs answer text/plain or text/html.
func looksJSON(body []byte) bool {
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	if i == len(body) {
		return false
	}
	return strings.IndexByte(`{["-0123456789tfn`, body[i]) >= 0
}

// isText reports a body to show as lines: a textual media type, or none
// and valid UTF-8 without NUL.
func isText(n *normalized) bool {
	switch ct := n.ctype; {
	case strings.HasPrefix(ct, "text/"), strings.HasSuffix(ct, "+xml"), strings.HasSuffix(ct, "+json"):
		return true
	case ct == "application/json", ct == "application/xml", ct == "application/javascript",
		ct == "application/x-www-form-urlencoded", ct == "application/x-ndjson":
		return true
	case ct == "":
		head := n.body[:min(len(n.body), 1024)]
		return utf8.Valid(head) && bytes.IndexByte(head, 0) < 0
	}
	return false
}

// renderBody renders a whole body briefly: its text cut, or its size.
func renderBody(n *normalized, limit int) string {
	if len(n.body) == 0 {
		return "(empty)"
	}
	if looksJSON(n.body) || isText(n) {
		return cut(n.body, limit)
	}
	return "(binary, " + strconv.Itoa(len(n.body)) + " bytes)"
}

// textExcerpt renders the changed region of two texts as the two halves of
// a unified diff hunk: "@@ -l,n @@" and the primary's lines (" " context,
// "-" changed) / "@@ +l,n @@" and the candidate's ("+" changed). The
// region runs from the first changed line to the last, found from both
// ends in linear time; each half is cut to limit bytes.
func textExcerpt(a, b []byte, limit int) (string, string) {
	pre := commonPrefix(a, b)
	pre = bytes.LastIndexByte(a[:pre], '\n') + 1 // back to a line start
	suf := commonSuffix(a[pre:], b[pre:])
	if !lineStart(a, len(a)-suf) || !lineStart(b, len(b)-suf) {
		// forward to the next line start, the same in both
		if i := bytes.IndexByte(a[len(a)-suf:], '\n'); i >= 0 {
			suf -= i + 1
		} else {
			suf = 0
		}
	}
	line := bytes.Count(a[:pre], []byte("\n")) + 1
	return hunk(a, pre, len(a)-suf, line, '-', limit), hunk(b, pre, len(b)-suf, line, '+', limit)
}

// hunk renders s[from:to] as changed lines with context around them.
func hunk(s []byte, from, to, line int, mark byte, limit int) string {
	before := s[:from]
	ctxStart := from
	for range excerptContext {
		if ctxStart == 0 {
			break
		}
		ctxStart = bytes.LastIndexByte(before[:ctxStart-1], '\n') + 1
	}
	ctxEnd := to
	for range excerptContext {
		if ctxEnd >= len(s) {
			break
		}
		if i := bytes.IndexByte(s[ctxEnd:], '\n'); i >= 0 {
			ctxEnd += i + 1
		} else {
			ctxEnd = len(s)
		}
	}
	first := line - bytes.Count(s[ctxStart:from], []byte("\n"))
	var b strings.Builder
	b.WriteString("@@ ")
	b.WriteByte(mark)
	b.WriteString(strconv.Itoa(first) + "," + strconv.Itoa(countLines(s[ctxStart:ctxEnd])) + " @@\n")
	writeLines(&b, s[ctxStart:from], ' ')
	writeLines(&b, s[from:to], mark)
	writeLines(&b, s[to:ctxEnd], ' ')
	return cut([]byte(strings.TrimSuffix(b.String(), "\n")), limit)
}

func lineStart(s []byte, at int) bool { return at == 0 || s[at-1] == '\n' }

func countLines(s []byte) int {
	n := bytes.Count(s, []byte("\n"))
	if len(s) > 0 && s[len(s)-1] != '\n' {
		n++
	}
	return n
}

func writeLines(b *strings.Builder, s []byte, mark byte) {
	for len(s) > 0 {
		line := s
		if i := bytes.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = nil
		}
		b.WriteByte(mark)
		b.Write(line)
		b.WriteByte('\n')
	}
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}
