package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// numEqual compares two numbers by value: 1, 1.0, 10e-1 and 1e0 are
// equal at any precision (decimal digits and exponent, never a float),
// then within the tolerance if there is one.
func (d *differ) numEqual(ia, ib int32) bool {
	ra, rb := d.a.raw(ia), d.b.raw(ib)
	if bytes.Equal(ra, rb) {
		return true
	}
	mark := len(d.scratch)
	var na, nb decimal
	d.scratch, na = appendDecimal(d.scratch, ra)
	mid := len(d.scratch)
	d.scratch, nb = appendDecimal(d.scratch, rb)
	eq := na.neg == nb.neg && na.exp == nb.exp && bytes.Equal(d.scratch[mark:mid], d.scratch[mid:])
	d.scratch = d.scratch[:mark]
	return eq || d.withinTolerance(ra, rb)
}

func (d *differ) withinTolerance(ra, rb []byte) bool {
	if d.tol.zero() {
		return false
	}
	fa, errA := strconv.ParseFloat(string(ra), 64)
	fb, errB := strconv.ParseFloat(string(rb), 64)
	if errA != nil || errB != nil {
		return false
	}
	delta := math.Abs(fa - fb)
	return delta <= d.tol.Absolute || delta <= d.tol.Relative*max(math.Abs(fa), math.Abs(fb))
}

// decimal is a number as ±0.DIGITS×10^exp with no leading or trailing
// zero digit (zero has no digits and is never negative); its digits are
// kept apart, on a buffer.
type decimal struct {
	neg bool
	exp int64
}

// maxExp bounds exponents: beyond it they saturate, far past any
// double and any sane document.
const maxExp = 1 << 50

// appendDecimal appends the significant digits of the valid JSON number
// raw to buf.
func appendDecimal(buf, raw []byte) ([]byte, decimal) {
	var n decimal
	i := 0
	if raw[0] == '-' {
		n.neg, i = true, 1
	}
	start := len(buf)
	j := digits(raw, i)
	buf = append(buf, raw[i:j]...)
	pointAt := int64(len(buf) - start) // digits before the point
	if j < len(raw) && raw[j] == '.' {
		k := digits(raw, j+1)
		buf = append(buf, raw[j+1:k]...)
		j = k
	}
	n.exp = pointAt + exponent(raw[j:])
	lead := 0
	for start+lead < len(buf) && buf[start+lead] == '0' {
		lead++
	}
	if start+lead == len(buf) {
		return buf[:start], decimal{}
	}
	n.exp -= int64(lead)
	buf = append(buf[:start], buf[start+lead:]...)
	for buf[len(buf)-1] == '0' {
		buf = buf[:len(buf)-1]
	}
	return buf, n
}

// exponent parses "e+12" (or nothing) with saturation.
func exponent(s []byte) int64 {
	if len(s) == 0 {
		return 0
	}
	s = s[1:]
	neg := s[0] == '-'
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	var e int64
	for _, c := range s {
		if e < maxExp {
			e = e*10 + int64(c-'0')
		}
	}
	if neg {
		return -e
	}
	return e
}

// renderJSON renders value i of t for a Difference: compact, cut to limit
// bytes; Absent for i < 0.
func renderJSON(t *tape, i int32, limit int) string {
	if i < 0 {
		return Absent
	}
	raw := t.raw(i)
	if k := t.nodes[i].kind; (k == jObject || k == jArray) && len(raw) <= 1<<16 {
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			raw = b.Bytes()
		}
	}
	return cut(raw, limit)
}

// cut returns s cut to at most limit bytes on a rune boundary, marked
// with "…" when cut.
func cut(s []byte, limit int) string {
	if len(s) <= limit {
		return string(s)
	}
	n := limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return string(s[:n]) + "…"
}
