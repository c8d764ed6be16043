# shellcheck shell=bash
# Sourced (not run) by the image benchmarks (scripts/bench.sh,
# scripts/bench-lang.sh): timing, medians, peak RSS and the Debian base image
# they both scan. The sourcing script defines log() (progress on stderr) and
# sets $drydock (the binary timed), $bench (.bench/) and $work (a scratch
# directory it removes) before calling the functions that use them.

# ensure_gnu_time installs /usr/bin/time (for -v: peak RSS) when missing;
# sudo_cmd is "sudo" unless running as root.
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
ensure_gnu_time() {
	[[ -x /usr/bin/time ]] && return
	log "installing time (for /usr/bin/time -v)"
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null 2>&1 ||
		{ "${sudo_cmd[@]}" apt-get update -q >/dev/null && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null; }
}

now_ns() { date +%s%N; }
# median of the integers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { sort -n | tail -n1; }
ms() { awk -v ns="$1" 'BEGIN {printf "%.1f", ns/1e6}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b/1048576}'; }
kib_mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k/1024}'; }
# rss_kb TIMEFILE: the peak RSS /usr/bin/time -v wrote to TIMEFILE, in KiB.
rss_kb() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

# timed OUT TIMEFILE drydock-args...: one timed drydock run; prints wall ns.
timed() {
	local out=$1 tf=$2 t0 t1
	shift 2
	t0=$(now_ns)
	if ! /usr/bin/time -v -o "$tf" "$drydock" "$@" >"$out" 2>"$out.err"; then
		log "drydock $* failed:"
		cat "$out.err" >&2
		exit 1
	fi
	t1=$(now_ns)
	echo $((t1 - t0))
}

# debian_layout ROOTFS: writes the cached Debian rootfs (scripts/debian-rootfs.sh)
# as an OCI layout at $bench/debian-bookworm-layout, shared by the benchmarks
# (same path, same stamp) and rebuilt when the rootfs cache changes. Sets
# base_layout and base_stamp.
debian_layout() {
	local cache_root rootfs_tar
	cache_root=$(dirname "$1")
	rootfs_tar="$cache_root/rootfs.tar"
	base_layout="$bench/debian-bookworm-layout"
	base_stamp="$(cat "$cache_root/.complete") $(stat -c %s "$rootfs_tar")"
	if [[ ! -f "$base_layout/index.json" || "$(cat "$base_layout.stamp" 2>/dev/null || true)" != "$base_stamp" ]]; then
		log "writing the Debian image as an OCI layout ($base_layout)"
		rm -rf "$base_layout" "$base_layout.stamp"
		go run ./test/e2e/mkimage -rootfs-tar "$rootfs_tar" -layout "$work/base-layout" >/dev/null
		mv "$work/base-layout" "$base_layout"
		echo "$base_stamp" >"$base_layout.stamp"
	fi
}

# layer_blobs LAYOUT: the layer blobs of the (single) image in an OCI layout.
# Sets layers (their paths), compressed and uncompressed (total bytes);
# decompressing them also warms the page cache for the runs that follow.
layer_blobs() {
	local layout=$1 manifest_digest layer_digests d l
	blob() { echo "$layout/blobs/${1%%:*}/${1#*:}"; }
	digests() { grep -oE '"digest": *"sha256:[0-9a-f]{64}"' | grep -oE 'sha256:[0-9a-f]{64}'; }
	manifest_digest=$(digests <"$layout/index.json" | head -n1)
	layer_digests=$(tr -d '\n' <"$(blob "$manifest_digest")" | sed 's/.*"layers": *\[//' | digests)
	layers=()
	compressed=0
	for d in $layer_digests; do
		layers+=("$(blob "$d")")
		compressed=$((compressed + $(stat -c %s "$(blob "$d")")))
	done
	uncompressed=0
	for l in "${layers[@]}"; do
		uncompressed=$((uncompressed + $(gzip -dc "$l" | wc -c)))
	done
}

# time_decompress RUNS: times gzip -dc of every layer in $layers RUNS times;
# sets dec to the wall ns of each run.
time_decompress() {
	local i l t0 t1
	log "decompress: $1 runs"
	dec=()
	for ((i = 0; i < $1; i++)); do
		t0=$(now_ns)
		for l in "${layers[@]}"; do gzip -dc "$l" >/dev/null; done
		t1=$(now_ns)
		dec+=($((t1 - t0)))
	done
}
