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

// A rollback as the controller records it: the state changes atomically,
// then the event says who did it and why. Watch tells every instance.
func ExampleStore_Update() {
	dir, err := os.MkdirTemp("", "migrate-state")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := state.OpenWith(ctx, manifest.State{}, state.Options{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.SetWeight(ctx, "bobbarker", 25); err != nil {
		log.Fatal(err)
	}
	changes := s.Watch(ctx) // the known state first, then every change

	var before int
	st, err := s.Update(ctx, "bobbarker", func(st *state.AppState) error {
		before = st.Weight
		st.Weight, st.Paused, st.Phase = 0, true, "rolled_back"
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.AppendEvent(ctx, state.Event{
		App: "bobbarker", Kind: state.KindRollback, Actor: state.ActorController,
		Before: fmt.Sprint(before), After: fmt.Sprint(st.Weight), Reason: "error rate 12% > 2%",
	})
	if err != nil {
		log.Fatal(err)
	}

	for c := range changes {
		if c.State.Paused {
			fmt.Println(c.App, c.State.Weight, c.State.Phase, c.State.Version)
			break
		}
	}
	evs, err := s.Events(ctx, state.Query{App: "bobbarker"})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range evs {
		fmt.Println(e.Kind, e.Actor, e.Before, "->", e.After, e.Reason)
	}
	// Output:
	// bobbarker 0 rolled_back 2
	// rollback controller 25 -> 0 error rate 12% > 2%
}
