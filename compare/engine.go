package compare

import (
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// Config configures an Engine. The zero value is usable: every zero field
// takes the default its comment names.
type Config struct {
	// Rules apply to every app.
	Rules
	// Routes are endpoint templates (and their rules) for every app, tried
	// after an app's own.
	Routes []Route
	// Apps holds per-app rules and routes, on top of the above.
	Apps map[string]AppRules

	// NoiseRelative and NoiseAbsolute are the noise thresholds, as
	// fractions (see noiseJudge; defaults [manifest.DefaultNoiseRelative]
	// and [manifest.DefaultNoiseAbsolute], Diffy's).
	NoiseRelative float64
	NoiseAbsolute float64
	// FlakyShare, when set (0 < share <= 1), marks as noise the fields that
	// differ in more than that share of the primary's repeated answers to
	// identical requests; 0 turns the detection off.
	FlakyShare float64
	// LatencyRelative and LatencyAbsolute are the margin past which an
	// endpoint's candidate latency is a regression (see LatencyMargin);
	// nil takes [manifest.DefaultLatencyRelative] and
	// [manifest.DefaultLatencyAbsolute].
	LatencyRelative *float64
	LatencyAbsolute *time.Duration

	// ExcerptSize bounds each rendered value of a Difference, in bytes
	// (default 256).
	ExcerptSize int
	// MaxDiffs bounds the differences listed per pair (default 100); the
	// rest are counted in Result.Omitted.
	MaxDiffs int
	// MaxEndpoints bounds the endpoints tracked per app and direction
	// (default 500); further ones count as Other.
	MaxEndpoints int
	// MaxFields bounds the fields tracked per endpoint (default 200);
	// further ones count as Other.
	MaxFields int
	// MaxDecodedBody bounds a body once its content coding is undone
	// (default 8 MiB); a larger one is not diffed, like a truncated one.
	MaxDecodedBody int
}

// Defaults of Config.
const (
	DefaultExcerptSize    = 256
	DefaultMaxDiffs       = 100
	DefaultMaxEndpoints   = 500
	DefaultMaxFields      = 200
	DefaultMaxDecodedBody = 8 << 20
)

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ExcerptSize, DefaultExcerptSize)
	def(&c.MaxDiffs, DefaultMaxDiffs)
	def(&c.MaxEndpoints, DefaultMaxEndpoints)
	def(&c.MaxFields, DefaultMaxFields)
	def(&c.MaxDecodedBody, DefaultMaxDecodedBody)
	if c.NoiseRelative == 0 {
		c.NoiseRelative = float64(manifest.DefaultNoiseRelative)
	}
	if c.NoiseAbsolute == 0 {
		c.NoiseAbsolute = float64(manifest.DefaultNoiseAbsolute)
	}
	if c.LatencyRelative == nil {
		rel := float64(manifest.DefaultLatencyRelative)
		c.LatencyRelative = &rel
	}
	if c.LatencyAbsolute == nil {
		abs := manifest.DefaultLatencyAbsolute
		c.LatencyAbsolute = &abs
	}
	return c
}

func (c Config) check() error {
	for name, v := range map[string]float64{
		"noise relative threshold": c.NoiseRelative, "noise absolute threshold": c.NoiseAbsolute,
		"flaky share": c.FlakyShare,
	} {
		if v < 0 || v > 1 {
			return fmt.Errorf("checking %s %v: not a fraction between 0 and 1", name, v)
		}
	}
	for name, v := range map[string]int{
		"excerpt size": c.ExcerptSize, "max diffs": c.MaxDiffs, "max endpoints": c.MaxEndpoints,
		"max fields": c.MaxFields, "max decoded body": c.MaxDecodedBody,
	} {
		if v < 1 {
			return fmt.Errorf("checking %s %d: must be positive", name, v)
		}
	}
	if *c.LatencyRelative < 0 || *c.LatencyAbsolute < 0 {
		return fmt.Errorf("checking latency margin %v and %v: must not be negative", *c.LatencyRelative, *c.LatencyAbsolute)
	}
	return nil
}

// Engine compares pairs and keeps per-app, per-endpoint stats. It is safe
// for concurrent use; Compare holds no lock while diffing.
type Engine struct {
	cfg     Config
	judge   noiseJudge
	latency LatencyMargin
	apps    map[string]*appRules
	def     *appRules // apps without rules of their own
	repeats *repeatMemory
	differs sync.Pool

	mu    sync.RWMutex
	stats map[string]*appStats
	// templaters are the apps' Templaters, each learning from its own
	// traffic (by app name).
	templaters sync.Map
}

// appRules are one app's compiled templater and rule sets.
type appRules struct {
	templater *Templater
	base      *ruleSet
	routes    map[string]*ruleSet // by route pattern, when it adds rules
}

