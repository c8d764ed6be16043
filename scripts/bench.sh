#!/usr/bin/env bash
# Benchmark for the scan foundation: ./scripts/bench.sh
#
# Scans the cached Debian bookworm minbase image (scripts/debian-rootfs.sh,
# written once as an OCI layout under .bench/) and prints:
#   - the time to merely decompress all its layers (gzip -dc of each layer blob
#     of the OCI layout to /dev/null): the floor for any scanner reading them,
#   - the cold `drydock sbom` time on the same layout (empty cache),
#   - cold / decompress            (target <= 1.5),
#   - the warm rescan time          (target < 100 ms),
#   - peak RSS from /usr/bin/time -v (target < 150 MB).
# DRYDOCK_BIN=path measures that binary instead of building one.
# Times are medians of BENCH_RUNS runs (default 3; warm runs: 5). It measures;
# it does not fail when a target is missed (only when something breaks).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
runs=${BENCH_RUNS:-3}
warm_runs=${BENCH_WARM_RUNS:-5}

log() { echo "bench: $*" >&2; }
# shellcheck source=lib/bench.sh
source "$root/scripts/lib/bench.sh"

ensure_gnu_time

rootfs=$("$root/scripts/debian-rootfs.sh")

bench="$root/.bench"
mkdir -p "$bench"
work=$(mktemp -d "$bench/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# DRYDOCK_BIN: measure a prebuilt binary instead of building ./cmd/drydock.
drydock=${DRYDOCK_BIN:-$bench/drydock}
if [[ -z ${DRYDOCK_BIN:-} ]]; then
	log "building drydock"
	go build -o "$drydock" ./cmd/drydock
fi

# The OCI layout is rebuilt when the rootfs cache changes.
debian_layout "$rootfs"
layout=$base_layout

layer_blobs "$layout" # also warms the page cache for the decompress and cold runs
[[ ${#layers[@]} -gt 0 ]] || { log "no layers found in $layout"; exit 1; }

# run_sbom CACHE OUT TIMEFILE: one timed drydock sbom; prints wall ns.
run_sbom() { timed "$2" "$3" sbom --format json --cache-dir "$1" "$layout"; }

time_decompress "$runs"

log "cold drydock sbom: $runs runs, each with an empty cache"
cold=() cold_rss=()
for ((i = 0; i < runs; i++)); do
	cache="$work/cache.$i"
	mkdir -p "$cache"
	cold+=("$(run_sbom "$cache" "$work/cold.json" "$work/cold.time")")
	cold_rss+=("$(rss_kb "$work/cold.time")")
done

log "warm drydock sbom: $warm_runs runs on the last cold run's cache"
warm=() warm_rss=()
for ((i = 0; i < warm_runs; i++)); do
	warm+=("$(run_sbom "$cache" "$work/warm.json" "$work/warm.time")")
	warm_rss+=("$(rss_kb "$work/warm.time")")
done

dec_ns=$(printf '%s\n' "${dec[@]}" | median)
cold_ns=$(printf '%s\n' "${cold[@]}" | median)
warm_ns=$(printf '%s\n' "${warm[@]}" | median)
cold_rss_kb=$(printf '%s\n' "${cold_rss[@]}" | maxof)
warm_rss_kb=$(printf '%s\n' "${warm_rss[@]}" | maxof)
ratio=$(awk -v c="$cold_ns" -v d="$dec_ns" 'BEGIN {printf "%.2f", c/d}')
pkgs=$(grep -oE '"type": *"deb"' "$work/cold.json" | wc -l || true)
nlayers_out=$(grep -oE '"diffId": *"' "$work/warm.json" | wc -l || true)
cached_out=$(grep -oE '"cached": *true' "$work/warm.json" | wc -l || true)

verdict() { if awk "BEGIN {exit !($1)}"; then echo pass; else echo MISS; fi; }

echo
echo "drydock sbom benchmark: Debian bookworm minbase as an OCI layout ($layout)"
echo "  ${#layers[@]} layer(s), $(mib "$compressed") compressed, $(mib "$uncompressed") uncompressed;" \
	"$pkgs deb packages found; warm run: $cached_out of $nlayers_out layers cached"
echo "  $(nproc) CPUs, $(go env GOVERSION), medians of $runs runs (warm: $warm_runs)"
echo
printf '%-36s %14s %12s  %s\n' "measure" "value" "target" "result"
printf '%-36s %14s %12s  %s\n' "------------------------------------" "--------------" "------------" "------"
printf '%-36s %14s %12s  %s\n' "decompress all layers (gzip -dc)" "$(ms "$dec_ns") ms" "" ""
printf '%-36s %14s %12s  %s\n' "cold drydock sbom (empty cache)" "$(ms "$cold_ns") ms" "" ""
printf '%-36s %14s %12s  %s\n' "cold / decompress" "$ratio" "<= 1.5" "$(verdict "$ratio <= 1.5")"
printf '%-36s %14s %12s  %s\n' "warm rescan" "$(ms "$warm_ns") ms" "< 100 ms" "$(verdict "$warm_ns < 100000000")"
printf '%-36s %14s %12s  %s\n' "peak RSS, cold (max of runs)" "$(kib_mib "$cold_rss_kb")" "< 150 MB" "$(verdict "$cold_rss_kb * 1024 < 150000000")"
printf '%-36s %14s %12s  %s\n' "peak RSS, warm (max of runs)" "$(kib_mib "$warm_rss_kb")" "< 150 MB" "$(verdict "$warm_rss_kb * 1024 < 150000000")"

# drydock scan on the same image: the database import of the four real OSV
# sets, then a cold scan (empty layer cache) and warm scans. The Debian image
# has no Debian advisories to match here (no Debian export is available
# offline), so this times the pipeline, not the finding count.
vulndata=${DRYDOCK_VULNDATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/vulndata}
if [[ -d $vulndata/osv-bucket-layout ]]; then
	data="$work/data"
	t0=$(now_ns)
	"$drydock" db import --data-dir "$data" "$vulndata"/osv-bucket-layout/*/all.zip >/dev/null
	imp_ns=$(($(now_ns) - t0))
	dbsize=$(stat -c %s "$data/vulndb.sqlite")
	run_scan() { timed "$2" "$3" scan --format json --data-dir "$data" --cache-dir "$1" "$layout"; }
	scold=() swarm=()
	for ((i = 0; i < runs; i++)); do
		mkdir -p "$work/scache.$i"
		scold+=("$(run_scan "$work/scache.$i" "$work/scold.json" "$work/scold.time")")
	done
	for ((i = 0; i < warm_runs; i++)); do
		swarm+=("$(run_scan "$work/scache.0" "$work/swarm.json" "$work/swarm.time")")
	done
	scold_ns=$(printf '%s\n' "${scold[@]}" | median)
	swarm_ns=$(printf '%s\n' "${swarm[@]}" | median)
	echo
	echo "drydock scan benchmark (same image; database: Go, PyPI, crates.io, AlmaLinux OSV sets)"
	printf '%-36s %14s %12s  %s\n' "db import, four real sets" "$(ms "$imp_ns") ms" "" ""
	printf '%-36s %14s %12s  %s\n' "database file size" "$(mib "$dbsize")" "" ""
	printf '%-36s %14s %12s  %s\n' "cold drydock scan" "$(ms "$scold_ns") ms" "" ""
	printf '%-36s %14s %12s  %s\n' "warm drydock scan" "$(ms "$swarm_ns") ms" "" ""
	printf '%-36s %14s %12s  %s\n' "cold scan / decompress" "$(awk -v c="$scold_ns" -v d="$dec_ns" 'BEGIN {printf "%.2f", c/d}')" "" ""
else
	echo "(no OSV data at $vulndata: scan benchmark skipped)"
fi
