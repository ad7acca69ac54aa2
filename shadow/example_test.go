package shadow_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/shadow"
)

// Example wires a mirror between the load balancer and the compare
// engine: old serves, new is mirrored, the engine judges each pair.
func Example() {
	serve := func(price string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"sku":"x","price":%s}`, price)
		}))
	}
	oldSrv, newSrv := serve("10"), serve("12")
	defer oldSrv.Close()
	defer newSrv.Close()
	app := &manifest.App{
		Name:   "shop",
		Listen: "127.0.0.1:0",
		Old:    manifest.Pool{Backends: []string{oldSrv.URL}},
		New:    manifest.Pool{Backends: []string{newSrv.URL}},
		Shadow: manifest.Shadow{Routes: []manifest.Route{{Path: "/items/:id"}}},
	}

	engine, err := compare.NewEngine(compare.Config{Routes: []compare.Route{{Pattern: "/items/:id"}}})
	if err != nil {
		log.Fatal(err)
	}
	mirror, err := shadow.New(app, shadow.Options{Comparer: engine})
	if err != nil {
		log.Fatal(err)
	}
	proxy, err := lb.New(&manifest.Manifest{Apps: map[string]*manifest.App{"shop": app}}, nil,
		lb.Options{Mirrors: map[string]lb.Mirror{"shop": mirror}})
	if err != nil {
		log.Fatal(err)
	}
	if err := proxy.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served, mirrored := make(chan error, 1), make(chan error, 1)
	go func() { served <- proxy.Serve(ctx) }()
	go func() { mirrored <- mirror.Run(ctx) }()
	defer func() { cancel(); <-mirrored; <-served }()

	res, err := http.Get("http://" + proxy.Addrs()["127.0.0.1:0"].String() + "/items/7")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Printf("client got %s\n", body)

	for len(engine.Stats("shop")) == 0 || engine.Stats("shop")[0].Requests == 0 {
		time.Sleep(time.Millisecond) // the pair is judged off the request path
	}
	st := engine.Stats("shop")[0]
	fmt.Printf("%s: %d compared, %d differ, field %s\n", st.Endpoint, st.Requests, st.Diffs, st.Fields[0].Path)
	// Output:
	// client got {"sku":"x","price":10}
	// /items/:id: 1 compared, 1 differ, field /price
}
