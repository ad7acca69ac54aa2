# scripts/databases.sh: private PostgreSQL and MariaDB instances for the
# tests (scripts/test) and benchmarks (scripts/bench/datacheck). Sourced;
# the caller defines TMP (a temp dir removed at exit), PG_DATA='' and
# MARIADB_PID='', step, info and die, and calls stop_databases on exit.
# start_postgres and start_mariadb export MIGRATE_TEST_POSTGRES and
# MIGRATE_TEST_MYSQL.

# pg_bin NAME: the path of PostgreSQL's NAME (initdb, pg_ctl), which
# Debian keeps out of PATH.
pg_bin() {
	local found
	found=$(command -v "$1" 2>/dev/null || ls -1d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1)
	[[ -n $found ]] || die "PostgreSQL's $1 is not installed"
	printf '%s\n' "$found"
}

# as_db_user CMD...: run CMD as nobody when root (PostgreSQL refuses to
# run as root), else as ourselves.
as_db_user() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

# start_postgres runs a private PostgreSQL (as nobody when root):
# its own data dir and a unix socket under $TMP, no TCP.
start_postgres() {
	step "PostgreSQL on a unix socket"
	local dir=$TMP/pg
	mkdir -p "$dir/run"
	if [[ $(id -u) -eq 0 ]]; then
		chmod 755 "$TMP"
		chown -R nobody "$dir"
	fi
	as_db_user "$(pg_bin initdb)" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	PG_DATA=$dir/data
	as_db_user "$(pg_bin pg_ctl)" -D "$PG_DATA" -l "$dir/pg.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir/run' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null ||
		{ cat "$dir/pg.log" >&2; die "PostgreSQL did not start"; }
	export MIGRATE_TEST_POSTGRES="postgres://postgres@/postgres?host=$dir/run&sslmode=disable"
	info "MIGRATE_TEST_POSTGRES=$MIGRATE_TEST_POSTGRES"
}

# start_mariadb runs a private MariaDB: its own data dir and socket under
# $TMP, no TCP.
start_mariadb() {
	step "MariaDB on a unix socket"
	local dir=$TMP/mariadb sock=$TMP/mariadb/mysqld.sock
	mkdir -p "$dir"
	command -v mariadbd >/dev/null || PATH="$PATH:/usr/libexec"
	local user
	user=$(id -un)
	mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" --auth-root-authentication-method=normal \
		--skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
	mariadbd --no-defaults --user="$user" --datadir="$dir/data" --socket="$sock" --skip-networking \
		--pid-file="$dir/mariadb.pid" --log-error="$dir/mariadb.err" --innodb-flush-log-at-trx-commit=0 \
		--innodb-buffer-pool-size=256M --skip-log-bin --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
	MARIADB_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		if [[ -S $sock ]] && mariadb --no-defaults -S "$sock" -u root -e 'SELECT 1' >/dev/null 2>&1; then
			export MIGRATE_TEST_MYSQL="mysql://root@/?socket=$sock"
			info "MIGRATE_TEST_MYSQL=$MIGRATE_TEST_MYSQL (pid $MARIADB_PID)"
			return
		fi
		kill -0 "$MARIADB_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/mariadb.err" >&2
	die "mariadbd did not start"
}

stop_databases() {
	if [[ -n $PG_DATA ]]; then
		as_db_user "$(pg_bin pg_ctl)" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [[ -n $MARIADB_PID ]] && kill -0 "$MARIADB_PID" 2>/dev/null; then
		kill "$MARIADB_PID" 2>/dev/null || true
		wait "$MARIADB_PID" 2>/dev/null || true
	fi
}

