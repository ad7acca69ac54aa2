package compare

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestNoiseJudgeFollowsDiffy(t *testing.T) {
	j := noiseJudge{relative: float64(manifest.DefaultNoiseRelative), absolute: float64(manifest.DefaultNoiseAbsolute)}
	tests := []struct {
		name              string
		raw, noise, total uint64
		wantSignificant   bool
	}{
		{"never differs between primaries", 10, 0, 100, true},
		{"differs as often between primaries", 100, 100, 100, false},
		{"a little more often than noise", 100, 80, 100, false}, // 20/180 = 11% relative
		{"much more often than noise", 100, 50, 100, true},      // 50/150 = 33% relative, 50% absolute
		{"rare: under the absolute threshold", 3, 0, 100000, false},
		{"just over the absolute threshold", 31, 0, 100000, true},
		{"less often than noise", 5, 10, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := j.significant(tt.raw, tt.noise, tt.total); got != tt.wantSignificant {
				t.Errorf("significant(%d, %d, %d) = %v, want %v", tt.raw, tt.noise, tt.total, got, tt.wantSignificant)
			}
		})
	}
}

// demoPair is the demo's shape: the candidate reorders keys, every answer
// has its own timestamp, and the candidate may change the price.
func demoPair(i int, price int) Pair {
	sec := resp(200, fmt.Sprintf(`{"id":%d,"price":10,"ts":"2024-01-01T00:00:%02d.2Z"}`, i, i%60))
	return Pair{
		App:       "shop",
		Request:   Request{Method: "GET", Path: fmt.Sprintf("/products/%d", i)},
		Primary:   resp(200, fmt.Sprintf(`{"id":%d,"price":10,"ts":"2024-01-01T00:00:%02d.1Z"}`, i, i%60)),
		Candidate: resp(200, fmt.Sprintf(`{"ts":"2024-01-01T00:00:%02d.3Z","price":%d,"id":%d}`, i%60, price, i)),
		Secondary: &sec,
	}
}

func TestNoiseWithSecondary(t *testing.T) {
	e := newTestEngine(t, Config{})
	for i := range 50 {
		price := 10
		if i%2 == 0 {
			price = 12 // a real regression on half the pairs
		}
		got := e.Compare(demoPair(i, price))
		want, wantNoisy := OutcomeNoise, []string{"/ts"}
		if price != 10 {
			want = OutcomeDiff
		}
		if got.Outcome != want || !cmp.Equal(got.Noisy, wantNoisy) {
			t.Fatalf("pair %d: Outcome, Noisy = %q, %q; want %q, %q (diffs %+v)", i, got.Outcome, got.Noisy, want, wantNoisy, got.Diffs)
		}
	}
	stats := e.Stats("shop")
	if len(stats) != 1 {
		t.Fatalf("Stats = %d endpoints, want 1", len(stats))
	}
	want := []FieldStats{
		{Path: "/ts", Kind: KindJSON, Count: 50, Rate: 1, NoiseRate: 1, Noise: true},
		{Path: "/price", Kind: KindJSON, Count: 25, Rate: 0.5, NoiseRate: 0, Noise: false},
	}
	if diff := cmp.Diff(stats[0].Fields, want); diff != "" {
		t.Errorf("Fields mismatch (-got +want):\n%s", diff)
	}
	if got := stats[0].Outcomes; got[OutcomeDiff] != 25 || got[OutcomeNoise] != 25 {
		t.Errorf("Outcomes = %v, want 25 diff and 25 noise", got)
	}
}

func TestNoiseWithoutSecondaryIsADiff(t *testing.T) {
	e := newTestEngine(t, Config{})
	p := demoPair(1, 10)
	p.Secondary = nil
	if got := e.Compare(p); got.Outcome != OutcomeDiff || len(got.Noisy) != 0 {
		t.Errorf("Outcome, Noisy = %q, %q; want diff, none", got.Outcome, got.Noisy)
	}
}

func TestFlakyFields(t *testing.T) {
	e := newTestEngine(t, Config{FlakyShare: 0.5})
	var outcomes []Outcome
	for i := range 4 {
		// the same request each time; the primary's ts moves on
		p := demoPair(7, 10)
		p.Secondary = nil
		p.Primary = resp(200, fmt.Sprintf(`{"id":7,"price":10,"ts":"t%d"}`, i))
		outcomes = append(outcomes, e.Compare(p).Outcome)
	}
	want := []Outcome{OutcomeDiff, OutcomeNoise, OutcomeNoise, OutcomeNoise}
	if !slices.Equal(outcomes, want) {
		t.Errorf("outcomes = %q, want %q", outcomes, want)
	}
	p := demoPair(7, 12)
	p.Secondary = nil
	p.Primary = resp(200, `{"id":7,"price":10,"ts":"t9"}`)
	if got := e.Compare(p); got.Outcome != OutcomeDiff || !cmp.Equal(got.Noisy, []string{"/ts"}) {
		t.Errorf("with a changed price: Outcome, Noisy = %q, %q; want diff, [/ts]", got.Outcome, got.Noisy)
	}
}

func TestRepeatMemoryIsBounded(t *testing.T) {
	m := newRepeatMemory()
	big := normalized{complete: true, body: make([]byte, repeatMaxBody+1)}
	for i := range 3 * repeatEntries {
		m.swap(uint64(i), &big)
	}
	if got := len(m.slots); got != repeatEntries {
		t.Errorf("slots = %d, want %d", got, repeatEntries)
	}
	if got := len(m.index); got != repeatEntries {
		t.Errorf("index = %d entries, want %d", got, repeatEntries)
	}
	prev, ok := m.swap(uint64(3*repeatEntries-1), &big)
	if !ok || prev.complete || prev.body != nil {
		t.Errorf("swap of a recent key = %v, complete %v, %d bytes; want a remembered answer without its oversized body", ok, prev.complete, len(prev.body))
	}
	if _, ok := m.swap(0, &big); ok {
		t.Errorf("the oldest key is still remembered")
	}
}
