package compare

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchDoc is a deterministic API answer of about size bytes: a page of
// products with nested owners, tags and numbers. changed alters two
// prices; reordered writes every object's keys in another order, as a
// rewritten backend's serialiser would.
func benchDoc(size int, changed, reordered bool) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	shuffle := rand.New(rand.NewPCG(3, 4)) // apart, so both documents draw the same values
	var items []string
	for n, i := 0, 0; n < size-200; i++ {
		price := fmt.Sprintf("%d.%02d", rng.IntN(500), rng.IntN(100))
		if changed && (i == 1 || i == 5) {
			price = "0.99"
		}
		fields := []string{
			fmt.Sprintf(`"id":%d`, 1000+i),
			fmt.Sprintf(`"name":"Product %d \u00e9dition"`, i),
			`"price":` + price,
			fmt.Sprintf(`"tags":["t%d","t%d","sale"]`, rng.IntN(20), rng.IntN(20)),
			fmt.Sprintf(`"owner":{"id":%d,"name":"Owner %d","email":"owner%d@example.com"}`, rng.IntN(99), i, i),
			fmt.Sprintf(`"active":%t`, rng.IntN(2) == 0),
			fmt.Sprintf(`"score":%g`, rng.Float64()),
			`"created_at":"2024-05-01T12:00:00Z"`,
		}
		if reordered {
			shuffle.Shuffle(len(fields), func(a, b int) { fields[a], fields[b] = fields[b], fields[a] })
		}
		item := "{" + strings.Join(fields, ",") + "}"
		items = append(items, item)
		n += len(item) + 1
	}
	return []byte(fmt.Sprintf(`{"data":{"items":[%s],"total":%d},"meta":{"page":1,"generated_at":"2024-05-01T12:00:00Z"}}`,
		strings.Join(items, ","), len(items)))
}

var benchSizes = []struct {
	name string
	size int
}{{"4KB", 4 << 10}, {"64KB", 64 << 10}}

func BenchmarkCompareJSON(b *testing.B) {
	for _, s := range benchSizes {
		for _, reordered := range []bool{false, true} {
			name := s.name
			if reordered {
				name += "-reordered"
			}
			primary, candidate := benchDoc(s.size, false, false), benchDoc(s.size, true, reordered)
			e, err := NewEngine(Config{})
			if err != nil {
				b.Fatal(err)
			}
			p := Pair{App: "shop", Request: Request{Method: "GET", Path: "/products"},
				Primary: resp(200, string(primary), "Content-Type", "application/json"), Candidate: resp(200, string(candidate), "Content-Type", "application/json")}
			if got := e.Compare(p); len(got.Diffs) != 2 {
				b.Fatalf("%s: %d differences, want 2: %+v", name, len(got.Diffs), got.Diffs)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(primary) + len(candidate)))
				b.ReportAllocs()
				for b.Loop() {
					e.Compare(p)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
			})
		}
	}
}

// BenchmarkUnmarshalFloor is the floor the diff is measured against:
// decoding both bodies with encoding/json into any.
func BenchmarkUnmarshalFloor(b *testing.B) {
	for _, s := range benchSizes {
		primary, candidate := benchDoc(s.size, false, false), benchDoc(s.size, true, false)
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(primary) + len(candidate)))
			b.ReportAllocs()
			for b.Loop() {
				var x, y any
				if json.Unmarshal(primary, &x) != nil || json.Unmarshal(candidate, &y) != nil {
					b.Fatal("unmarshal failed")
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}
