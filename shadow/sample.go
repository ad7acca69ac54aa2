package shadow

import (
	"net/http"
	"strings"

	"github.com/migratekit/migrate/lb"
)

// Sampling is sticky by client: the key is the one the split uses (the
// client IP, or the sticky cookie, including one the proxy has just minted
// on this response), so a session is mirrored whole. The key is hashed
// with a salt: with the split's own point, a sample of s% would be exactly
// the clients the split sends to new first, and a weight of s% would leave
// nothing on old to mirror.

// sampleSalt makes the sample independent of the split.
const sampleSalt = "migrate-shadow-sample\x00"

// sampled reports whether r's client is in the sample.
func (m *Mirror) sampled(w http.ResponseWriter, r *http.Request) bool {
	switch m.sample {
	case lb.PointScale:
		return true
	case 0:
		return false
	}
	var minted string
	if m.cookie != "" && w != nil {
		if v, ok := mintedCookie(w.Header(), m.cookie); ok {
			minted = v
		}
	}
	var buf [64]byte
	return samplePoint(lb.AppendStickyKey(buf[:0], r, m.cookie, minted, m.trusted)) < m.sample
}

// Leaves implements lb.Sampler, for lb's event loops: it reports whether
// Serve would serve a request of a client served by side, with sticky key
// key (as sampled takes it), without mirroring it, and counts it as not
// sampled when Serve would. The loops serve such requests themselves and
// pass the others, with their connection, to Serve (or BeginPrimary).
func (m *Mirror) Leaves(side string, key []byte) bool {
	if m == nil || m.stopped.Load() {
		return true
	}
	f := m.flow(side)
	if f == nil {
		return true
	}
	switch {
	case m.sample == lb.PointScale:
		return false
	case m.sample > 0 && samplePoint(key) < m.sample:
		return false
	}
	m.tel.NotSampled(f.label)
	return true
}

// Marker implements lb.Sampler: only the mirror sets Header, so a request
// that carries it goes to Serve, which drops it.
func (m *Mirror) Marker() string { return Header }

// mintedCookie finds the sticky cookie the proxy set on this response.
func mintedCookie(h http.Header, name string) (string, bool) {
	for _, c := range h["Set-Cookie"] {
		if len(c) > len(name) && c[len(name)] == '=' && strings.HasPrefix(c, name) {
			v, _, _ := strings.Cut(c[len(name)+1:], ";")
			return v, lb.ValidStickyValue(v)
		}
	}
	return "", false
}

// samplePoint is the point of a client key in the sample: the split's
// hash (lb.SaltedPoint), salted.
func samplePoint[K string | []byte](key K) int { return lb.SaltedPoint(sampleSalt, key) }

var _ lb.Sampler = (*Mirror)(nil)
