#!/usr/bin/env bash
# Benchmark for the language ecosystems: ./scripts/bench-lang.sh
#
# Scans an image whose application layer, on the cached Debian bookworm
# minbase layer (scripts/debian-rootfs.sh), holds a real large node_modules
# tree (npm install of popular packages: a few thousand packages) and a few
# large jars (the guava fixture, real jars from Debian's .debs under
# usr/share/java, and Spring-Boot-style fat jars nesting them), written once
# as an OCI layout under .bench/ and prints, from one run:
#   - the time to merely decompress all its layers (gzip -dc of each layer blob),
#   - cold `drydock sbom` and `drydock scan` times (empty cache), and their
#     ratio to the decompress time,
#   - warm rescan times,
#   - peak RSS from /usr/bin/time -v,
#   - package counts per type.
# The npm install and the Debian jars are cached under ~/.cache/drydock-test.
# DRYDOCK_BIN=path measures that binary instead of building one.
# Times are medians of BENCH_RUNS runs (default 3; warm runs: 5). It measures;
# it does not fail when a target is missed (only when something breaks).
# The Go benchmark over the same layout:
#   DRYDOCK_BENCH_LANG_LAYOUT=.bench/lang-layout go test -run '^$' -bench ScanLangImage -benchtime 3x ./test/e2e/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
runs=${BENCH_RUNS:-3}
warm_runs=${BENCH_WARM_RUNS:-5}

log() { echo "bench-lang: $*" >&2; }
# shellcheck source=lib/bench.sh
source "$root/scripts/lib/bench.sh"

ensure_gnu_time
command -v npm >/dev/null || { log "npm is needed to install the node_modules tree"; exit 1; }

rootfs=$("$root/scripts/debian-rootfs.sh")
test_cache="${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test"
vulndata=${DRYDOCK_VULNDATA:-$root/../shared/vulndata}
guava="$vulndata/fixtures/java/guava-31.1-jre.jar"
[[ -f $guava ]] || { log "no guava fixture at $guava (set DRYDOCK_VULNDATA)"; exit 1; }

