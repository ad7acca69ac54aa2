package compare_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/migratekit/migrate/compare"
)

// A shadow worker stores each pair that differs; a report reads the newest
// example of every field back.
func ExampleOpenStore() {
	dir, err := os.MkdirTemp("", "samples")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	store, err := compare.OpenStore(ctx, filepath.Join(dir, compare.StoreFile), compare.StoreOptions{
		RedactJSON: []string{"/user/email"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	pair := compare.Pair{
		App: "shop", Endpoint: "/users/:id", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Request: compare.Request{Method: "GET", Path: "/users/7", RawQuery: "token=abc",
			Header: http.Header{"Authorization": {"Bearer abc"}}},
		Primary:   compare.Response{Status: 200, Body: []byte(`{"user":{"email":"ann@example.com","plan":"pro"}}`)},
		Candidate: compare.Response{Status: 200, Body: []byte(`{"user":{"email":"ann@example.com","plan":"free"}}`)},
	}
	result := compare.Result{App: "shop", Endpoint: "/users/:id", Outcome: compare.OutcomeDiff, Diffs: []compare.Difference{
		{Kind: compare.KindJSON, Path: "/user/plan", Field: "/user/plan", Primary: `"pro"`, Candidate: `"free"`},
	}}
	if err := store.Add(ctx, pair, result); err != nil {
		log.Fatal(err)
	}

	examples, err := store.LatestExamples(ctx, "shop")
	if err != nil {
		log.Fatal(err)
	}
	s, _ := examples.Get(compare.DirectionOldToNew, "/users/:id", "/user/plan")
	fmt.Println(s.Request.RawQuery)
	fmt.Println(s.Request.Header.Get("Authorization"))
	fmt.Println(string(s.Primary.Body))
	fmt.Println(compare.CurlCommand(s.Request, "http://10.1.0.5:3000"))
	// Output:
	// token=%5Bredacted%5D
	// [redacted]
	// {"user":{"email":"[redacted]","plan":"pro"}}
	// curl -i -H 'Authorization: [redacted]' 'http://10.1.0.5:3000/users/7?token=%5Bredacted%5D'
}

// The CI gate of `migrate compare report --max-diff-rate 1%`.
func ExampleReport_Over() {
	report := compare.Report{App: "shop", Endpoints: []compare.EndpointStats{
		{Endpoint: "/users/:id", Requests: 200, Diffs: 6, DiffRate: 0.03},
		{Endpoint: "/cart", Requests: 100, Diffs: 0},
	}}
	for _, e := range report.Over(0.01) {
		fmt.Printf("%s: diff rate %.0f%%\n", e.Endpoint, e.DiffRate*100)
	}
	// Output:
	// /users/:id: diff rate 3%
}

func ExampleWriteReport() {
	report := compare.Report{
		App: "shop", Generated: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Endpoints: []compare.EndpointStats{{
			Endpoint: "/users/:id", Requests: 200, Diffs: 6, DiffRate: 0.03,
			Outcomes: map[compare.Outcome]uint64{compare.OutcomeMatch: 194, compare.OutcomeDiff: 6},
			Fields:   []compare.FieldStats{{Path: "/user/plan", Kind: compare.KindJSON, Count: 6, Rate: 0.03}},
		}},
	}
	if err := compare.WriteReport(os.Stdout, compare.FormatText, report); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Diff report: shop
	// Generated: 2025-03-01T12:00:00Z
	// Endpoints: 1 (0 inferred from traffic), with differences: 1, slower: 0
	// Compared pairs by direction: old->new 200, new->old 0
	//
	// ENDPOINT    DIRECTION  MIRRORED  DIFFS  DIFF RATE  LATENCY  TOP FIELD
	// /users/:id  old->new   200       6      3.00%      -        /user/plan
	//
	// /users/:id (old->new)
	//   mirrored 200, diffs 6 (3.00%)
	//   outcomes: diff 6, match 194
	//   fields:
	//       3.00%  json    /user/plan
	//   status (old->new): none
}
