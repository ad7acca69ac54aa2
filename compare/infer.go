package compare

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Endpoint inference from traffic, after the parse tree of the Drain log
// template miner: a request path walks a tree of its segments, and a
// position under a prefix that takes many distinct values is collapsed
// into a parameter (/blog/:slug, /files/:name.txt), so that slugs and file
// names do not become one endpoint each. Identifiers (numbers, UUIDs,
// tokens: isID) are ":id" before they reach the tree, as Drain masks
// numbers.
//
// Once a node has seen more than inferMaxValues distinct value-like
// segments (multi-word slugs, mixed-case tokens, odd characters:
// looksLikeValue), every value-like segment goes to its parameter child
// (one per file extension, up to inferMaxExts) and the value-like literals
// it had fold into it; word-like segments (a static /blog/feed) stay
// literals. Once it has seen more than inferMaxLiterals distinct
// word-like ones (inferMaxStatics once its values are a parameter: a few
// static pages among slugs), it collapses whole: every segment goes to the
// parameter but the word-like literals seen at least inferKeepHits times
// before. A node so holds a bounded number of children, and the tree at
// most inferMaxNodes nodes per app; past that, a path that needs a new
// node ends in "/**" at that depth. Every node's name is built once, so
// naming a known path allocates nothing.
const (
	inferMaxValues   = 3
	inferMaxLiterals = 24
	inferMaxStatics  = 6
	inferKeepHits    = 8
	inferMaxExts     = 8
	inferMaxNodes    = 4096
)

// inferTree is one app's learned endpoint tree. It is safe for concurrent
// use: known paths take the read lock only.
type inferTree struct {
	mu    sync.RWMutex
	root  *inferNode
	nodes int // ever allocated, at most inferMaxNodes
}

type inferNode struct {
	name      string // the template up to this node: "/blog/:slug"
	lits      map[string]*inferLit
	wild      map[string]*inferNode // by file extension, "" for none
	valueWild bool                  // value-like segments go to wild
	collapsed bool                  // every segment not in lits goes to wild
	words     int                   // distinct word-like literals seen
	values    int                   // distinct value-like literals seen
}

type inferLit struct {
	hits  atomic.Uint32 // counted while the parent is not collapsed
	value bool          // looksLikeValue
	node  *inferNode
}

func newInferTree() *inferTree {
	return &inferTree{root: &inferNode{}, nodes: 1}
}

// template names path (cleaned: it starts with "/", no query), learning
// from it. A path of known segments takes the read lock once.
func (t *inferTree) template(path string) string {
	t.mu.RLock()
	name, ok := t.walk(path, false)
	t.mu.RUnlock()
	if ok {
		return name
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	name, _ = t.walk(path, true)
	return name
}

// walk names path; without learn it stops, false, at the first segment
// that needs a new node. The caller holds the read lock, or the write
// lock to learn.
func (t *inferTree) walk(path string, learn bool) (string, bool) {
	n, rest := t.root, path[1:]
	for i := 0; ; i++ {
		if i == maxSegments {
			return n.name + "/**", true
		}
		seg, more, last := nextSegment(rest)
		next := n.literal(seg)
		if next == nil {
			if isID(seg) {
				seg = ":id" // a literal of the tree never is an identifier
			}
			next = n.known(seg)
		}
		if next == nil && !learn {
			return "", false
		}
		if next == nil {
			if next = t.learn(n, seg); next == nil {
				return n.name + "/**", true
			}
		}
		n, rest = next, more
		if last {
			return n.name, true
		}
	}
}

// inferredName reports whether name, which no route gave, is a learned
// template: it holds a parameter.
func inferredName(name string) bool {
	return strings.Contains(name, "/:") || strings.HasSuffix(name, "/**")
}

// nextSegment splits off the first segment of p (the path after a "/").
func nextSegment(p string) (seg, rest string, last bool) {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:], false
	}
	return p, "", true
}

// known returns the child seg already leads to, or nil; the caller holds
// a lock.
func (n *inferNode) known(seg string) *inferNode {
	if c := n.literal(seg); c != nil || alwaysLiteral(seg) {
		return c
	}
	if n.collapsed || n.valueWild && looksLikeValue(seg) {
		return n.wild[n.wildKey(seg)]
	}
	return nil
}

