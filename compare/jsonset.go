package compare

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strconv"
)

// set diffs two arrays as multisets: elements pair up with an equal one
// (found by hash, confirmed by equal), the rest pair up in order and are
// diffed, and what is left over is present on one side only.
func (d *differ) set(ia, ib int32, st []int32) {
	start := len(d.elems)
	d.elems = d.hashElems(d.elems, &d.a, ia, st)
	mid := len(d.elems)
	d.elems = d.hashElems(d.elems, &d.b, ib, st)
	ea, eb := d.elems[start:mid], d.elems[mid:]
	byHash := func(x, y elem) int { return cmp.Or(cmp.Compare(x.hash, y.hash), cmp.Compare(x.idx, y.idx)) }
	slices.SortFunc(ea, byHash)
	slices.SortFunc(eb, byHash)
	d.matchEqual(ea, eb, st)
	byIdx := func(x, y elem) int { return cmp.Compare(x.idx, y.idx) }
	slices.SortFunc(ea, byIdx)
	slices.SortFunc(eb, byIdx)
	d.pairLeftovers(ea, eb, st)
	d.elems = d.elems[:start]
}

// matchEqual marks the elements that have an equal counterpart.
func (d *differ) matchEqual(ea, eb []elem, st []int32) {
	for i, j := 0, 0; i < len(ea) && j < len(eb) && !d.stop(); {
		switch {
		case ea[i].hash < eb[j].hash:
			i++
		case ea[i].hash > eb[j].hash:
			j++
		default:
			lp, lf := d.pushIndex(ea[i].idx)
			cst, mark := d.enter(st, d.ptr[lp+1:])
			if d.equal(ea[i].node, eb[j].node, cst) {
				ea[i].used, eb[j].used = true, true
				i++
			}
			j++
			d.pop(lp, lf, mark)
		}
	}
}

// pairLeftovers diffs the unmatched elements, in order.
func (d *differ) pairLeftovers(ea, eb []elem, st []int32) {
	i, j := 0, 0
	for !d.stop() {
		for i < len(ea) && ea[i].used {
			i++
		}
		for j < len(eb) && eb[j].used {
			j++
		}
		if i == len(ea) && j == len(eb) {
			return
		}
		var idx int32
		if i < len(ea) {
			idx = ea[i].idx
		} else {
			idx = eb[j].idx
		}
		lp, lf := d.pushIndex(idx)
		cst, mark := d.enter(st, d.ptr[lp+1:])
		switch {
		case i < len(ea) && j < len(eb):
			d.value(ea[i].node, eb[j].node, cst)
			i, j = i+1, j+1
		case i < len(ea):
			d.onlyOne(ea[i].node, -1, cst)
			i++
		default:
			d.onlyOne(-1, eb[j].node, cst)
			j++
		}
		d.pop(lp, lf, mark)
	}
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
