package compare

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Rules relax the comparison: what is not compared, and how.
//
// JSON patterns are JSON Pointers (RFC 6901, "~1" for "/" and "~0" for "~"
// inside a key) in which a segment "*" matches any one key or array index
// and a segment "**" matches any number of segments, none included:
// "/meta/generated_at", "/items/*/etag", "/**/updated_at".
type Rules struct {
	// IgnoreHeaders are response header names not compared, on top of
	// DefaultIgnoredHeaders.
	IgnoreHeaders []string
	// Ignore are JSON patterns of values not compared at all: present on
	// one side only, or different, they are no difference.
	Ignore []string
	// Any are JSON patterns of values that must be present on both sides
	// with the same JSON type (string, number, boolean, null, array,
	// object), whatever their value.
	Any []string
	// Sets are JSON patterns of arrays compared as multisets: order does
	// not matter, repeated elements do. Elements that find no equal
	// counterpart are paired in order and diffed, so a changed field
	// inside a moved element is still named.
	Sets []string
	// Tolerance lets numbers differ a little (exact when zero). A route's
	// or an app's non-zero Tolerance replaces the one above it.
	Tolerance Tolerance
}

// Tolerance is how far two numbers may be apart and still be equal: at
// most Absolute apart, or at most Relative times the larger magnitude.
// Numbers inside set arrays must be exactly equal to pair up; once paired,
// their leftover elements are diffed with the tolerance.
type Tolerance struct {
	Absolute float64
	Relative float64
}

func (t Tolerance) zero() bool { return t.Absolute == 0 && t.Relative == 0 }

// Route is an endpoint template ("/users/:id") and the rules that apply to
// its pairs on top of the app's.
type Route struct {
	Pattern string
	Rules
}

// AppRules are one app's rules, on top of the Config's, and its routes,
// tried before the Config's.
type AppRules struct {
	Rules
	Routes []Route
}

// DefaultIgnoredHeaders are the response headers that differ between any
// two stacks or any two responses without saying anything about the
// answer: times, request ids, server and cache identities, and
// Content-Length (the body is compared, decoded). ETag and Last-Modified
// are in: each stack derives them from its own files and deploy times.
// Set-Cookie is not: cookies are compared by name and attributes, with
// the value (a session id, new on every response) and Expires masked.
// Hop-by-hop and per-connection headers (Connection and the headers it
// names, Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Proxy-*)
// are always dropped and are not listed here.
var DefaultIgnoredHeaders = []string{
	"Age", "Cf-Ray", "Content-Length", "Date", "ETag", "Expires",
	"Last-Modified", "Server", "Server-Timing", "Via", "X-Amz-Cf-Id",
	"X-Amzn-Trace-Id", "X-Cache", "X-Cache-Hits", "X-Correlation-Id",
	"X-Powered-By", "X-Request-Id", "X-Runtime", "X-Served-By", "X-Timer",
	"X-Trace-Id",
}

// ruleFlag is what a JSON rule does to the values its pattern matches.
type ruleFlag uint8

const (
	flagIgnore ruleFlag = 1 << iota
	flagAny
	flagSet
)

// ruleSet is the compiled rules for one app or route.
type ruleSet struct {
	headers map[string]bool // canonical names not compared
	json    *jsonRules
	tol     Tolerance
}

