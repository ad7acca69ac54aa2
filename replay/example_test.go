package replay_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/replay"
)

// Example replays an nginx access log against an old and a new stack that
// disagree on a price.
func Example() {
	serve := func(price string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"sku":%q,"price":%s}`, strings.TrimPrefix(r.URL.Path, "/items/"), price)
		}))
	}
	oldSrv, newSrv := serve("10"), serve("12")
	defer oldSrv.Close()
	defer newSrv.Close()
	app := &manifest.App{
		Name:   "shop",
		Old:    manifest.Pool{Backends: []string{oldSrv.URL}},
		New:    manifest.Pool{Backends: []string{newSrv.URL}},
		Shadow: manifest.Shadow{Routes: []manifest.Route{{Path: "/items/:id"}}},
	}
	accessLog := `10.0.0.1 - - [10/Oct/2025:13:55:36 +0000] "GET /items/7 HTTP/1.1" 200 24 "-" "curl/8.0"
10.0.0.1 - - [10/Oct/2025:13:55:37 +0000] "POST /items/7 HTTP/1.1" 201 0 "-" "curl/8.0"
`
	rep, st, err := replay.Run(context.Background(), replay.Options{App: app, Log: strings.NewReader(accessLog)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("replayed %d, skipped %d\n", st.Replayed, st.Skipped)
	for _, e := range rep.Over(0) {
		fmt.Printf("%s: %d of %d differ, field %s\n", e.Endpoint, e.Diffs, e.Requests, e.Fields[0].Path)
	}
	// Output:
	// replayed 1, skipped 1
	// /items/:id: 1 of 1 differ, field /price
}
