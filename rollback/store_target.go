package rollback

import (
	"context"
	"errors"
	"time"

	"github.com/migratekit/migrate/state"
)

// StoreTarget is an app known only through the state store: what `migrate
// rollback watch` acts on when it runs apart from the instances that serve
// the app, which follow the store.
type StoreTarget struct {
	Store state.Store
	App   string
}

// Name implements Target.
func (t StoreTarget) Name() string { return t.App }

// Weight implements Target: the saved weight (0 when none is saved or the
// store cannot be read).
func (t StoreTarget) Weight() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, _, _ := t.Store.Weight(ctx, t.App)
	return w
}

// SetWeight implements Target by saving the weight. A weight the store
// keeps while it is down (state.ErrPending) is set: the store writes it
// when it is back.
func (t StoreTarget) SetWeight(w int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Store.SetWeight(ctx, t.App, w); err != nil && !errors.Is(err, state.ErrPending) {
		return err
	}
	return nil
}
