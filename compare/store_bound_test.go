package compare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// boundAdds is the number of Adds of TestStoreBound.
const boundAdds = 100_000

// TestStoreBound adds 100,000 differing pairs, captured a millisecond
// apart, over a few endpoints and fields with the default options: each
// field fills at once, then has its oldest example replaced about once a
// second (about 2,000 replacements in all). It checks that no key holds
// more than PerField examples, that no pair outlives its examples, and
// that the files stop growing. (Every Add writing is BenchmarkStoreAdd's
// "write" case.)
func TestStoreBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path, StoreOptions{})
	defer s.Close()
	endpoints := []string{"/users/:id", "/orders/:id", "/search", "/cart"}
	fields := []string{"/a", "/b/*/c", "Etag", "status", "body"}
	body := []byte(`{"items":[` + strings.Repeat(`{"id":1,"name":"widget","price":9.99},`, 30) + `{}]}`)
	var at10k int64
	for i := range boundAdds {
		e := endpoints[i%len(endpoints)]
		p, r := diffPair("shop", e, fmt.Sprintf("/x/%d", i), t0.Add(time.Duration(i)*time.Millisecond),
			fields[i%len(fields)], fields[(i+1)%len(fields)])
		p.Primary.Body, p.Candidate.Body = body, body
		mustAdd(t, s, p, r)
		if i+1 == boundAdds/10 {
			at10k = filesSize(t, path)
		}
	}
	at100k := filesSize(t, path)
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Stored < 2000 || st.Stored+st.Skipped != 2*boundAdds {
		t.Errorf("stored %d and skipped %d examples of %d: want about 2,000 stored, the rest skipped", st.Stored, st.Skipped, 2*boundAdds)
	}
	if got, want := maxPerKey(t, s), DefaultPerField; got != want {
		t.Errorf("most examples of one key = %d, want %d", got, want)
	}
	if got, want := countRows(t, s, "examples"), len(endpoints)*len(fields)*DefaultPerField; got != want {
		t.Errorf("examples rows = %d, want %d", got, want)
	}
	var orphans int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM pairs WHERE id NOT IN (SELECT pair_id FROM examples)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d pairs without an example", orphans)
	}
	t.Logf("files: %d bytes after %d adds, %d after %d", at10k, boundAdds/10, at100k, boundAdds)
	if at100k > 2*at10k || at100k > 8<<20 {
		t.Errorf("files grew from %d bytes after %d adds to %d after %d: want the same order, under 8 MiB",
			at10k, boundAdds/10, at100k, boundAdds)
	}
}

// filesSize is the size of the database and its WAL.
func filesSize(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkStoreAdd measures Add when every pair is written (the worst
// case) and when its fields are full and recent (the common one).
func BenchmarkStoreAdd(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
	}{{"write", -1}, {"skip", time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTestStore(b, filepath.Join(b.TempDir(), StoreFile), StoreOptions{MinInterval: bc.interval})
			defer s.Close()
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p, r := diffPair("shop", "/x", "/x", t0.Add(time.Duration(i)), "/a", "/b")
				if err := s.Add(ctx, p, r); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
