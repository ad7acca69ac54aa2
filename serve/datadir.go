package serve

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/migratekit/migrate/state"
)

// The data dir holds the state (state.db, events.log, redis-state.json:
// a damaged one is refused, see package state) and stores of derived data
// that the traffic rebuilds: the diff samples (samples.db) and the lines
// shipped to this instance (logs.db). Those are recovered instead.

// openRebuildable opens a store of derived data at path with open. When
// SQLite finds the file damaged, it is moved aside (with its -wal and
// -shm) to path.damaged-TIME and a new one is opened: what it held comes
// back with the traffic, so the instance does not refuse to start for it.
// The move is logged as an error.
func (i *Instance) openRebuildable(path string, open func() error) error {
	err := open()
	if err == nil || !state.IsDamaged(err) {
		return err
	}
	aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if rerr := os.Rename(path+suffix, aside+suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return fmt.Errorf("%w (moving it aside failed: %w)", err, rerr)
		}
	}
	i.log.Error("a store of the data dir was damaged: moved aside, starting a new one (its content is rebuilt from the traffic)",
		"path", path, "moved_to", aside, "err", err)
	return open()
}