// NewEngine checks cfg (every pattern; errors name the bad one) and
// returns an engine.
func NewEngine(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		judge:   noiseJudge{relative: cfg.NoiseRelative, absolute: cfg.NoiseAbsolute, flaky: cfg.FlakyShare},
		latency: LatencyMargin{Relative: *cfg.LatencyRelative, Absolute: *cfg.LatencyAbsolute},
		apps:    make(map[string]*appRules),
		stats:   make(map[string]*appStats),
	}
	e.differs.New = func() any { return &differ{seed: maphash.MakeSeed()} }
	if cfg.FlakyShare > 0 {
		e.repeats = newRepeatMemory()
	}
	var err error
	if e.def, err = compileApp(&cfg, &AppRules{}); err != nil {
		return nil, err
	}
	for name, ar := range cfg.Apps {
		if e.apps[name], err = compileApp(&cfg, &ar); err != nil {
			return nil, fmt.Errorf("compiling rules of app %q: %w", name, err)
		}
	}
	return e, nil
}

func compileApp(cfg *Config, app *AppRules) (*appRules, error) {
	base, err := newRuleSet(&cfg.Rules, &app.Rules)
	if err != nil {
		return nil, err
	}
	ar := &appRules{base: base, routes: make(map[string]*ruleSet)}
	var patterns []string
	for _, routes := range [][]Route{app.Routes, cfg.Routes} {
		for _, r := range routes {
			patterns = append(patterns, r.Pattern)
			if _, seen := ar.routes[r.Pattern]; seen {
				continue // the app's own rules for a pattern win
			}
			if ar.routes[r.Pattern], err = newRuleSet(&cfg.Rules, &app.Rules, &r.Rules); err != nil {
				return nil, fmt.Errorf("compiling rules of route %q: %w", r.Pattern, err)
			}
		}
	}
	if ar.templater, err = NewTemplater(patterns); err != nil {
		return nil, err
	}
	return ar, nil
}

func (e *Engine) rules(app string) *appRules {
	if ar := e.apps[app]; ar != nil {
		return ar
	}
	return e.def
}

func (ar *appRules) ruleSet(endpoint string) *ruleSet {
	if rs := ar.routes[endpoint]; rs != nil {
		return rs
	}
	return ar.base
}

// Endpoint is the endpoint template of path for app (its routes, else
// inferred; see Templater).
func (e *Engine) Endpoint(app, path string) string {
	return e.templater(app).Template(path)
}

// templater returns app's Templater: its routes, and a tree learned from
// its traffic alone.
func (e *Engine) templater(app string) *Templater {
	if t, ok := e.templaters.Load(app); ok {
		return t.(*Templater)
	}
	t, _ := e.templaters.LoadOrStore(app, e.rules(app).templater.fork())
	return t.(*Templater)
}

// Compare diffs a pair, counts it in the stats and returns the verdict. It
// neither keeps nor changes anything of p.
func (e *Engine) Compare(p Pair) Result {
	ar := e.rules(p.App)
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = e.templater(p.App).Template(p.Request.Path)
	}
	rs := ar.ruleSet(endpoint)
	res := Result{
		App: p.App, Direction: p.Direction.Norm(), Endpoint: endpoint, Method: p.Request.Method,
		PrimaryStatus: p.Primary.Status, CandidateStatus: p.Candidate.Status,
		PrimaryLatency: p.Primary.Latency, CandidateLatency: p.Candidate.Latency,
	}
	if p.Candidate.Err != nil {
		res.Outcome, res.CandidateStatus = OutcomeShadowError, 0
		if p.Candidate.Timeout {
			res.Outcome = OutcomeShadowTimeout
		}
		e.account(&res, nil)
		return res
	}
	obs := e.diff(&p, rs, &res)
	e.account(&res, &obs)
	return res
}

// observation is what one pair adds to the noise counters.
type observation struct {
	raw, noise, repeat  []Difference
	secondary, repeated bool
}

// diff fills res.Diffs and gathers the differences that feed the noise
// counters.
func (e *Engine) diff(p *Pair, rs *ruleSet, res *Result) observation {
	d := e.differs.Get().(*differ)
	defer e.putDiffer(d)
	limit := e.cfg.MaxDecodedBody
	if p.Primary.Err != nil {
		res.PrimaryStatus = 0
	}
	pn, cn := normalize(&p.Primary, rs, limit), normalize(&p.Candidate, rs, limit)
	out := diffList{max: e.cfg.MaxDiffs, excerpt: e.cfg.ExcerptSize}
	res.Truncated = !e.diffResponses(d, &pn, &cn, rs, &out)
	res.Diffs, res.Omitted = out.diffs, out.omitted
	obs := observation{raw: out.diffs}
	if s := p.Secondary; s != nil && s.Err == nil {
		sn, same := normalize(s, rs, limit), &pn
		if p.SecondaryOfCandidate {
			same = &cn
		}
		obs.secondary, obs.noise = true, e.bareDiff(d, same, &sn, rs)
	}
	if e.repeats != nil {
		if prev, ok := e.repeats.swap(e.repeats.key(p.App, p.Direction.Norm(), &p.Request), &pn); ok {
			obs.repeated, obs.repeat = true, e.bareDiff(d, &prev, &pn, rs)
		}
	}
	return obs
}

