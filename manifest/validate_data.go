package manifest

import (
	"fmt"
	"slices"
)

func (c *checker) data(path string, d *Data) {
	if d == nil {
		return
	}
	for side, s := range map[string]DataSource{"old": d.Old, "new": d.New} {
		switch {
		case s.DSNEnv == "":
			c.addf(path+"."+side, "needs dsn_env, the environment variable holding the DSN")
		case !envName.MatchString(s.DSNEnv):
			c.addf(path+"."+side+".dsn_env", "%q is not an environment variable name", s.DSNEnv)
		}
	}
	seen := map[string]bool{}
	for i := range d.Tables {
		c.dataTable(indexPath(path+".tables", i), &d.Tables[i], seen)
	}
	if d.ChunkRows < 1 {
		c.addf(path+".chunk_rows", "%d is less than 1", d.ChunkRows)
	}
}

func (c *checker) dataTable(path string, t *DataTable, seen map[string]bool) {
	switch {
	case t.Name == "":
		c.addf(path, "a table needs a name")
	case seen[t.Name]:
		c.addf(path, "table %q is listed twice", t.Name)
	}
	seen[t.Name] = true
	c.each(path+".key", t.Key, nonEmpty("column name"))
	c.each(path+".ignore", t.Ignore, nonEmpty("column name"))
	for i, k := range t.Key {
		if slices.Contains(t.Ignore, k) {
			c.addf(indexPath(path+".key", i), "key column %q is also ignored", k)
		}
	}
	for col, n := range t.Round {
		if n < 0 || n > 30 {
			c.addf(keyPath(path+".round", col), "%d is not between 0 and 30", n)
		}
	}
}

func nonEmpty(what string) func(string) string {
	return func(s string) string {
		if s == "" {
			return fmt.Sprintf("empty %s", what)
		}
		return ""
	}
}
