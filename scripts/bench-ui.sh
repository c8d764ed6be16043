#!/usr/bin/env bash
# Benchmark the web UI in headless Chromium (Debian's chromium package):
# Navigation Timing (responseStart, domContentLoadedEventEnd, loadEventEnd,
# in ms from navigationStart; median of 5 loads) of the overview and of the
# images table, first page and page 100 sorted by critical findings, and of
# a vulnerability found in every image (its page lists 100 at a time), with
# IMAGES images (10,000) seeded through the store API.
#
#   time to first byte   responseStart
#   time to first render domContentLoadedEventEnd (the server renders the page)
#   time to interactive  loadEventEnd (the page's script has run)
#
# Usage: scripts/bench-ui.sh   (scale with IMAGES)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${IMAGES:=10000}"
export DRYDOCK_BENCH_UI_IMAGES=$IMAGES
command -v chromium >/dev/null || { echo "bench-ui.sh: needs chromium (apt-get install chromium)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -count=1 -run '^$' -bench '^BenchmarkUI$' -benchtime 1x -timeout 30m ./internal/server 2>&1 | tee "$out" >&2
metric() { # unit
	awk -v u="$1" '$1 ~ /^BenchmarkUI(-[0-9]+)?$/ { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}
[[ -n $(metric overview-load-ms) ]] || { echo "bench-ui.sh: benchmark failed" >&2; exit 1; }
echo
printf '%-44s %12s %14s %16s\n' "page ($IMAGES images)" "first byte" "first render" "interactive"
for p in overview images images-sorted-p100 vulnerability-in-all; do
	printf '%-44s %9s ms %11s ms %13s ms\n' "$p" "$(metric "$p-ttfb-ms")" "$(metric "$p-dcl-ms")" "$(metric "$p-load-ms")"
done
printf '%-44s %s\n' "load average during the run (2 cores)" "$(cut -d' ' -f1 /proc/loadavg)"
