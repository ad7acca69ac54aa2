package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// product is the sample apps' one resource.
type product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
	// Stock is only reported by the new stack: a harmless difference the
	// diff engine should learn to show.
	Stock *int `json:"stock,omitempty"`
}

var catalogue = []product{
	{ID: 1, Name: "teapot", Price: 18.5},
	{ID: 2, Name: "kettle", Price: 32},
	{ID: 3, Name: "mug", Price: 6.25},
	{ID: 4, Name: "saucer", Price: 4},
}

// appConfig is what makes the two sample stacks differ.
type appConfig struct {
	stack     string        // "old" or "new"
	latency   time.Duration // added to every answer
	withStock bool          // new: products carry a stock field
	failEvery int           // new: every n-th checkout fails with 500 (0: never)
}

// OldApp is the sample app as its old stack serves it: a small shop API.
func OldApp() http.Handler {
	return newApp(appConfig{stack: "old", latency: 4 * time.Millisecond})
}

// NewApp is the same app on its new stack: faster, with one extra field in
// product answers and a checkout that fails now and then, so that a
// migration has something to find.
func NewApp() http.Handler {
	return newApp(appConfig{stack: "new", latency: 2 * time.Millisecond, withStock: true, failEvery: 50})
}

func newApp(cfg appConfig) http.Handler {
	mux := http.NewServeMux()
	var checkouts atomic.Int64
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		out := make([]product, len(catalogue))
		for i, p := range catalogue {
			out[i] = cfg.product(p)
		}
		cfg.reply(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /api/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id < 1 || id > len(catalogue) {
			cfg.reply(w, http.StatusNotFound, map[string]string{"error": "no such product"})
			return
		}
		cfg.reply(w, http.StatusOK, cfg.product(catalogue[id-1]))
	})
	mux.HandleFunc("POST /api/checkout", func(w http.ResponseWriter, r *http.Request) {
		if n := checkouts.Add(1); cfg.failEvery > 0 && n%int64(cfg.failEvery) == 0 {
			cfg.reply(w, http.StatusInternalServerError, map[string]string{"error": "payment backend timed out"})
			return
		}
		cfg.reply(w, http.StatusCreated, map[string]string{"status": "ordered"})
	})
	return mux
}

func (cfg appConfig) product(p product) product {
	if cfg.withStock {
		stock := 10 * p.ID
		p.Stock = &stock
	}
	return p
}

func (cfg appConfig) reply(w http.ResponseWriter, code int, v any) {
	time.Sleep(cfg.latency)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", cfg.stack)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
