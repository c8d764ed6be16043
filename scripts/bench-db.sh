#!/usr/bin/env bash
# Benchmark for the vulnerability database and matcher: ./scripts/bench-db.sh
#
# Runs, in one go, the Go benchmarks behind the issue's numbers and prints
# them as one table:
#   - `db import` of all four real OSV sets (vulndb.BenchmarkImportAll) and
#     the resulting file size,
#   - database open time (vulndb.BenchmarkOpen),
#   - matching the 500-package inventory against that database
#     (match.BenchmarkMatchRealDB500: "cold" opens the database afresh per
#     match, as one scan does; "warm" reuses it), target < 50 ms,
#   - reading that inventory from JSON (match.BenchmarkReadInventory500),
#     and the ratio match / read.
# BENCH_IMPORT_TIME (default 3x) and BENCH_TIME (default 20x) set -benchtime
# for the import and for the other benchmarks; BENCH_COUNT (default 1) runs
# each that many times and reports the median. Raw `go test` output is kept
# in $BENCH_OUT (default: a temporary file, printed at the end).
# It measures; it fails only when a benchmark breaks, not on a missed target.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
import_time=${BENCH_IMPORT_TIME:-3x}
bench_time=${BENCH_TIME:-20x}
count=${BENCH_COUNT:-1}
out=${BENCH_OUT:-$(mktemp -t bench-db.XXXXXX)}

# -p 1: the two packages' benchmarks must not run side by side on the
# machine's few cores.
go test -p 1 -run XXX -bench 'BenchmarkImportAll' -benchtime "$import_time" -count "$count" \
	./internal/vulndb/ >"$out"
go test -p 1 -run XXX -bench 'BenchmarkOpen$|BenchmarkMatchRealDB500|BenchmarkReadInventory500' \
	-benchtime "$bench_time" -count "$count" ./internal/vulndb/ ./internal/match/ >>"$out"

# median NAME [UNIT]: the median of the values printed before UNIT (default
# ns/op) on the result lines of benchmark NAME (GOMAXPROCS suffix ignored).
median() {
	awk -v name="$1" -v unit="${2:-ns/op}" '
		{ n = $1; sub(/-[0-9]+$/, "", n) }
		n == name { for (i = 3; i <= NF; i++) if ($i == unit) v[c++] = $(i-1) }
		END {
			if (c == 0) { print "NaN"; exit }
			for (i = 0; i < c; i++) for (j = i + 1; j < c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			print (c % 2) ? v[int(c/2)] : (v[c/2-1] + v[c/2]) / 2
		}' "$out"
}

imp=$(median BenchmarkImportAll)
size=$(median BenchmarkImportAll MiB)
open=$(median BenchmarkOpen)
cold=$(median BenchmarkMatchRealDB500/cold)
warm=$(median BenchmarkMatchRealDB500/warm)
findings=$(median BenchmarkMatchRealDB500/cold findings)
read=$(median BenchmarkReadInventory500)

for v in "$imp" "$size" "$open" "$cold" "$warm" "$read"; do
	if [ "$v" = NaN ]; then
		echo "bench-db: a benchmark result is missing; raw output:" >&2
		cat "$out" >&2
		exit 1
	fi
done

awk -v imp="$imp" -v size="$size" -v open="$open" -v cold="$cold" -v warm="$warm" \
	-v read="$read" -v findings="$findings" -v bt="$bench_time" -v it="$import_time" -v count="$count" '
BEGIN {
	ms = 1e6
	printf "%-44s %14s  %s\n", "measure", "value", "target"
	printf "%-44s %14s  %s\n", "-------", "-----", "------"
	printf "%-44s %12.2f s\n", "db import, four real sets (Go,PyPI,crates,Alma)", imp / 1e9
	printf "%-44s %10.1f MiB\n", "resulting database file size", size
	printf "%-44s %11.3f ms\n", "database open", open / ms
	printf "%-44s %11.2f ms  < 50 ms: %s\n", "match 500 packages, cold (fresh open)", cold / ms, (cold < 50 * ms ? "met" : "MISSED")
	printf "%-44s %11.2f ms  < 50 ms: %s\n", "match 500 packages, warm (open database)", warm / ms, (warm < 50 * ms ? "met" : "MISSED")
	printf "%-44s %11.3f ms\n", "read inventory (JSON decode, 500 packages)", read / ms
	printf "%-44s %12.1f x\n", "ratio match (cold) / read inventory", cold / read
	printf "%-44s %12.1f x\n", "ratio match (warm) / read inventory", warm / read
	printf "(%d findings; -benchtime %s for import, %s for the rest; median of %d)\n", findings, it, bt, count
}'
echo "raw benchmark output: $out"
