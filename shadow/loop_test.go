package shadow

import (
	"io"
	"net/http"
	"testing"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
)

// The event loops serve the requests a Mirror takes and report their
// answers to it (lb.LoopMirror).
var _ lb.LoopMirror = (*Mirror)(nil)

// TestChunkedPrimary: an answer sent in chunks is compared by its whole
// body, without the chunk framing the loops pass it in; the same body from
// the new side matches, another differs.
func TestChunkedPrimary(t *testing.T) {
	chunked := func(parts ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for _, p := range parts {
				io.WriteString(w, p)
				http.NewResponseController(w).Flush()
			}
		}
	}
	for _, tt := range []struct {
		name    string
		newSide http.HandlerFunc
		want    compare.Outcome
	}{
		{"same body", chunked(`{"a":`, `1}`), compare.OutcomeMatch},
		{"other body", chunked(`{"a":2}`), compare.OutcomeDiff},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, testApp(newBackend(t, "old", chunked(`{"a":`, `1}`)).URL, newBackend(t, "new", tt.newSide).URL), true)
			res, err := e.client.Get(e.base + "/json")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != `{"a":1}` || len(res.TransferEncoding) == 0 {
				t.Fatalf("client got %q (transfer encoding %v), want the old side's chunked answer", body, res.TransferEncoding)
			}
			waitFor(t, "the pair compared", func() bool { return e.cmp.total() == 1 })
			compared, _ := e.cmp.counts()
			if compared[tt.want] != 1 {
				t.Errorf("outcomes %v, want %s", compared, tt.want)
			}
			e.cmp.mu.Lock()
			defer e.cmp.mu.Unlock()
			if p := e.cmp.pairs[0].Primary; string(p.Body) != `{"a":1}` || p.Truncated {
				t.Errorf("primary body %q (truncated %v), want the whole body without its framing", p.Body, p.Truncated)
			}
		})
	}
}
