package datacheck

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenDSN: DSN URLs of both engines open (without connecting); bad
// ones are refused with ErrDSN and without their password.
func TestOpenDSN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn, engine, err string
	}{
		{"postgres://u:pw@127.0.0.1:5432/db?sslmode=disable", "postgres", ""},
		{"postgresql://u@/db?host=/run/postgresql", "postgres", ""},
		{"mysql://u:pw@127.0.0.1/db", "mysql", ""},
		{"mysql://u:pw@/db?socket=/run/mysqld/mysqld.sock", "mysql", ""},
		{"mysql://u:sekret@/db", "", "no host"},
		{"mysql://u:sekret@h/db?timeout=1s", "", `unknown parameter "timeout"`},
		{"redis://u:sekret@h/0", "", "not postgres or mysql"},
		{"postgres://u:sekret@h:notaport/db", "", "bad DSN"},
	}
	for _, c := range cases {
		t.Run(c.dsn, func(t *testing.T) {
			db, err := Open(c.dsn)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if db.Engine() != c.engine || strings.Contains(db.String(), "pw") {
					t.Errorf("engine %s, name %s", db.Engine(), db)
				}
				return
			}
			if !errors.Is(err, ErrDSN) || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "sekret") {
				t.Errorf("got %v, want ErrDSN with %q and no password", err, c.err)
			}
		})
	}
}

// FuzzOpen: any DSN opens or is refused with ErrDSN; the password never
// shows in the error or the name.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"postgres://u:pw@h/db", "mysql://u:pw@h:3306/db?socket=/s", "mysql://u:pw@/d?tls=true", "postgres://u:pw@h/db?host=/x&sslmode=disable"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		const pw = "Pw9zQ"
		dsn = strings.Replace(dsn, "pw", pw, 1)
		db, err := Open(dsn)
		if err != nil {
			if !errors.Is(err, ErrDSN) {
				t.Fatalf("%q: %v is not ErrDSN", dsn, err)
			}
			if strings.Contains(err.Error(), ":"+pw+"@") {
				t.Fatalf("%q: the password shows: %v", dsn, err)
			}
			return
		}
		if strings.Contains(db.String(), ":"+pw+"@") {
			t.Fatalf("%q: the password shows: %s", dsn, db)
		}
		db.Close()
	})
}
