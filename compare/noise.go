package compare

import (
	"hash/maphash"
	"slices"
	"sync"
)

// noiseJudge decides which differing fields are noise rather than
// regressions, from an endpoint's counters.
//
// With a secondary (a second instance of the primary's side), it follows
// Diffy (twitter/diffy, analysis/JoinedDifferences.scala): per endpoint
// and field, raw counts the pairs where primary and candidate differed,
// noise those where primary and secondary did, total the pairs compared.
// When the secondary is an instance of the candidate's side (a pair served
// by new, with a second old), noise counts where candidate and secondary
// differed: two instances of one side either way.
// A field is a real difference only when
//
//	raw > noise
//	&& (raw-noise)/(raw+noise) > relative   (default 0.20)
//	&& (raw-noise)/total       > absolute   (default 0.0003)
//
// and noise otherwise: a timestamp that differs between any two answers
// has raw ≈ noise and is noise; a changed price has noise = 0 and is not.
// (Diffy states its thresholds in percent, 20 and 0.03; these are
// fractions.) The rule applies on endpoints that have had at least one
// pair with a secondary; elsewhere there is no noise to measure.
//
// Without a secondary, a field can be flaky: when FlakyShare is set, the
// engine remembers the primary's last answer to each identical request
// (method, path, query and body; a bounded memory) and diffs the next
// answer against it. A field that differed in more than FlakyShare of
// those repeats is noise.
type noiseJudge struct {
	relative, absolute, flaky float64
}

func (j noiseJudge) significant(raw, noise, total uint64) bool {
	if raw <= noise || total == 0 {
		return false
	}
	delta := float64(raw - noise)
	return delta/float64(raw+noise) > j.relative && delta/float64(total) > j.absolute
}

// isNoise judges field f of an endpoint that has compared total pairs,
// noisePairs of them with a secondary and repeats with a remembered answer.
func (j noiseJudge) isNoise(f *fieldCounts, total, noisePairs, repeats uint64) bool {
	if noisePairs > 0 && !j.significant(f.raw, f.noise, total) {
		return true
	}
	return j.flaky > 0 && repeats > 0 && float64(f.repeat)/float64(repeats) > j.flaky
}

// noiseRate is what FieldStats reports as NoiseRate.
func noiseRate(f *fieldCounts, total, noisePairs, repeats uint64) float64 {
	switch {
	case noisePairs > 0 && total > 0:
		return float64(f.noise) / float64(total)
	case repeats > 0:
		return float64(f.repeat) / float64(repeats)
	}
	return 0
}

// Bounds of the repeat memory: entries, and the largest body remembered.
const (
	repeatEntries = 256
	repeatMaxBody = 64 << 10
)

// repeatMemory remembers the primary's last normalised answer per request,
// for flaky-field detection: a fixed ring of entries, the oldest replaced.
type repeatMemory struct {
	seed  maphash.Seed
	mu    sync.Mutex
	index map[uint64]int
	slots []repeatSlot
	next  int
}

type repeatSlot struct {
	key  uint64
	resp normalized
}

func newRepeatMemory() *repeatMemory {
	return &repeatMemory{seed: maphash.MakeSeed(), index: make(map[uint64]int)}
}

// key identifies a request: app, direction (whose side the remembered
// primary answer is), method, path, query and body.
func (m *repeatMemory) key(app string, dir Direction, r *Request) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	for _, s := range []string{app, string(dir), r.Method, r.Path, r.RawQuery} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.Write(r.Body)
	return h.Sum64()
}

// swap stores resp as the answer to key and returns the previous one.
// Complete bodies over repeatMaxBody are not remembered.
func (m *repeatMemory) swap(key uint64, resp *normalized) (normalized, bool) {
	keep := *resp
	if keep.complete && len(keep.body) > repeatMaxBody {
		keep.complete, keep.body = false, nil
	}
	keep.body = slices.Clone(keep.body) // the pair's buffers are the caller's
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.index[key]; ok {
		prev := m.slots[i].resp
		m.slots[i].resp = keep
		return prev, true
	}
	if len(m.slots) < repeatEntries {
		m.slots = append(m.slots, repeatSlot{})
	} else {
		delete(m.index, m.slots[m.next].key)
	}
	m.slots[m.next] = repeatSlot{key: key, resp: keep}
	m.index[key] = m.next
	m.next = (m.next + 1) % repeatEntries
	return normalized{}, false
}
