package datacheck

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrDSN is wrapped by every error about a DSN that cannot be used as
// written.
var ErrDSN = errors.New("bad DSN")

// Open opens the database a DSN URL names: postgres:// (or postgresql://)
// for PostgreSQL, mysql:// for MySQL and MariaDB
// (mysql://user:pass@host:port/db, or ?socket=/path/mysqld.sock for a
// unix socket). Sessions run in UTC, so that timestamps read the same on
// both sides. It does not connect; the first query does.
func Open(dsn string) (*DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing DSN: %w: %s", ErrDSN, redactDSN(dsn))
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return openPostgres(dsn)
	case "mysql":
		return openMySQL(u)
	}
	return nil, fmt.Errorf("opening %s: %w: scheme %q is not postgres or mysql", redactDSN(dsn), ErrDSN, u.Scheme)
}

func openPostgres(dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing DSN %s: %w: %v", redactDSN(dsn), ErrDSN, redactErr(err, dsn))
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	cfg.RuntimeParams["application_name"] = "migrate datacheck"
	return &DB{sql: stdlib.OpenDB(*cfg), dialect: postgres{}, name: redactDSN(dsn)}, nil
}

func openMySQL(u *url.URL) (*DB, error) {
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" && u.Hostname() != "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	cfg.Collation = "utf8mb4_general_ci"
	for k, v := range u.Query() {
		switch k {
		case "socket":
			cfg.Net, cfg.Addr = "unix", v[0]
		case "tls":
			cfg.TLSConfig = v[0]
		default:
			return nil, fmt.Errorf("opening %s: %w: unknown parameter %q (socket and tls are known)", redactDSN(u.String()), ErrDSN, k)
		}
	}
	if cfg.Addr == "" {
		return nil, fmt.Errorf("opening %s: %w: no host and no ?socket=", redactDSN(u.String()), ErrDSN)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w: %v", redactDSN(u.String()), ErrDSN, err)
	}
	return &DB{sql: sql.OpenDB(conn), dialect: mysqlDialect{}, name: redactDSN(u.String())}, nil
}

// redactDSN is dsn with its password replaced, for messages and logs.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if u.Opaque != "" || (u.User == nil && strings.Contains(dsn, "@")) {
		// Not scheme://user:pass@host: where a password would be is unknown.
		return u.Scheme + ":(redacted)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// redactErr is err's text with the DSN's password, if any, blanked.
func redactErr(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}