bench="$root/.bench"
mkdir -p "$bench" "$test_cache"
work=$(mktemp -d "$bench/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

drydock=${DRYDOCK_BIN:-$bench/drydock-lang}
if [[ -z ${DRYDOCK_BIN:-} ]]; then
	log "building drydock"
	go build -o "$drydock" ./cmd/drydock
fi

# The Debian base as an OCI layout, shared with scripts/bench.sh (same path,
# same stamp), rebuilt when the rootfs cache changes.
debian_layout "$rootfs"

# A large real node_modules tree. --legacy-peer-deps: these tools' peer
# ranges conflict with each other; --ignore-scripts: nothing is built or run.
npm_pkgs=(webpack webpack-cli jest typescript eslint @babel/core react react-dom next react-scripts gatsby @angular/cli)
npm_flags=(--no-audit --no-fund --ignore-scripts --legacy-peer-deps)
npm_key=$(printf '%s\n' "${npm_pkgs[@]}" "${npm_flags[@]}" | sha256sum | cut -c1-16)
npm_dir="$test_cache/npm-big-$npm_key"
if [[ ! -f "$npm_dir/package-lock.json" ]]; then
	log "npm install ${npm_pkgs[*]} (once; cached in $npm_dir)"
	tmp=$(mktemp -d "$test_cache/npm-big-build.XXXXXX")
	echo '{"name":"drydock-bench-fixture","version":"1.0.0","private":true}' >"$tmp/package.json"
	(cd "$tmp" && npm install "${npm_flags[@]}" "${npm_pkgs[@]}" >"$tmp.log" 2>&1) ||
		{ log "npm install failed:"; tail -20 "$tmp.log" >&2; rm -rf "$tmp"; exit 1; }
	rm -f "$tmp.log"
	mv "$tmp" "$npm_dir"
fi

# Real jars from Debian packages: apt-get download + dpkg -x, never installed.
deb_jars=(libguava-java libcommons-lang3-java libjackson2-databind-java libjackson2-core-java liblog4j2-java libcommons-compress-java)
jar_key=$(printf '%s\n' "${deb_jars[@]}" | sha256sum | cut -c1-16)
jar_dir="$test_cache/debjars-$jar_key"
if [[ ! -d "$jar_dir/usr/share/java" ]]; then
	log "apt-get download ${deb_jars[*]} (once; cached in $jar_dir)"
	tmp=$(mktemp -d "$test_cache/debjars-build.XXXXXX")
	if ! (cd "$tmp" && apt-get download -q "${deb_jars[@]}" >/dev/null 2>&1); then
		"${sudo_cmd[@]}" apt-get update -q >/dev/null
		(cd "$tmp" && apt-get download -q "${deb_jars[@]}" >/dev/null)
	fi
	for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root"; done
	mv "$tmp/root" "$jar_dir"
	rm -rf "$tmp"
fi

# The image: base layer + one application layer, rebuilt when an input changes.
# It carries no base annotations (a name drydock would resolve over the
# network); the scans name the base with --base instead.
layout="$bench/lang-layout"
stamp="v2 $base_stamp npm-$npm_key jars-$jar_key $(stat -c %s "$guava")"
if [[ ! -f "$layout/index.json" || "$(cat "$layout.stamp" 2>/dev/null || true)" != "$stamp" ]]; then
	log "building the application layer"
	stage="$work/stage"
	mkdir -p "$stage/app/lib" "$stage/usr/share"
	cp -al "$npm_dir" "$stage/app/web" # hard links: no data copied
	cp -a "$jar_dir/usr/share/java" "$stage/usr/share/java"
	cp "$guava" "$stage/app/lib/"
	libs=()
	for j in "$jar_dir"/usr/share/java/*.jar; do
		[[ -L $j ]] && continue # versionless names are symlinks to the real jar
		libs+=("$(basename "$j")=$j")
	done
	gv="guava-31.1-jre.jar=$guava"
	go run ./test/e2e/mklangimage fatjar "$stage/app/lib/orders-service.jar" "$gv" "${libs[@]}"
	go run ./test/e2e/mklangimage fatjar "$stage/app/lib/billing-service.jar" "$gv" "a/$gv" "b/$gv" "c/$gv" "${libs[@]}"
	go run ./test/e2e/mklangimage fatjar "$stage/app/lib/search-service.jar" "$gv" "a/$gv" "${libs[@]:0:3}"
	tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C "$stage" -cf - app usr |
		gzip >"$work/app.tar.gz"
	rm -rf "$stage"
	log "writing the OCI layout ($layout)"
	go run ./test/e2e/mklangimage image -base-layout "$base_layout" -layer "$work/app.tar.gz" \
		-layout "$work/layout" -created-by "COPY app /app; npm install; apt-get install *-java" >/dev/null
	rm -rf "$layout" "$layout.stamp"
	mv "$work/layout" "$layout"
	echo "$stamp" >"$layout.stamp"
fi

layer_blobs "$layout" # also warms the page cache for the decompress and cold runs
[[ ${#layers[@]} -eq 2 ]] || { log "want 2 layers in $layout, found ${#layers[@]}"; exit 1; }

tree_pkgs=$(find "$npm_dir/node_modules" -name package.json -path '*/node_modules/*/package.json' | wc -l)
jars=$(find "$jar_dir/usr/share/java" -name '*.jar' -type f | wc -l)

time_decompress "$runs"

log "cold drydock sbom: $runs runs, each with an empty cache"
cold=() cold_rss=()
for ((i = 0; i < runs; i++)); do
	mkdir -p "$work/cache.$i"
	cold+=("$(timed "$work/cold.json" "$work/cold.time" sbom --format json --base "$base_layout" --cache-dir "$work/cache.$i" "$layout")")
	cold_rss+=("$(rss_kb "$work/cold.time")")
done
log "warm drydock sbom: $warm_runs runs"
warm=() warm_rss=()
for ((i = 0; i < warm_runs; i++)); do
	warm+=("$(timed "$work/warm.json" "$work/warm.time" sbom --format json --base "$base_layout" --cache-dir "$work/cache.0" "$layout")")
	warm_rss+=("$(rss_kb "$work/warm.time")")
done

# The database: Go, PyPI, the GHSA samples (npm, Maven) and, when this
# drydock reads it, the Debian security tracker data; one import call.
data="$work/data"
sources=("$vulndata"/osv-bucket-layout/Go/all.zip "$vulndata"/osv-bucket-layout/PyPI/all.zip "$vulndata"/ghsa-sample)
deb_tracker="$vulndata/debian/security-tracker-annotations"
db_note="Go, PyPI, GHSA npm+Maven samples"
if "$drydock" db import --data-dir "$work/probe" "$deb_tracker" >/dev/null 2>&1 &&
	"$drydock" db status --data-dir "$work/probe" 2>/dev/null | grep -q Debian; then
	sources+=("$deb_tracker")
	db_note="$db_note, Debian tracker sample"
fi
t0=$(now_ns)
"$drydock" db import --data-dir "$data" "${sources[@]}" >/dev/null
imp_ns=$(($(now_ns) - t0))

log "cold drydock scan: $runs runs, each with an empty cache"
scold=() scold_rss=()
for ((i = 0; i < runs; i++)); do
	mkdir -p "$work/scache.$i"
	scold+=("$(timed "$work/scold.json" "$work/scold.time" scan --format json --base "$base_layout" --data-dir "$data" --cache-dir "$work/scache.$i" "$layout")")
	scold_rss+=("$(rss_kb "$work/scold.time")")
done
log "warm drydock scan: $warm_runs runs"
swarm=() swarm_rss=()
for ((i = 0; i < warm_runs; i++)); do
	swarm+=("$(timed "$work/swarm.json" "$work/swarm.time" scan --format json --base "$base_layout" --data-dir "$data" --cache-dir "$work/scache.0" "$layout")")
	swarm_rss+=("$(rss_kb "$work/swarm.time")")
done

dec_ns=$(printf '%s\n' "${dec[@]}" | median)
cold_ns=$(printf '%s\n' "${cold[@]}" | median)
warm_ns=$(printf '%s\n' "${warm[@]}" | median)
scold_ns=$(printf '%s\n' "${scold[@]}" | median)
swarm_ns=$(printf '%s\n' "${swarm[@]}" | median)
ratio() { awk -v c="$1" -v d="$dec_ns" 'BEGIN {printf "%.2f", c/d}'; }
count_type() { grep -oE '"type": *"'"$2"'"' "$1" | wc -l || true; }
findings=$(grep -oE '"dataSource": *"' "$work/scold.json" | wc -l || true)
nlayers_out=$(grep -oE '"diffId": *"' "$work/warm.json" | wc -l || true)
cached_out=$(grep -oE '"cached": *true' "$work/warm.json" | wc -l || true)
problems=$(tr -d '\n ' <"$work/cold.json" | grep -oE '"problems":\[[^]]*\]' | grep -oE '"stage"' | wc -l || true)

echo
echo "drydock language-ecosystem benchmark: Debian bookworm minbase + app layer ($layout)"
echo "  ${#layers[@]} layers, $(mib "$compressed") compressed, $(mib "$uncompressed") uncompressed;" \
	"app layer: node_modules of ${npm_pkgs[*]} ($tree_pkgs package.json files under node_modules/*/)," \
	"$jars Debian jars + guava + 3 fat jars nesting them"
