package shadow

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
)

// TestClientLeaves has clients go away while old is still answering
// slowly: such a pair is not compared with the candidate's complete (and
// different) answer, but counted aborted, with no example kept. A client
// that stays gets its pair judged (here a diff) as the control.
func TestClientLeaves(t *testing.T) {
	tests := []struct {
		name string
		// leave is when the client goes: "" stays to the end, "status"
		// before the status line, "body" after the first part of the body.
		leave    string
		recorded map[compare.Outcome]int
		compared map[compare.Outcome]int
		kept     int64
	}{
		{name: "client stays", compared: map[compare.Outcome]int{compare.OutcomeDiff: 1}, kept: 1},
		{name: "before the status", leave: "status", recorded: map[compare.Outcome]int{compare.OutcomeAborted: 1}},
		{name: "mid-body", leave: "body", recorded: map[compare.Outcome]int{compare.OutcomeAborted: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			finish := make(chan struct{})
			old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				if tt.leave == "status" {
					<-r.Context().Done() // the proxy gives up when the client leaves
					return
				}
				io.WriteString(w, "part one\n")
				http.NewResponseController(w).Flush()
				select {
				case <-finish:
					io.WriteString(w, "part two\n")
				case <-r.Context().Done():
				}
			})
			e := start(t, testApp(old.URL, newBackend(t, "new", nil).URL), true)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/slow", nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- clientRead(e.client, req, tt.leave, cancel, finish) }()
			<-arrived
			if tt.leave == "status" {
				cancel()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			e.settle(t, 1)
			compared, recorded := e.cmp.counts()
			got := []any{compared, recorded, e.sink.added.Load()}
			want := []any{orEmpty(tt.compared), orEmpty(tt.recorded), tt.kept}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("[compared, recorded, kept] (-got +want):\n%s", diff)
			}
			for o, n := range orEmpty(tt.compared, tt.recorded) {
				if got := metric(t, e.reg, "migrate_shadow_pairs_total", map[string]string{"app": "web", "direction": "old_to_new", "endpoint": "/fake", "outcome": string(o)}); got != float64(n) {
					t.Errorf("migrate_shadow_pairs_total{outcome=%s} = %v, want %d", o, got, n)
				}
			}
		})
	}
}

// clientRead reads req's answer as a client that leaves at leave: before
// the status (cancel comes from outside), after the first line of the body,
// or never (it lets old finish and reads to the end).
func clientRead(c *http.Client, req *http.Request, leave string, cancel func(), finish chan struct{}) error {
	res, err := c.Do(req)
	if leave == "status" {
		if err == nil {
			res.Body.Close()
		}
		return nil // the client's call fails or is cut: it left
	}
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
		return err
	}
	if leave == "body" {
		cancel()
		return nil
	}
	close(finish)
	_, err = io.ReadAll(res.Body)
	return err
}

// orEmpty merges maps, never returning nil.
func orEmpty(ms ...map[compare.Outcome]int) map[compare.Outcome]int {
	out := map[compare.Outcome]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}
