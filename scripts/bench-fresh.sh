#!/usr/bin/env bash
# Latency of "drydock watch" from the registry push of a new base to the last
# rebuilt application image pushed, by push event and by polling, with 1, 10
# and 100 dependent images (rebase path; go-containerregistry's in-process
# registry on loopback; the product rebase executor). Prints a table.
#
#   ./scripts/bench-fresh.sh [-benchtime 3x]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
benchtime=${2:-3x}
[[ "${1:-}" == "-benchtime" ]] || benchtime=3x
out=$(go test -run '^$' -bench 'BenchmarkPushToRebuilt' -benchtime "$benchtime" ./internal/freshness/)
echo "$out" | grep -E '^Benchmark' >&2
echo
printf '%-8s %12s %22s\n' trigger dependents "push→all pushed (ms)"
echo "$out" | awk '/^BenchmarkPushToRebuilt/ {
	split($1, p, "/"); mode = p[2]; dep = p[3]; sub(/dependents=/, "", dep); sub(/-[0-9]+$/, "", dep)
	for (i = 2; i <= NF; i++) if ($i == "ms/push-to-all") ms = $(i-1)
	printf "%-8s %12s %22s\n", mode, dep, ms
}'
