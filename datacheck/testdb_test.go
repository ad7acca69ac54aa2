package datacheck

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

// engines are the databases a test may ask for, by the variable that
// names the shared instance scripts/test starts.
var engines = map[string]string{"postgres": "MIGRATE_TEST_POSTGRES", "mysql": "MIGRATE_TEST_MYSQL"}

// testDB creates a database of its own on engine's shared instance and
// returns its DSN and an open handle; both are dropped at cleanup.
func testDB(t testing.TB, engine string) (string, *DB) {
	t.Helper()
	base := os.Getenv(engines[engine])
	if base == "" {
		t.Fatalf("%s is not set: run scripts/test, or start %s and set it (see DEVELOPERS.md)", engines[engine], engine)
	}
	name := "dc_" + randomHex(6)
	admin, err := Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	create := "CREATE DATABASE " + admin.dialect.quote(name)
	if engine == "mysql" {
		create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	}
	if _, err := admin.sql.ExecContext(ctx, create); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dsn := u.String()
	db, err := Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin, err := Open(base)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		drop := "DROP DATABASE " + admin.dialect.quote(name)
		if engine == "postgres" {
			drop += " WITH (FORCE)"
		}
		if _, err := admin.sql.ExecContext(context.Background(), drop); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return dsn, db
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// exec runs each statement on db, failing the test on an error.
func exec(t testing.TB, db *DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if _, err := db.sql.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v\n%s", db.Engine(), err, s)
		}
	}
}

// pairings are the engine pairs every behaviour test runs on.
var pairings = []struct{ name, old, new string }{
	{"pg-pg", "postgres", "postgres"},
	{"mysql-mysql", "mysql", "mysql"},
	{"mysql-pg", "mysql", "postgres"},
	{"pg-mysql", "postgres", "mysql"},
}

func jsonNum(i int) json.Number { return json.Number(fmt.Sprint(i)) }

// sortedChanged orders changed rows by their first key value.
func sortedChanged(c []Changed) []Changed {
	slices.SortFunc(c, func(a, b Changed) int {
		x, _ := a.Key[0].(json.Number).Int64()
		y, _ := b.Key[0].(json.Number).Int64()
		return cmp.Compare(x, y)
	})
	return c
}
