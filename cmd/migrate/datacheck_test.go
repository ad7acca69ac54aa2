package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// pgTestDB creates a database of its own on MIGRATE_TEST_POSTGRES, runs
// stmts in it and returns its DSN; it is dropped at cleanup.
func pgTestDB(t *testing.T, stmts ...string) string {
	t.Helper()
	base := os.Getenv("MIGRATE_TEST_POSTGRES")
	if base == "" {
		t.Fatal("MIGRATE_TEST_POSTGRES is not set: run scripts/test, or start PostgreSQL and set it (see DEVELOPERS.md)")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "dccli_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
		admin.Close()
	})
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return u.String()
}

const usersTable = "CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 100) g"

// TestDatacheckExitCodes: 0 in sync, 1 differs (with the JSON report),
// 2 a bad DSN, a table without a key, a manifest whose DSN variable is
// unset; 3 a database that cannot be reached.
func TestDatacheckExitCodes(t *testing.T) {
	t.Parallel()
	old := pgTestDB(t, usersTable, "CREATE TABLE nokey (a int)")
	same := pgTestDB(t, usersTable)
	changed := pgTestDB(t, usersTable, "UPDATE users SET email = 'x' WHERE id = 17", "DELETE FROM users WHERE id = 42", "CREATE TABLE nokey (a int)")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "migrate.yaml")
	os.WriteFile(cfg, []byte(`apps:
  shop:
    old: {backends: [http://127.0.0.1:3000]}
    new: {backends: [http://127.0.0.1:4000]}
    data:
      old: {dsn_env: DCCLI_OLD_UNSET_1}
      new: {dsn_env: DCCLI_NEW_UNSET_1}
      tables: [users]
`), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{"in sync", []string{"--old", old, "--new", same, "--table", "users"}, exitOK, "in_sync", ""},
		{"differs", []string{"--old", old, "--new", changed, "--table", "users", "--format", "json"}, exitCheck, `"changed": [`, "differ in 1 table"},
		{"markdown", []string{"--old", old, "--new", changed, "--table", "users", "--format", "markdown"}, exitCheck, "| users | id | 100 | 99 | 1 | 0 | 1 |", ""},
		{"bad scheme", []string{"--old", "redis://x", "--new", same}, exitUsage, "", "is not postgres or mysql"},
		{"no key", []string{"--old", old, "--new", changed, "--table", "nokey"}, exitUsage, "", "no primary key"},
		{"unreachable", []string{"--old", old, "--new", "postgres://u:topsecret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "--table", "users"}, exitRuntime, "", "127.0.0.1"},
		{"dsn env unset", []string{"--config", cfg, "shop"}, exitUsage, "", "DCCLI_OLD_UNSET_1 is not set"},
		{"no data section", []string{"--config", cfg, "nope"}, exitUsage, "", `no app "nope"`},
		{"bad format", []string{"--old", old, "--new", same, "--format", "xml"}, exitUsage, "", "--format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"datacheck"}, c.args...)...)
			if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errs, c.err) {
				t.Errorf("code %d, want %d\nstdout %s\nstderr %s\nwant %q and %q", code, c.code, out, errs, c.out, c.err)
			}
			if strings.Contains(out+errs, "topsecret") {
				t.Errorf("a password is printed:\n%s%s", out, errs)
			}
		})
	}
}

// TestDatacheckManifest: APP's data: section names the DSNs by variable,
// and its tables' settings apply; the values are redacted unless
// --show-values.
func TestDatacheckManifest(t *testing.T) {
	old := pgTestDB(t, usersTable, "ALTER TABLE users ADD COLUMN updated_at int DEFAULT 1")
	nw := pgTestDB(t, usersTable, "ALTER TABLE users ADD COLUMN updated_at int DEFAULT 2", "UPDATE users SET email = 'secret-value' WHERE id = 17")
	t.Setenv("DCCLI_OLD", old)
	t.Setenv("DCCLI_NEW", nw)
	cfg := filepath.Join(t.TempDir(), "migrate.yaml")
	os.WriteFile(cfg, []byte(`apps:
  shop:
    old: {backends: [http://127.0.0.1:3000]}
    new: {backends: [http://127.0.0.1:4000]}
    data:
      old: {dsn_env: DCCLI_OLD}
      new: {dsn_env: DCCLI_NEW}
      tables: [{name: users, ignore: [updated_at]}]
`), 0o644)
	for _, show := range []bool{false, true} {
		args := []string{"--config", cfg, "datacheck", "shop", "--format", "json"}
		if show {
			args = append(args, "--show-values")
		}
		code, out, errs := runCLI(t, args...)
		var rep struct {
			Tables []struct {
				Changed []struct {
					Columns []string `json:"columns"`
				} `json:"changed"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitCheck {
			t.Fatalf("code %d, %v\n%s%s", code, err, out, errs)
		}
		if got := fmt.Sprint(rep.Tables[0].Changed); got != "[{[email]}]" {
			t.Errorf("changed %s, want only email (updated_at ignored)", got)
		}
		if strings.Contains(out, "secret-value") != show {
			t.Errorf("show-values %v: value printed %v:\n%s", show, !show, out)
		}
	}
}

// TestDatacheckWatch: --watch checks, prints the report and waits for
// the next check; interrupted, it exits with the last report's code.
func TestDatacheckWatch(t *testing.T) {
	t.Parallel()
	old := pgTestDB(t, usersTable)
	nw := pgTestDB(t, usersTable, "DELETE FROM users WHERE id = 42")
	var out, errb lockedBuffer
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs([]string{"datacheck", "--old", old, "--new", nw, "--watch", "--settle", "10ms", "--interval", "1h", "--format", "json"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.After(time.Minute)
	for !strings.Contains(out.String(), `"verdict": "diverged"`) {
		select {
		case err := <-done:
			t.Fatalf("watch ended before its first report: %v\n%s", err, errb.String())
		case <-deadline:
			t.Fatalf("no report within a minute:\n%s%s", out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	err := <-done
	if code := exitCode(err); err == nil || code != exitCheck {
		t.Errorf("interrupted watch: %v (code %d), want the last report's %d", err, code, exitCheck)
	}
	if !strings.Contains(out.String(), `"missing": [`) {
		t.Errorf("report without the missing row:\n%s", out.String())
	}
}
