package datacheck

import (
	"sync"
	"time"
)

// Result is a check's outcome: in_sync or differs for one check; with a
// settle time, a difference that converged is lagging and one that
// stayed is diverged (and the result is differs).
type Result string

const (
	InSync   Result = "in_sync"
	Differs  Result = "differs"
	Lagging  Result = "lagging"
	Diverged Result = "diverged"
)

// Report is the outcome of a check of every table.
type Report struct {
	Result Result `json:"result"`
	// Verdict is in_sync, lagging or diverged: what serve and a plan gate
	// read. Without a settle time a difference is diverged.
	Verdict  Result        `json:"verdict"`
	Tables   []TableReport `json:"tables"`
	Started  time.Time     `json:"started"`
	Duration Seconds       `json:"duration_seconds"`
	// Lag is new's replication lag when its database tells it.
	Lag *Seconds `json:"replication_lag_seconds,omitempty"`
}

// Seconds is a duration written as seconds.
type Seconds float64

// TableReport is one table's outcome. Keys are lists of the key's
// values, in key order; at most Options.MaxKeys of each list are kept,
// the counts are exact.
type TableReport struct {
	Table        string    `json:"table"`
	Key          []string  `json:"key"`
	RowsOld      int64     `json:"rows_old"`
	RowsNew      int64     `json:"rows_new"`
	Missing      [][]any   `json:"missing"`
	Extra        [][]any   `json:"extra"`
	Changed      []Changed `json:"changed"`
	MissingCount int64     `json:"missing_count"`
	ExtraCount   int64     `json:"extra_count"`
	ChangedCount int64     `json:"changed_count"`
	// Lagging counts the rows that differed and then converged within the
	// settle time.
	Lagging int64    `json:"lagging"`
	Notes   []string `json:"notes,omitempty"`
	Result  Result   `json:"result"`
}

// Changed is a row on both sides whose columns differ. Old and New hold
// the values (canonical text, nil for NULL) only with ShowValues.
type Changed struct {
	Key     []any     `json:"key"`
	Columns []string  `json:"columns"`
	Old     []*string `json:"old,omitempty"`
	New     []*string `json:"new,omitempty"`
}

// tableResult gathers a table's differences from concurrent chunks.
type tableResult struct {
	mu       sync.Mutex
	rep      TableReport
	maxKeys  int
	showVals bool
	// seen, when not nil, collects every differing key (joined), for the
	// re-check after the settle time; only, when not nil, keeps the
	// re-check to the keys that differed the first time.
	seen, only map[string]bool
	spans      []span // the spans whose rows differed
}

// keep tells whether a differing key counts, and remembers it.
func (r *tableResult) keep(key string) bool {
	if r.only != nil && !r.only[key] {
		return false
	}
	if r.seen != nil {
		r.seen[key] = true
	}
	return true
}

func (r *tableResult) addMissing(raw string, key []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.keep(raw) {
		return
	}
	r.rep.MissingCount++
	if len(r.rep.Missing) < r.maxKeys {
		r.rep.Missing = append(r.rep.Missing, key)
	}
}

func (r *tableResult) addExtra(raw string, key []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.keep(raw) {
		return
	}
	r.rep.ExtraCount++
	if len(r.rep.Extra) < r.maxKeys {
		r.rep.Extra = append(r.rep.Extra, key)
	}
}

func (r *tableResult) addChanged(raw string, c Changed) {
	if !r.showVals {
		c.Old, c.New = nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.keep(raw) {
		return
	}
	r.rep.ChangedCount++
	if len(r.rep.Changed) < r.maxKeys {
		r.rep.Changed = append(r.rep.Changed, c)
	}
}

// addOneSided counts rows rows of a span found on one side only, of
// which keys (raw and shown) were read.
func (r *tableResult) addOneSided(missing bool, rows int64, raws []string, keys [][]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	count, list := &r.rep.ExtraCount, &r.rep.Extra
	if missing {
		count, list = &r.rep.MissingCount, &r.rep.Missing
	}
	if r.seen == nil && r.only == nil {
		*count += rows
	}
	for i, raw := range raws {
		if !r.keep(raw) {
			continue
		}
		if r.seen != nil || r.only != nil {
			*count++
		}
		if len(*list) < r.maxKeys {
			*list = append(*list, keys[i])
		}
	}
}

func (r *tableResult) addSpan(sp span) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, sp)
}

// addRows counts a chunk's rows on each side.
func (r *tableResult) addRows(o, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.RowsOld += o
	r.rep.RowsNew += n
}

// differs tells whether the table has a difference.
func (t *TableReport) differs() bool {
	return t.MissingCount+t.ExtraCount+t.ChangedCount > 0
}

// finish sets the results of every table and of the report.
func (r *Report) finish() {
	r.Result, r.Verdict = InSync, InSync
	lagging := false
	for i := range r.Tables {
		t := &r.Tables[i]
		t.Result = InSync
		if t.differs() {
			t.Result, r.Result, r.Verdict = Differs, Differs, Diverged
		}
		lagging = lagging || t.Lagging > 0
		t.Missing, t.Extra, t.Changed = nonNil(t.Missing), nonNil(t.Extra), nonNil(t.Changed)
	}
	if r.Verdict == InSync && lagging {
		r.Verdict = Lagging
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