// newRuleSet compiles the layers of rules, outermost first.
func newRuleSet(layers ...*Rules) (*ruleSet, error) {
	rs := &ruleSet{headers: make(map[string]bool), json: newJSONRules()}
	for _, h := range DefaultIgnoredHeaders {
		rs.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, r := range layers {
		if err := rs.add(r); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func (rs *ruleSet) add(r *Rules) error {
	for _, h := range r.IgnoreHeaders {
		if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, " :\t") {
			return fmt.Errorf("parsing ignored header %q: not a header name", h)
		}
		rs.headers[http.CanonicalHeaderKey(h)] = true
	}
	lists := []struct {
		patterns []string
		flag     ruleFlag
	}{{r.Ignore, flagIgnore}, {r.Any, flagAny}, {r.Sets, flagSet}}
	for _, l := range lists {
		for _, p := range l.patterns {
			if err := rs.json.add(p, l.flag); err != nil {
				return err
			}
		}
	}
	if !r.Tolerance.zero() {
		if r.Tolerance.Absolute < 0 || r.Tolerance.Relative < 0 {
			return fmt.Errorf("checking tolerance %+v: negative", r.Tolerance)
		}
		rs.tol = r.Tolerance
	}
	return nil
}

// jsonRules is a trie of JSON patterns, walked alongside the documents:
// the state at a value is the set of trie nodes its pointer reaches.
type jsonRules struct {
	nodes []trieNode
	start []int32 // the root's state
}

type trieNode struct {
	lit   map[string]int32 // literal segment to child
	star  int32            // child for "*", -1 if none
	dstar int32            // child for "**", -1 if none
	loop  bool             // a "**" node: stays put on any segment
	flags ruleFlag
}

func newJSONRules() *jsonRules {
	return &jsonRules{nodes: []trieNode{{star: -1, dstar: -1}}}
}

// add inserts one pattern.
func (r *jsonRules) add(pattern string, f ruleFlag) error {
	segs, err := splitPattern(pattern)
	if err != nil {
		return fmt.Errorf("parsing JSON pattern %q: %w", pattern, err)
	}
	cur := int32(0)
	for _, s := range segs {
		cur = r.child(cur, s)
	}
	r.nodes[cur].flags |= f
	r.start = r.addState(nil, 0, 0)
	return nil
}

func (r *jsonRules) child(at int32, seg string) int32 {
	n := &r.nodes[at]
	var slot *int32
	switch seg {
	case "*":
		slot = &n.star
	case "**":
		slot = &n.dstar
	default:
		if c, ok := n.lit[seg]; ok {
			return c
		}
	}
	if slot != nil && *slot >= 0 {
		return *slot
	}
	id := int32(len(r.nodes))
	r.nodes = append(r.nodes, trieNode{star: -1, dstar: -1, loop: seg == "**"})
	n = &r.nodes[at] // append may have moved it
	switch seg {
	case "*":
		n.star = id
	case "**":
		n.dstar = id
	default:
		if n.lit == nil {
			n.lit = make(map[string]int32)
		}
		n.lit[seg] = id
	}
	return id
}

// splitPattern checks a pattern and returns its unescaped segments.
func splitPattern(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("must start with /")
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		u, ok := unescapeSegment(s)
		if !ok {
			return nil, fmt.Errorf("segment %q: ~ must be followed by 0 or 1", s)
		}
		segs[i] = u
	}
	return segs, nil
}

func unescapeSegment(s string) (string, bool) {
	if !strings.Contains(s, "~") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1') {
			return "", false
		}
		b.WriteByte("~/"[s[i+1]-'0'])
		i++
	}
	return b.String(), true
}

// addState appends state s to the set buf[start:] with the "**" nodes it
// reaches without a segment, skipping those already there.
func (r *jsonRules) addState(buf []int32, start int, s int32) []int32 {
	for s >= 0 {
		if slices.Contains(buf[start:], s) {
			return buf
		}
		buf = append(buf, s)
		s = r.nodes[s].dstar
	}
	return buf
}

// step appends to buf the state after segment seg from state from (an
// array index is a segment like any key, which "*" matches).
func (r *jsonRules) step(buf []int32, from []int32, seg []byte) []int32 {
	start := len(buf)
	for _, s := range from {
		n := &r.nodes[s]
		if n.lit != nil {
			if c, ok := n.lit[string(seg)]; ok {
				buf = r.addState(buf, start, c)
			}
		}
		if n.star >= 0 {
			buf = r.addState(buf, start, n.star)
		}
		if n.loop {
			buf = r.addState(buf, start, s)
		}
	}
	return buf
}

func (r *jsonRules) flags(set []int32) ruleFlag {
	var f ruleFlag
	for _, s := range set {
		f |= r.nodes[s].flags
	}
	return f
}

// empty reports that no pattern was added: the walk can skip all matching.
func (r *jsonRules) empty() bool { return len(r.nodes) == 1 }
