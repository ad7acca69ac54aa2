package compare

import (
	"math/rand/v2"
	"testing"
)

// benchPaths are the paths BenchmarkEndpoint names: the slug traffic of
// issue 17 and the demo's API paths, in a fixed order.
func benchPaths() []string {
	r := rand.New(rand.NewPCG(3, 4))
	demo := []string{"/api/products", "/api/products/3", "/api/status", "/api/search?q=tea", "/api/cart/17"}
	paths := make([]string, 4096)
	for i := range paths {
		if i%2 == 0 {
			paths[i] = demo[r.IntN(len(demo))]
		} else {
			paths[i] = slugPath(r)
		}
	}
	return paths
}

// BenchmarkEndpoint is the per-request cost of naming an endpoint
// (Engine.Endpoint, as shadow calls it for every mirrored or counted
// request), once the app's tree has seen the traffic.
func BenchmarkEndpoint(b *testing.B) {
	e, err := NewEngine(Config{})
	if err != nil {
		b.Fatal(err)
	}
	paths := benchPaths()
	for _, p := range paths {
		e.Endpoint("shop", p)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.Endpoint("shop", paths[i%len(paths)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				e.Endpoint("shop", paths[i%len(paths)])
				i++
			}
		})
	})
}
