#!/usr/bin/env bash
# Benchmark for `drydock db pull`: ./scripts/bench-dbpull.sh
#
# Runs dbdist.BenchmarkPull once per case against the in-process registry,
# with a database built from the real OSV sets ($DRYDOCK_VULNDATA, default
# ../shared/vulndata): a full pull into an empty data directory (the
# baseline), a pull when the signed database is already installed, and a
# pull after only crates.io changed (the artifact has one layer per
# ecosystem: only crates.io's is fetched). Prints time, layer bytes and
# layers downloaded, and time and bytes as a ratio of the full pull
# measured in the same run. BENCH_TIME (default
# 3x) sets -benchtime. It measures; it fails only when the benchmark breaks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DRYDOCK_VULNDATA=${DRYDOCK_VULNDATA:-$(cd .. && pwd)/shared/vulndata}
out=$(mktemp -t bench-dbpull.XXXXXX)
go test -run XXX -bench 'BenchmarkPull$' -benchtime "${BENCH_TIME:-3x}" ./internal/dbdist/ >"$out"

awk '
	/^BenchmarkPull\// {
		n = $1; sub(/^BenchmarkPull\//, "", n); sub(/-[0-9]+$/, "", n)
		for (i = 3; i <= NF; i++) { if ($i == "ns/op") t[n] = $(i-1); if ($i == "layer-B/op") b[n] = $(i-1); if ($i == "layers/op") l[n] = $(i-1) }
		order[c++] = n
	}
	END {
		if (!("full" in t)) { print "bench-dbpull: no result for the full pull" > "/dev/stderr"; exit 1 }
		printf "%-14s %12s %14s %7s %10s %10s\n", "CASE", "TIME", "LAYER BYTES", "LAYERS", "TIME/FULL", "BYTES/FULL"
		for (i = 0; i < c; i++) {
			n = order[i]
			printf "%-14s %10.1fms %14d %7.1f %10.3f %10.3f\n", n, t[n]/1e6, b[n], l[n], t[n]/t["full"], (b["full"] > 0 ? b[n]/b["full"] : 0)
		}
	}' "$out"
echo "raw output: $out"
