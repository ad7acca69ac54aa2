package datacheck

import (
	"fmt"
	"maps"

	"github.com/migratekit/migrate/manifest"
)

// OptionsFor is the Options of an app's data: section (with its defaults
// applied, as Load leaves it).
func OptionsFor(d *manifest.Data) Options {
	opts := Options{Settle: d.Settle.D(), ChunkRows: int64(d.ChunkRows)}
	for _, t := range d.Tables {
		opts.Tables = append(opts.Tables, Table{Name: t.Name, New: t.New, Key: t.Key, Ignore: t.Ignore, Round: maps.Clone(t.Round)})
	}
	return opts
}

// DSNsFor reads the DSNs an app's data: section names from the
// environment (getenv, os.Getenv in production).
func DSNsFor(d *manifest.Data, getenv func(string) string) (old, new string, err error) {
	old, new = getenv(d.Old.DSNEnv), getenv(d.New.DSNEnv)
	switch {
	case old == "":
		return "", "", fmt.Errorf("reading data.old.dsn_env: %w: %s is not set", ErrDSN, d.Old.DSNEnv)
	case new == "":
		return "", "", fmt.Errorf("reading data.new.dsn_env: %w: %s is not set", ErrDSN, d.New.DSNEnv)
	}
	return old, new, nil
}
