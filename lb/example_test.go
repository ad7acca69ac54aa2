package lb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
)

// A proxy for one app: all clients on old, then all on new.
func Example() {
	backend := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s", name)
		}))
	}
	oldSrv, newSrv := backend("old"), backend("new")
	defer oldSrv.Close()
	defer newSrv.Close()

	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"shop": {
			Listen: "127.0.0.1:0",
			Hosts:  []string{"shop.example.com"},
			Old:    manifest.Pool{Backends: []string{oldSrv.URL}},
			New:    manifest.Pool{Backends: []string{newSrv.URL}},
		},
	}}
	p, err := lb.New(m, nil, lb.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Listen(); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()

	client := &http.Client{Transport: &http.Transport{}}
	get := func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+p.Addrs()["127.0.0.1:0"].String()+"/", nil)
		req.Host = "shop.example.com"
		res, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, string(body))
	}
	get()
	_ = p.App("shop").SetWeight(100)
	get()

	client.CloseIdleConnections()
	cancel() // SIGTERM: drain and stop
	fmt.Println("serve:", <-served)
	// Output:
	// 200 hello from old
	// 200 hello from new
	// serve: <nil>
}

// Where a client lands: its key's point against the weight.
func ExampleStickyPoint() {
	point := lb.StickyPoint("203.0.113.9") // a client IP, or a sticky cookie value
	for _, weight := range []int{50, 99} {
		side := "old"
		if point < weight*lb.PointScale/100 {
			side = "new"
		}
		fmt.Printf("weight %d: %s\n", weight, side)
	}
	// Output:
	// weight 50: old
	// weight 99: new
}
