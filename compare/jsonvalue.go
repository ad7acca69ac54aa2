package compare

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
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

// hashElems appends the elements of array i of t with their hashes.
func (d *differ) hashElems(dst []elem, t *tape, i int32, st []int32) []elem {
	c := i + 1
	for k := range t.nodes[i].n {
		cst, mark := d.enterIndex(st, k)
		dst = append(dst, elem{hash: d.hash(t, c, cst), idx: k, node: c})
		d.states = d.states[:mark]
		c = t.nodes[c].next
	}
	return dst
}

// enterIndex is enter for an array index, without touching the pointer.
func (d *differ) enterIndex(st []int32, k int32) ([]int32, int) {
	if len(st) == 0 {
		return nil, len(d.states)
	}
	mark := len(d.scratch)
	d.scratch = strconv.AppendInt(d.scratch, int64(k), 10)
	cst, smark := d.enter(st, d.scratch[mark:])
	d.scratch = d.scratch[:mark]
	return cst, smark
}

// hash is a hash of value i of t consistent with equal: equal values (key
// order, number spelling, string escapes, ignored and any-value parts
// aside) hash alike.
func (d *differ) hash(t *tape, i int32, st []int32) uint64 {
	f := d.flags(st)
	if f&flagIgnore != 0 {
		return 0
	}
	n := &t.nodes[i]
	h := mix(uint64(typeOf(n.kind)))
	if f&flagAny != 0 {
		return h
	}
	switch n.kind {
	case jTrue:
		return mix(h + 1)
	case jNumber:
		mark := len(d.scratch)
		var dec decimal
		d.scratch, dec = appendDecimal(d.scratch, t.raw(i))
		h ^= maphash.Bytes(d.seed, d.scratch[mark:]) ^ mix(uint64(dec.exp))
		if dec.neg {
			h = ^h
		}
		d.scratch = d.scratch[:mark]
	case jString:
		mark := len(d.scratch)
		d.scratch = t.unquote(d.scratch, i)
		h ^= maphash.Bytes(d.seed, d.scratch[mark:])
		d.scratch = d.scratch[:mark]
	case jArray:
		h = d.hashArray(t, i, st, f&flagSet != 0)
	case jObject:
		h = d.hashObject(t, i, st)
	}
	return mix(h)
}

func (d *differ) hashArray(t *tape, i int32, st []int32, set bool) uint64 {
	h := mix(uint64(jArray))
	c := i + 1
	for k := range t.nodes[i].n {
		cst, mark := d.enterIndex(st, k)
		eh := d.hash(t, c, cst)
		d.states = d.states[:mark]
		if set {
			h += mix(eh)
		} else {
			h = mix(h*31 + eh)
		}
		c = t.nodes[c].next
	}
	return h
}

func (d *differ) hashObject(t *tape, i int32, st []int32) uint64 {
	h := mix(uint64(jObject))
	k := i + 1
	for range t.nodes[i].n {
		mark := len(d.scratch)
		key := d.key(t, k)
		kh := maphash.Bytes(d.seed, key)
		cst, smark := d.enter(st, key)
		d.scratch = d.scratch[:mark]
		if d.flags(cst)&flagIgnore == 0 {
			h += mix(kh ^ d.hash(t, k+1, cst)*0x9e3779b97f4a7c15)
		}
		d.states = d.states[:smark]
		k = t.nodes[k+1].next
	}
	return h
}

// mix is the SplitMix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
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
