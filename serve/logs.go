package serve

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/migratekit/migrate/logship"
)

// logging keeps what embedded sinks ship to this instance: the recent
// lines of both sides in the data dir (for `migrate logs tail` and the
// dashboard) and the per-side windows derived from them (for the
// migrate_logs_* series and rollback.source logs). It is the admin API's
// LogStore.
type logging struct {
	store   *logship.LogStore
	derived *logship.Derived
}

// newLogging opens the log store in dataDir.
func (i *Instance) newLogging(ctx context.Context, dataDir string) (*logging, error) {
	path := filepath.Join(dataDir, logship.LogStoreFile)
	var st *logship.LogStore
	err := i.openRebuildable(path, func() (err error) {
		st, err = logship.OpenLogStore(ctx, path, logship.LogStoreOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening the log store: %w", err)
	}
	return &logging{store: st, derived: logship.NewDerived(logship.DeriveOptions{Metrics: i.Metrics})}, nil
}

// AddLogs stores evs and counts the new ones (a resent line is stored and
// counted once).
func (l *logging) AddLogs(ctx context.Context, evs []logship.Event) error {
	added, err := l.store.Add(ctx, evs)
	if err != nil {
		return err
	}
	l.derived.Observe(added)
	return nil
}

// QueryLogs implements admin.LogStore.
func (l *logging) QueryLogs(ctx context.Context, q logship.LogQuery) ([]logship.StoredLine, error) {
	return l.store.Query(ctx, q)
}

// LogsChanged implements admin.LogStore.
func (l *logging) LogsChanged() <-chan struct{} { return l.store.Changed() }

func (l *logging) close() error {
	if l == nil {
		return nil
	}
	return l.store.Close()
}
