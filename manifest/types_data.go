package manifest

// Data is an app's `data:` section: the old and new databases that
// `migrate datacheck APP` compares row by row.
type Data struct {
	// Old and New name the databases; their DSNs (postgres://... or
	// mysql://... URLs) are read from the environment, never the manifest.
	Old DataSource `yaml:"old"`
	New DataSource `yaml:"new"`
	// Tables to compare; none compares every table of old's schema.
	Tables []DataTable `yaml:"tables"`
	// Settle is how long a differing row is given to converge (rows in
	// flight through replication) before it counts; default 5s.
	Settle Duration `yaml:"settle"`
	// Interval is the pause between two checks of `datacheck --watch`;
	// default 1m.
	Interval Duration `yaml:"interval"`
	// ChunkRows is the rows per checksummed chunk; default 100000.
	ChunkRows int `yaml:"chunk_rows"`
}

// DataSource is one side's database.
type DataSource struct {
	// DSNEnv names the environment variable holding the DSN.
	DSNEnv string `yaml:"dsn_env"`
}

// DataTable is one compared table. In YAML it is either its name alone
// or a mapping.
type DataTable struct {
	Name string `yaml:"name"`
	// New is the table's name on new; default the same.
	New string `yaml:"new"`
	// Key pairs rows by these columns instead of the primary key.
	Key []string `yaml:"key"`
	// Ignore lists columns not compared.
	Ignore []string `yaml:"ignore"`
	// Round compares a numeric column rounded to that many decimals.
	Round map[string]int `yaml:"round"`
}

// SetScalar lets a table be written as its name alone.
func (t *DataTable) SetScalar(s string) error {
	t.Name = s
	return nil
}

func defaultData(d *Data) {
	if d == nil {
		return
	}
	setDuration(&d.Settle, DefaultDataSettle)
	setDuration(&d.Interval, DefaultDataInterval)
	setInt(&d.ChunkRows, DefaultDataChunkRows)
}