// literal returns the literal child seg names, counting the hit while the
// position is still learnt; the caller holds a lock.
func (n *inferNode) literal(seg string) *inferNode {
	l := n.lits[seg]
	if l == nil {
		return nil
	}
	if !n.collapsed && l.hits.Load() < inferKeepHits {
		l.hits.Add(1) // only up to what collapse asks: no shared write after
	}
	return l.node
}

// learn adds seg under n; the caller holds the write lock.
func (t *inferTree) learn(n *inferNode, seg string) *inferNode {
	if c := n.known(seg); c != nil {
		return c
	}
	switch value := looksLikeValue(seg); {
	case alwaysLiteral(seg):
		return t.addLiteral(n, seg, false)
	case n.collapsed || value && n.valueWild:
	case value:
		if n.values++; n.values <= inferMaxValues {
			return t.addLiteral(n, seg, true)
		}
		n.fold(func(l *inferLit) bool { return l.value })
		n.valueWild = true
	default:
		limit := inferMaxLiterals
		if n.valueWild {
			limit = inferMaxStatics
		}
		if n.words++; n.words <= limit {
			return t.addLiteral(n, seg, false)
		}
		n.fold(func(l *inferLit) bool { return l.value || l.hits.Load() < inferKeepHits })
		n.collapsed = true
	}
	return t.addWild(n, n.wildKey(seg))
}

// alwaysLiteral is a segment that is never a parameter's value nor
// counted: empty, an identifier's ":id", or a rest (one of each a node at
// most). A template's ":slug" or ":name.txt" is value-like: it names the
// parameter child, or a literal of the same name before there is one, so
// that a template names itself.
func alwaysLiteral(seg string) bool {
	return seg == "" || seg == ":id" || seg == "**"
}

func (t *inferTree) addLiteral(n *inferNode, seg string, value bool) *inferNode {
	c := t.newNode(n.name + "/" + seg)
	if c == nil {
		return nil
	}
	if n.lits == nil {
		n.lits = make(map[string]*inferLit)
	}
	l := &inferLit{value: value, node: c}
	l.hits.Store(1)
	n.lits[seg] = l
	return c
}

func (t *inferTree) addWild(n *inferNode, ext string) *inferNode {
	name := n.name + "/:slug"
	if ext != "" {
		name = n.name + "/:name." + ext
	}
	c := t.newNode(name)
	if c == nil {
		return nil
	}
	if n.wild == nil {
		n.wild = make(map[string]*inferNode)
	}
	n.wild[ext] = c
	return c
}

func (t *inferTree) newNode(name string) *inferNode {
	if t.nodes >= inferMaxNodes {
		return nil
	}
	t.nodes++
	return &inferNode{name: name}
}

// fold drops the literals of n that drop says fold into its parameter
// (never an alwaysLiteral one); their later requests go to the parameter.
func (n *inferNode) fold(drop func(*inferLit) bool) {
	for seg, l := range n.lits {
		if !alwaysLiteral(seg) && drop(l) {
			delete(n.lits, seg)
		}
	}
}

// wildKey is the parameter child seg goes to: its file extension (a short
// alphanumeric suffix after a dot in a file-like name), "" for none or
// once the node has inferMaxExts of them.
func (n *inferNode) wildKey(seg string) string {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 || len(seg)-i-1 < 1 || len(seg)-i-1 > 5 || !alnum(seg[i+1:]) {
		return ""
	}
	ext := seg[i+1:]
	if _, ok := n.wild[ext]; !ok && len(n.wild) >= inferMaxExts {
		return ""
	}
	return ext
}

// looksLikeValue reports a segment that reads as data rather than a route
// word: a multi-word slug (two hyphens or more), a mixed-case token (an
// upper-case letter after the first among lower-case ones: QeRtyUiOpA,
// and camelCase too), a long one (over 24 bytes before any extension), or
// one with characters other than letters, digits, '-', '_' and one dot.
func looksLikeValue(seg string) bool {
	base := seg
	if i := strings.LastIndexByte(seg, '.'); i > 0 {
		base = seg[:i]
	}
	if len(base) > 24 || strings.Count(base, "-") >= 2 {
		return true
	}
	lower, innerUpper := false, false
	for i := 0; i < len(base); i++ {
		switch c := base[i]; {
		case c >= 'A' && c <= 'Z':
			innerUpper = innerUpper || i > 0
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return true
		}
	}
	return lower && innerUpper
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// size is the number of nodes the tree has allocated.
func (t *inferTree) size() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.nodes
}
