#!/usr/bin/env bash
# Sourced by scripts/test.sh (and scripts/bench-server.sh): starts Debian's
# PostgreSQL (package postgresql) in a temporary directory on a free
# loopback port, as the unprivileged "postgres" user when run as root
# (postgres refuses to run as root), and exports
#   DRYDOCK_TEST_POSTGRES=postgres://drydock@127.0.0.1:PORT/drydock?sslmode=disable
# pg_stop stops it and removes the directory.

pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb ]] && { echo "$d"; return 0; }
	done
	command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
	return 1
}

# pg_start [port]: start the server; returns non-zero (and exports nothing)
# when PostgreSQL is not installed or does not start.
pg_start() {
	local bin port=${1:-} as=()
	bin=$(pg_bindir) || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
	if [[ -z $port ]]; then
		port=$((20000 + RANDOM % 30000))
	fi
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drydock-pg.XXXXXX")
	chmod 755 "$PG_DIR"
	if [[ $(id -u) -eq 0 ]]; then
		chown postgres: "$PG_DIR"
		as=(runuser -u postgres --)
	fi
	"${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U drydock --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || {
		echo "postgres.sh: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; return 1; }
	"${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200 -c fsync=off" start >/dev/null || {
		echo "postgres.sh: pg_ctl start failed:" >&2; cat "$PG_DIR/server.log" >&2; return 1; }
	"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U drydock drydock || return 1
	PG_BIN=$bin
	PG_AS=("${as[@]}")
	export DRYDOCK_TEST_POSTGRES="postgres://drydock@127.0.0.1:$port/drydock?sslmode=disable"
}

pg_stop() {
	[[ -n ${PG_DIR:-} ]] || return 0
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$PG_DIR"
	PG_DIR=
}
