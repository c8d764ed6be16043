#!/usr/bin/env bash
# Benchmark drydock server's work, in one run:
#
#   crawl + scan   REPOS repositories (200), each one app layer on one shared
#                  base, in the in-process registry: images per second and
#                  blob downloads per image (the base comes from the layer
#                  cache after the first image)
#   re-match       INVENTORIES stored inventories (10,000) re-matched after a
#                  database import, one replica, on SQLite and on PostgreSQL
#                  (Debian's postgresql, started by scripts/lib/postgres.sh)
#   API            GET /api/v1/vulnerabilities/{id} for an id all INVENTORIES
#                  images have: p50 and p99 over 30 requests
#   RSS            peak RSS of the benchmark process holding the server parts
#                  at INVENTORIES stored images
#
# Usage: scripts/bench-server.sh   (scale with REPOS, INVENTORIES)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
: "${REPOS:=200}" "${INVENTORIES:=10000}"
export DRYDOCK_BENCH_REPOS=$REPOS DRYDOCK_BENCH_INVENTORIES=$INVENTORIES
export DRYDOCK_VULNDATA=${DRYDOCK_VULNDATA:-$root/../shared/vulndata}

# shellcheck source=lib/postgres.sh
source "$root/scripts/lib/postgres.sh"
out=$(mktemp)
trap 'pg_stop; rm -f "$out"' EXIT
benches='BenchmarkCrawlScan|BenchmarkRematchSQLite'
if [[ -z ${DRYDOCK_TEST_POSTGRES:-} ]] && pg_start; then
	benches+='|BenchmarkRematchPostgres'
elif [[ -n ${DRYDOCK_TEST_POSTGRES:-} ]]; then
	benches+='|BenchmarkRematchPostgres'
else
	echo "bench-server.sh: no PostgreSQL (apt-get install postgresql): skipping its re-match" >&2
fi
go test -count=1 -run '^$' -bench "$benches" -benchtime 1x -timeout 60m ./internal/server 2>&1 | tee "$out" >&2
metric() { # benchmark unit
	awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}
[[ -n $(metric BenchmarkCrawlScan images/s) && -n $(metric BenchmarkRematchSQLite rematch-s) ]] || { echo "bench-server.sh: benchmark failed" >&2; exit 1; }
echo
printf '%-62s %s\n' "measure" "result"
printf '%-62s %s\n' "crawl + scan, $REPOS repositories on one base: images/s" "$(metric BenchmarkCrawlScan images/s)"
printf '%-62s %s\n' "crawl + scan: blob downloads per image" "$(metric BenchmarkCrawlScan blob-GETs/image)"
printf '%-62s %s\n' "re-match $INVENTORIES inventories, SQLite (target < 10 s)" "$(metric BenchmarkRematchSQLite rematch-s) s"
printf '%-62s %s\n' "  CPU time of the server process for it" "$(metric BenchmarkRematchSQLite rematch-cpu-s) s"
printf '%-62s %s\n' "  load average during the run (2 cores)" "$(cut -d' ' -f1 /proc/loadavg)"
if [[ -n $(metric BenchmarkRematchPostgres rematch-s) ]]; then
	printf '%-62s %s\n' "re-match $INVENTORIES inventories, PostgreSQL" "$(metric BenchmarkRematchPostgres rematch-s) s"
	printf '%-62s %s\n' "PostgreSQL / SQLite" "$(awk -v p="$(metric BenchmarkRematchPostgres rematch-s)" -v s="$(metric BenchmarkRematchSQLite rematch-s)" 'BEGIN {printf "%.2fx", p/s}')"
fi
printf '%-62s %s\n' "GET /api/v1/vulnerabilities/{id} over $INVENTORIES images: p50" "$(metric BenchmarkRematchSQLite vuln-p50-ms) ms"
printf '%-62s %s\n' "GET /api/v1/vulnerabilities/{id} over $INVENTORIES images: p99" "$(metric BenchmarkRematchSQLite vuln-p99-ms) ms"
printf '%-62s %s\n' "peak RSS at $INVENTORIES stored images (SQLite)" "$(metric BenchmarkRematchSQLite peak-RSS-MiB) MiB"
