package compare

import (
	"bytes"
	"hash/maphash"
	"slices"
	"strconv"
)

// Absent is how a Difference renders a value that one side lacks (raw JSON
// text never starts with "(").
const Absent = "(absent)"

// differ walks two parsed JSON documents side by side and records how the
// candidate (b) differs from the primary (a). It decodes nothing it does
// not have to: equal scalars are equal bytes, objects with the same keys
// in the same order pair up without a lookup, and only the differences
// found are rendered. One differ serves one diff at a time; the engine
// pools them.
type differ struct {
	a, b  tape
	rules *jsonRules
	tol   Tolerance
	out   *diffList

	ptr, field []byte   // the current value's JSON Pointer and Field template
	states     []int32  // stack of rule states (see jsonRules.step)
	members    []member // stack of reordered objects' members
	elems      []elem   // stack of set arrays' elements
	scratch    []byte   // decoded strings and number digits

	probe int  // >0: only find out whether the values are equal
	found bool // a difference was found while probing
	seed  maphash.Seed
}

// diffList collects one pair's differences, up to max.
type diffList struct {
	diffs   []Difference
	max     int
	omitted int  // differences past max, counted only
	excerpt int  // bytes of a rendered value
	bare    bool // Kind and Field only: for the noise counters
}

func (l *diffList) add(d Difference) {
	if len(l.diffs) >= l.max {
		l.omitted++
		return
	}
	l.diffs = append(l.diffs, d)
}

// member is an object member of a reordered object.
type member struct {
	key []byte // decoded
	val int32
}

// elem is an element of a set array.
type elem struct {
	hash uint64
	idx  int32 // position in the array
	node int32
	used bool
}

// run diffs the parsed documents d.a and d.b.
func (d *differ) run(rules *jsonRules, tol Tolerance, out *diffList) {
	d.rules, d.tol, d.out = rules, tol, out
	d.ptr, d.field, d.states = d.ptr[:0], d.field[:0], d.states[:0]
	d.members, d.elems, d.probe, d.found = d.members[:0], d.elems[:0], 0, false
	var st []int32
	if !rules.empty() {
		st = rules.start
	}
	d.value(0, 0, st)
}

// stop reports that a probe has its answer.
func (d *differ) stop() bool { return d.probe > 0 && d.found }

func (d *differ) value(ia, ib int32, st []int32) {
	f := d.flags(st)
	if f&flagIgnore != 0 {
		return
	}
	na, nb := &d.a.nodes[ia], &d.b.nodes[ib]
	if typeOf(na.kind) != typeOf(nb.kind) {
		d.record(ia, ib)
		return
	}
	if f&flagAny != 0 {
		return
	}
	switch na.kind {
	case jObject:
		d.object(ia, ib, st)
	case jArray:
		if f&flagSet != 0 {
			d.set(ia, ib, st)
		} else {
			d.array(ia, ib, st)
		}
	case jString:
		if !d.strEqual(ia, ib) {
			d.record(ia, ib)
		}
	case jNumber:
		if !d.numEqual(ia, ib) {
			d.record(ia, ib)
		}
	default:
		if na.kind != nb.kind {
			d.record(ia, ib)
		}
	}
}

func (d *differ) flags(st []int32) ruleFlag {
	if len(st) == 0 {
		return 0
	}
	return d.rules.flags(st)
}

// typeOf is the JSON type of a kind: true and false are one type.
func typeOf(k jkind) jkind {
	if k == jTrue {
		return jFalse
	}
	return k
}

// onlyOne records a value present on one side (the other index is -1),
// unless a rule ignores it.
func (d *differ) onlyOne(ia, ib int32, st []int32) {
	if d.flags(st)&flagIgnore == 0 {
		d.record(ia, ib)
	}
}

func (d *differ) record(ia, ib int32) {
	if d.probe > 0 {
		d.found = true
		return
	}
	if len(d.out.diffs) >= d.out.max {
		d.out.omitted++
		return
	}
	if d.out.bare {
		d.out.add(Difference{Kind: KindJSON, Field: string(d.field)})
		return
	}
	d.out.add(Difference{
		Kind:      KindJSON,
		Path:      string(d.ptr),
		Field:     string(d.field),
		Primary:   renderJSON(&d.a, ia, d.out.excerpt),
		Candidate: renderJSON(&d.b, ib, d.out.excerpt),
	})
}