echo "  $(nproc) CPUs, $(go env GOVERSION), medians of $runs runs (warm: $warm_runs); database: $db_note"
echo "  packages found (cold sbom): $(count_type "$work/cold.json" npm) npm, $(count_type "$work/cold.json" maven) maven," \
	"$(count_type "$work/cold.json" deb) deb, $(count_type "$work/cold.json" golang) golang, $(count_type "$work/cold.json" pypi) pypi;" \
	"$problems problem(s); warm run: $cached_out of $nlayers_out layers cached"
echo
printf '%-36s %14s %12s  %s\n' "measure" "value" "ratio" "peak RSS"
printf '%-36s %14s %12s  %s\n' "------------------------------------" "--------------" "------------" "----------"
printf '%-36s %14s %12s  %s\n' "decompress all layers (gzip -dc)" "$(ms "$dec_ns") ms" "1.00" ""
printf '%-36s %14s %12s  %s\n' "cold drydock sbom (empty cache)" "$(ms "$cold_ns") ms" "$(ratio "$cold_ns")" "$(kib_mib "$(printf '%s\n' "${cold_rss[@]}" | maxof)")"
printf '%-36s %14s %12s  %s\n' "warm drydock sbom" "$(ms "$warm_ns") ms" "$(ratio "$warm_ns")" "$(kib_mib "$(printf '%s\n' "${warm_rss[@]}" | maxof)")"
printf '%-36s %14s %12s  %s\n' "db import (all sets, one call)" "$(ms "$imp_ns") ms" "" ""
printf '%-36s %14s %12s  %s\n' "cold drydock scan (empty cache)" "$(ms "$scold_ns") ms" "$(ratio "$scold_ns")" "$(kib_mib "$(printf '%s\n' "${scold_rss[@]}" | maxof)")"
printf '%-36s %14s %12s  %s\n' "warm drydock scan" "$(ms "$swarm_ns") ms" "$(ratio "$swarm_ns")" "$(kib_mib "$(printf '%s\n' "${swarm_rss[@]}" | maxof)")"
echo "  findings (cold scan): $findings"
tr -d '\n' <"$work/cold.json" | grep -oE '"message": *"[^"]*"' | sed 's/^/  problem: /' || true
