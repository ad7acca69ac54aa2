package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// The sample app is a small shop API. Its new stack differs from the old one
// on purpose, in the ways real migrations do:
//
//	GET /api/products/{id}  a real regression: new returns the price with tax added
//	GET /api/products       new writes the same objects with their keys reordered (not a regression)
//	GET /api/status         a volatile generated_at timestamp on both stacks (noise, not a regression)
//	GET /api/search         new is five times slower
//	GET /api/cart/{id}      new fails one request in fifty with a 500
//	POST /api/checkout      a write: served, never mirrored unless opted in
const (
	RegressedEndpoint = "/api/products/:id"
	RegressedField    = "/price"
)

// product is the old stack's shape of a product.
type product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// productNew is the same data with its keys written in another order.
type productNew struct {
	Price float64 `json:"price"`
	Name  string  `json:"name"`
	ID    int     `json:"id"`
}

var catalogue = []product{
	{ID: 1, Name: "teapot", Price: 18.5},
	{ID: 2, Name: "kettle", Price: 32},
	{ID: 3, Name: "mug", Price: 6.25},
	{ID: 4, Name: "saucer", Price: 4},
}

// stack is what makes the two sample stacks differ.
type stack struct {
	name      string        // "old" or "new"
	latency   time.Duration // added to every answer
	slowdown  int           // /api/search latency multiplier
	taxBug    bool          // /api/products/{id}: price with tax (the regression)
	reordered bool          // /api/products: keys in another order
	failOneIn int           // /api/cart/{id}: one in n answers 500 (0: never)
}

// OldApp is the sample app as its old stack serves it.
func OldApp() http.Handler {
	return stack{name: "old", latency: 3 * time.Millisecond, slowdown: 1}.handler()
}

// NewApp is the sample app on its new stack, with the differences listed
// above.
func NewApp() http.Handler {
	return stack{name: "new", latency: 2 * time.Millisecond, slowdown: 5, taxBug: true, reordered: true, failOneIn: 50}.handler()
}

func (s stack) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /api/products", s.products)
	mux.HandleFunc("GET /api/products/{id}", s.product)
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		s.reply(w, http.StatusOK, map[string]any{"status": "ok", "generated_at": time.Now().UTC().Format(time.RFC3339Nano)})
	})
	mux.HandleFunc("GET /api/search", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(s.slowdown) * 4 * time.Millisecond)
		s.reply(w, http.StatusOK, map[string]any{"query": r.URL.Query().Get("q"), "results": []int{1, 3}})
	})
	mux.HandleFunc("GET /api/cart/{id}", func(w http.ResponseWriter, r *http.Request) {
		if s.failOneIn > 0 && rand.IntN(s.failOneIn) == 0 {
			s.reply(w, http.StatusInternalServerError, map[string]string{"error": "cart service unavailable"})
			return
		}
		s.reply(w, http.StatusOK, map[string]any{"cart": r.PathValue("id"), "items": 2})
	})
	mux.HandleFunc("POST /api/checkout", func(w http.ResponseWriter, r *http.Request) {
		s.reply(w, http.StatusCreated, map[string]string{"status": "ordered"})
	})
	return mux
}

func (s stack) products(w http.ResponseWriter, r *http.Request) {
	if !s.reordered {
		s.reply(w, http.StatusOK, catalogue)
		return
	}
	out := make([]productNew, len(catalogue))
	for i, p := range catalogue {
		out[i] = productNew{Price: p.Price, Name: p.Name, ID: p.ID}
	}
	s.reply(w, http.StatusOK, out)
}

func (s stack) product(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > len(catalogue) {
		s.reply(w, http.StatusNotFound, map[string]string{"error": "no such product"})
		return
	}
	p := catalogue[id-1]
	if s.taxBug {
		p.Price = float64(int(p.Price*120+0.5)) / 100
	}
	s.reply(w, http.StatusOK, p)
}

func (s stack) reply(w http.ResponseWriter, code int, v any) {
	time.Sleep(s.latency)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", s.name)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