// enter returns the rule state of the child reached by seg, on d.states,
// and the mark to truncate d.states to when leaving it.
func (d *differ) enter(st []int32, seg []byte) ([]int32, int) {
	mark := len(d.states)
	if len(st) == 0 {
		return nil, mark
	}
	d.states = d.rules.step(d.states, st, seg)
	return d.states[mark:], mark
}

// pushKey appends a key segment to the pointer and the field template.
func (d *differ) pushKey(key []byte) (int, int) {
	lp, lf := len(d.ptr), len(d.field)
	d.ptr = appendSegment(append(d.ptr, '/'), key)
	d.field = append(d.field, d.ptr[lp:]...)
	return lp, lf
}

// pushIndex appends an array index: itself in the pointer, "*" in the
// field template.
func (d *differ) pushIndex(i int32) (int, int) {
	lp, lf := len(d.ptr), len(d.field)
	d.ptr = strconv.AppendInt(append(d.ptr, '/'), int64(i), 10)
	d.field = append(d.field, "/*"...)
	return lp, lf
}

func (d *differ) pop(lp, lf, mark int) {
	d.ptr, d.field, d.states = d.ptr[:lp], d.field[:lf], d.states[:mark]
}

// appendSegment escapes a key for a JSON Pointer (RFC 6901).
func appendSegment(dst, key []byte) []byte {
	if bytes.IndexAny(key, "~/") < 0 {
		return append(dst, key...)
	}
	for _, c := range key {
		switch c {
		case '~':
			dst = append(dst, "~0"...)
		case '/':
			dst = append(dst, "~1"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func (d *differ) array(ia, ib int32, st []int32) {
	na, nb := d.a.nodes[ia].n, d.b.nodes[ib].n
	ca, cb := ia+1, ib+1
	for i := range max(na, nb) {
		lp, lf := d.pushIndex(i)
		cst, mark := d.enter(st, d.ptr[lp+1:])
		switch {
		case i < na && i < nb:
			d.value(ca, cb, cst)
		case i < na:
			d.onlyOne(ca, -1, cst)
		default:
			d.onlyOne(-1, cb, cst)
		}
		if i < na {
			ca = d.a.nodes[ca].next
		}
		if i < nb {
			cb = d.b.nodes[cb].next
		}
		d.pop(lp, lf, mark)
		if d.stop() {
			return
		}
	}
}

func (d *differ) object(ia, ib int32, st []int32) {
	if !d.sameKeys(ia, ib) {
		d.merge(ia, ib, st)
		return
	}
	ka, kb := ia+1, ib+1
	dups := -1 // whether the object repeats a key: 0 no, 1 yes, found out on the first difference
	for i := range d.a.nodes[ia].n {
		mark := len(d.scratch)
		key := d.key(&d.a, ka)
		lp, lf := d.pushKey(key)
		cst, smark := d.enter(st, key)
		d.scratch = d.scratch[:mark]
		before := d.checkpoint()
		d.value(ka+1, kb+1, cst)
		if d.changedSince(before) {
			if dups < 0 {
				dups = d.duplicateKeys(&d.a, ia)
			}
			if dups == 1 && d.a.repeatsLater(ka, i+1, d.a.nodes[ia].n) {
				d.rollback(before) // a later value of the same key wins
			}
		}
		d.pop(lp, lf, smark)
		if d.stop() {
			return
		}
		ka, kb = d.a.nodes[ka+1].next, d.b.nodes[kb+1].next
	}
}

// checkpoint is what record has changed so far.
type checkpoint struct {
	diffs, omitted int
	found          bool
}

func (d *differ) checkpoint() checkpoint {
	return checkpoint{len(d.out.diffs), d.out.omitted, d.found}
}

func (d *differ) changedSince(c checkpoint) bool { return d.checkpoint() != c }

func (d *differ) rollback(c checkpoint) {
	d.out.diffs, d.out.omitted, d.found = d.out.diffs[:c.diffs], c.omitted, c.found
}

// duplicateKeys reports 1 when object i of t repeats a key, 0 otherwise.
func (d *differ) duplicateKeys(t *tape, i int32) int {
	start := len(d.members)
	d.members = d.collect(d.members, t, i)
	defer func() { d.members = d.members[:start] }()
	ms := d.members[start:]
	for k := 1; k < len(ms); k++ {
		if bytes.Equal(ms[k-1].key, ms[k].key) {
			return 1
		}
	}
	return 0
}

// repeatsLater reports that key k, member number i-1 of an object with n
// members, appears again among the members after it.
func (t *tape) repeatsLater(k int32, i, n int32) bool {
	for j := k; i < n; i++ {
		j = t.nodes[j+1].next
		if bytes.Equal(t.strContent(j), t.strContent(k)) {
			return true
		}
		if t.nodes[j].esc || t.nodes[k].esc {
			if bytes.Equal(t.unquote(nil, j), t.unquote(nil, k)) {
				return true
			}
		}
	}
	return false
}

// key is an object key, decoded on d.scratch when it has escapes.
func (d *differ) key(t *tape, k int32) []byte {
	if !t.nodes[k].esc {
		return t.strContent(k)
	}
	mark := len(d.scratch)
	d.scratch = t.unquote(d.scratch, k)
	return d.scratch[mark:]
}

// sameKeys reports that both objects list the same keys in the same order.
func (d *differ) sameKeys(ia, ib int32) bool {
	if d.a.nodes[ia].n != d.b.nodes[ib].n {
		return false
	}
	ka, kb := ia+1, ib+1
	for range d.a.nodes[ia].n {
		if !d.strEqual(ka, kb) {
			return false
		}
		ka, kb = d.a.nodes[ka+1].next, d.b.nodes[kb+1].next
	}
	return true
}

// merge diffs objects whose keys differ or come in another order: both
// member lists sorted by key, then walked together. A repeated key counts
// once, with its last value, as encoding/json decodes it.
func (d *differ) merge(ia, ib int32, st []int32) {
	start := len(d.members)
	d.members = d.collect(d.members, &d.a, ia)
	mid := len(d.members)
	d.members = d.collect(d.members, &d.b, ib)
	ma, mb := d.members[start:mid], d.members[mid:]
	for i, j := 0, 0; i < len(ma) || j < len(mb); {
		i, j = lastOfRun(ma, i), lastOfRun(mb, j)
		c := 0
		switch {
		case i == len(ma):
			c = 1
		case j == len(mb):
			c = -1
		default:
			c = bytes.Compare(ma[i].key, mb[j].key)
		}
		var key []byte
		if c <= 0 {
			key = ma[i].key
		} else {
			key = mb[j].key
		}
		lp, lf := d.pushKey(key)
		cst, mark := d.enter(st, key)
		switch {
		case c == 0:
			d.value(ma[i].val, mb[j].val, cst)
			i, j = i+1, j+1
		case c < 0:
			d.onlyOne(ma[i].val, -1, cst)
			i++
		default:
			d.onlyOne(-1, mb[j].val, cst)
			j++
		}
		d.pop(lp, lf, mark)
		if d.stop() {
			break
		}
	}
	d.members = d.members[:start]
}

// collect appends an object's members sorted by key, stably (the last of
// equal keys stays last).
func (d *differ) collect(dst []member, t *tape, i int32) []member {
	start := len(dst)
	k := i + 1
	for range t.nodes[i].n {
		key := t.strContent(k)
		if t.nodes[k].esc {
			key = t.unquote(nil, k)
		}
		dst = append(dst, member{key: key, val: k + 1})
		k = t.nodes[k+1].next
	}
	slices.SortStableFunc(dst[start:], func(x, y member) int { return bytes.Compare(x.key, y.key) })
	return dst
}

// lastOfRun moves i to the last member with the same key as ms[i].
func lastOfRun(ms []member, i int) int {
	for i+1 < len(ms) && bytes.Equal(ms[i].key, ms[i+1].key) {
		i++
	}
	return i
}

func (d *differ) strEqual(ia, ib int32) bool {
	ca, cb := d.a.strContent(ia), d.b.strContent(ib)
	if bytes.Equal(ca, cb) {
		return true
	}
	if !d.a.nodes[ia].esc && !d.b.nodes[ib].esc {
		return false
	}
	mark := len(d.scratch)
	d.scratch = d.a.unquote(d.scratch, ia)
	mid := len(d.scratch)
	d.scratch = d.b.unquote(d.scratch, ib)
	eq := bytes.Equal(d.scratch[mark:mid], d.scratch[mid:])
	d.scratch = d.scratch[:mark]
	return eq
}

// equal reports whether two values are equal under st's rules, without
// recording anything.
func (d *differ) equal(ia, ib int32, st []int32) bool {
	found := d.found
	d.probe++
	d.found = false
	d.value(ia, ib, st)
	eq := !d.found
	d.probe--
	d.found = found
	return eq
}
