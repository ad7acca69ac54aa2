package state

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Live backends: the backend changes made while instances serve (the admin
// API, `migrate backends`, `migrate deploy`) are kept as an overlay on the
// manifest, one entry per app, side and backend URL, the latest change of
// that backend. The store keeps them apart from the apps' states (a Redis
// hash of their own, an SQLite table), so a backend change never rewrites
// a weight, and Watch's twin, WatchBackends, delivers them. What an
// overlay means for the backends served is the caller's (package serve):
// the live state wins over the manifest until the manifest agrees with it
// (the entry is then retired) or the overlay is reset.

// Ops of a live backend entry.
const (
	// BackendAdded: the backend was added live; it is served whether the
	// manifest lists it or not.
	BackendAdded = "added"
	// BackendDraining: the backend gets no new requests.
	BackendDraining = "draining"
	// BackendRemoved: the backend was removed live; it is not served
	// whether the manifest lists it or not.
	BackendRemoved = "removed"
)

// Sides of a live backend entry (the telemetry package's names).
const (
	SideOld = "old"
	SideNew = "new"
)

// Event kinds of live backend changes: After (add) or Before (drain,
// remove, retire) is "side url".
const (
	KindBackendAdd    = "backend_add"
	KindBackendDrain  = "backend_drain"
	KindBackendRemove = "backend_remove"
	// KindBackendsReset: an app's live backend changes were dropped; the
	// manifest's backends are served again. After is how many.
	KindBackendsReset = "backends_reset"
	// KindBackendRetired: an entry was retired because the manifest now
	// agrees with it.
	KindBackendRetired = "backend_retired"
)

// LiveBackend is one entry of an app's live backend overlay: the latest
// change of the backend at URL on Side.
type LiveBackend struct {
	App  string `json:"app"`
	Side string `json:"side"` // SideOld or SideNew
	URL  string `json:"url"`
	Op   string `json:"op"` // BackendAdded, BackendDraining or BackendRemoved
	// At is when the change was made; the later of two changes of one
	// backend wins when the store was down.
	At     time.Time `json:"at"`
	Actor  string    `json:"actor,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// BackendsChange is the live backend overlay of one app, delivered by
// WatchBackends whole: Backends is empty when the app has none (any more).
type BackendsChange struct {
	App      string
	Backends []LiveBackend
}

// MaxBackendURL is the longest backend URL, in bytes, an entry may carry.
const MaxBackendURL = 2048

// key is the entry's identity within its app: side and URL.
func (e LiveBackend) key() string { return e.Side + "\n" + e.URL }

// validate checks an entry as it is stored.
func (e LiveBackend) validate() error {
	switch {
	case e.App == "":
		return fmt.Errorf("live backend without app: %w", ErrInvalid)
	case e.Side != SideOld && e.Side != SideNew:
		return fmt.Errorf("live backend %s of %s: side %q is not old or new: %w", e.URL, e.App, e.Side, ErrInvalid)
	case e.Op != BackendAdded && e.Op != BackendDraining && e.Op != BackendRemoved:
		return fmt.Errorf("live backend %s of %s: op %q is not added, draining or removed: %w", e.URL, e.App, e.Op, ErrInvalid)
	case e.At.IsZero():
		return fmt.Errorf("live backend %s of %s: no time: %w", e.URL, e.App, ErrInvalid)
	case len(e.Actor) > MaxKind || len(e.Reason) > MaxEventField:
		return fmt.Errorf("live backend %s of %s: actor or reason too long: %w", e.URL, e.App, ErrInvalid)
	}
	return checkBackendURL(e.URL)
}

// checkBackendURL accepts an http:// or https:// URL with a host.
func checkBackendURL(raw string) error {
	if raw == "" || len(raw) > MaxBackendURL {
		return fmt.Errorf("live backend url of %d bytes (1 to %d): %w", len(raw), MaxBackendURL, ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("live backend url %q: %w: %w", raw, ErrInvalid, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("live backend url %q: not http:// or https:// with a host: %w", raw, ErrInvalid)
	}
	return nil
}

// prepare is e as it is stored: At now when zero, at millisecond
// precision, the URL trimmed, the reason cut; an error if it is invalid.
func (e LiveBackend) prepare(now time.Time) (LiveBackend, error) {
	if e.At.IsZero() {
		e.At = now
	}
	e.At = millis(e.At)
	e.URL = strings.TrimSpace(e.URL)
	e.Reason = cut(e.Reason)
	if err := e.validate(); err != nil {
		return LiveBackend{}, fmt.Errorf("recording live backend: %w", err)
	}
	return e, nil
}

// sameLive reports whether a and b are the same entry.
func sameLive(a, b LiveBackend) bool {
	return a.App == b.App && a.Side == b.Side && a.URL == b.URL && a.Op == b.Op &&
		a.At.Equal(b.At) && a.Actor == b.Actor && a.Reason == b.Reason
}

// sameOverlay reports whether a and b, both sorted, hold the same entries.
func sameOverlay(a, b []LiveBackend) bool {
	return slices.EqualFunc(a, b, sameLive)
}

// sortLive sorts an overlay by side, then URL.
func sortLive(es []LiveBackend) {
	slices.SortFunc(es, func(a, b LiveBackend) int {
		return cmp.Or(strings.Compare(a.App, b.App), strings.Compare(a.Side, b.Side), strings.Compare(a.URL, b.URL))
	})
}

// decodeLive decodes a stored entry strictly (unknown fields, trailing
// data and invalid entries are errors that say what is wrong).
func decodeLive(b []byte) (LiveBackend, error) {
	var e LiveBackend
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return LiveBackend{}, fmt.Errorf("decoding live backend: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return LiveBackend{}, errors.New("decoding live backend: data after the JSON object")
	}
	if err := e.validate(); err != nil {
		return LiveBackend{}, fmt.Errorf("decoding live backend: %w", err)
	}
	return e, nil
}

// backendOp is one change of an overlay: set an entry, retire it (delete
// it if it is still that entry), or reset an app (delete its entries,
// those made up to At when the reset was made while the store was down).
type backendOp struct {
	Op    string      `json:"op"` // opSet, opRetire or opReset
	Entry LiveBackend `json:"entry"`
}

const (
	opSet    = "set"
	opRetire = "retire"
	opReset  = "reset"
)

// validate checks an op kept in the local file.
func (o backendOp) validate() error {
	switch o.Op {
	case opSet, opRetire:
		return o.Entry.validate()
	case opReset:
		if o.Entry.App == "" || o.Entry.At.IsZero() {
			return fmt.Errorf("reset of live backends without app or time: %w", ErrInvalid)
		}
		return nil
	}
	return fmt.Errorf("live backend change %q is not set, retire or reset: %w", o.Op, ErrInvalid)
}

// applyTo returns the overlay of an app after o (the entries of o's app).
// It reports whether o changed it.
func (o backendOp) applyTo(cur []LiveBackend) ([]LiveBackend, bool) {
	out := slices.Clone(cur)
	i := slices.IndexFunc(out, func(e LiveBackend) bool { return e.key() == o.Entry.key() })
	switch o.Op {
	case opSet:
		if i >= 0 {
			if sameLive(out[i], o.Entry) {
				return cur, false
			}
			out[i] = o.Entry
		} else {
			out = append(out, o.Entry)
		}
		sortLive(out)
		return out, true
	case opRetire:
		if i < 0 || !sameLive(out[i], o.Entry) {
			return cur, false
		}
		return slices.Delete(out, i, i+1), true
	case opReset:
		out = slices.DeleteFunc(out, func(e LiveBackend) bool { return !e.At.After(o.Entry.At) })
		return out, len(out) != len(cur)
	}
	return cur, false
}