// bareDiff diffs two answers for their fields only.
func (e *Engine) bareDiff(d *differ, a, b *normalized, rs *ruleSet) []Difference {
	out := diffList{max: e.cfg.MaxDiffs, excerpt: 0, bare: true}
	e.diffResponses(d, a, b, rs, &out)
	return out.diffs
}

func (e *Engine) putDiffer(d *differ) {
	d.a.doc, d.b.doc, d.out = nil, nil, nil // nothing of a pair outlives it
	if cap(d.a.nodes) > 1<<16 || cap(d.b.nodes) > 1<<16 || cap(d.scratch) > 1<<20 {
		return // an outsized document: let its buffers go
	}
	e.differs.Put(d)
}

// account counts a result in its endpoint's stats and, for a compared
// pair (obs != nil), judges its differences' noise and sets its outcome.
// res.Endpoint becomes Other past MaxEndpoints.
func (e *Engine) account(res *Result, obs *observation) {
	name, ep := e.endpoint(res.App, res.Direction, res.Endpoint)
	res.Endpoint = name
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if obs != nil {
		res.Outcome, res.Noisy = e.judgePair(ep, obs)
		if res.Truncated {
			ep.truncated++
		}
	}
	if i := indexOf(res.Outcome); i >= 0 {
		ep.outcomes[i]++
	}
	if res.PrimaryStatus != 0 {
		ep.primary.add(res.PrimaryLatency)
	}
	if res.CandidateStatus != 0 {
		ep.candidate.add(res.CandidateLatency)
	}
	if res.PrimaryStatus != 0 && res.CandidateStatus != 0 {
		ep.paired.add(res.PrimaryLatency, res.CandidateLatency)
	}
	ep.matrix[statusClass(res.PrimaryStatus)+"->"+statusClass(res.CandidateStatus)]++
}

// judgePair updates the field counters with one compared pair and judges
// its differences; the caller holds ep.mu.
func (e *Engine) judgePair(ep *endpointStats, obs *observation) (Outcome, []string) {
	maxF := e.cfg.MaxFields
	raw := fieldsOf(obs.raw)
	ep.countFields(raw, maxF, func(f *fieldCounts) { f.raw++ })
	if obs.secondary {
		ep.noisePairs++
		ep.countFields(obs.noise, maxF, func(f *fieldCounts) { f.noise++ })
	}
	if obs.repeated {
		ep.repeats++
		ep.countFields(obs.repeat, maxF, func(f *fieldCounts) { f.repeat++ })
	}
	if len(raw) == 0 {
		return OutcomeMatch, nil
	}
	total := ep.compared() + 1 // this pair included
	var noisy []string
	for _, d := range raw {
		if e.judge.isNoise(ep.field(d.Field, d.Kind, maxF), total, ep.noisePairs, ep.repeats) {
			noisy = append(noisy, d.Field)
		}
	}
	if len(noisy) == len(raw) {
		return OutcomeNoise, noisy
	}
	return OutcomeDiff, noisy
}

// fieldsOf returns one Difference per distinct Field, in order.
func fieldsOf(diffs []Difference) []Difference {
	out := make([]Difference, 0, len(diffs))
	seen := make(map[string]bool, len(diffs))
	for _, d := range diffs {
		if !seen[d.Field] {
			seen[d.Field] = true
			out = append(out, d)
		}
	}
	return out
}

// Record counts a pair that was not compared (skipped_unsafe,
// skipped_stream, too_large, dropped; or shadow_error and shadow_timeout
// when the caller has no Pair) under app's endpoint template in direction
// dir (empty: old_to_new), and returns the Result to report it with (its
// Endpoint is Other past MaxEndpoints). An outcome outside Outcomes is
// returned but not counted.
func (e *Engine) Record(app string, dir Direction, endpoint, method string, o Outcome) Result {
	dir = dir.Norm()
	name, ep := e.endpoint(app, dir, endpoint)
	if i := indexOf(o); i >= 0 {
		ep.mu.Lock()
		ep.outcomes[i]++
		ep.mu.Unlock()
	}
	return Result{App: app, Direction: dir, Endpoint: name, Method: method, Outcome: o}
}
