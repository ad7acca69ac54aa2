package state_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "migrate-state")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := state.Open(ctx, manifest.State{Backend: state.BackendEmbedded}, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.SetWeight(ctx, "bobbarker", 25); err != nil {
		log.Fatal(err)
	}
	w, ok, err := s.Weight(ctx, "bobbarker")
	fmt.Println(w, ok, err)
	// Output: 25 true <nil>
}
