// Package state keeps migrate's shared migration state: for now, the weight
// (share of traffic on the new side) of every app, so that a restart or a
// rollback does not lose it.
//
// Open picks the backend from the manifest's `state:` section. The embedded
// backend (the default) is a SQLite database, state.db in the data dir, for
// a single `migrate serve`. The Redis backend, for several instances serving
// one app, comes later.
//
// The package emits no metrics and starts no goroutines of its own.
package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/migratekit/migrate/manifest"
)

// Store holds the migration state of every app. Its methods are safe for
// concurrent use.
//
// Later issues extend this interface: the event log (appending and listing
// events), an app's phase and progressive-plan step, and change notification
// (a Watch(ctx) <-chan Change fed by Redis pub/sub, so that a weight set on
// one instance reaches every instance). Values are keyed by app name so each
// of these slots in as its own table or key space.
type Store interface {
	// Weight returns the saved weight of app; ok is false when none was
	// saved.
	Weight(ctx context.Context, app string) (weight int, ok bool, err error)
	// SetWeight saves app's weight, 0 to 100.
	SetWeight(ctx context.Context, app string, weight int) error
	// Close releases the store.
	Close() error
}

// Backends of the `state:` section.
const (
	BackendEmbedded = "embedded"
	BackendRedis    = "redis"
)

// ErrWeightRange is returned by SetWeight for a weight outside 0-100.
var ErrWeightRange = errors.New("weight out of range 0-100")

// ErrNoApp is returned for an empty app name.
var ErrNoApp = errors.New("no app name")

// Open opens the store cfg selects. The embedded backend opens or creates
// state.db in dataDir, creating dataDir (mode 0700) if needed.
func Open(ctx context.Context, cfg manifest.State, dataDir string) (Store, error) {
	switch cfg.Backend {
	case "", BackendEmbedded:
		return openSQLite(ctx, dataDir, nil)
	case BackendRedis:
		return nil, errors.New("state backend redis: not available yet")
	}
	return nil, fmt.Errorf("state backend %q: unknown (want %s or %s)", cfg.Backend, BackendEmbedded, BackendRedis)
}

func checkWeight(app string, weight int) error {
	if app == "" {
		return ErrNoApp
	}
	if weight < 0 || weight > 100 {
		return fmt.Errorf("setting weight of %s to %d: %w", app, weight, ErrWeightRange)
	}
	return nil
}
