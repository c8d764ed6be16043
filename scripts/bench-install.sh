#!/usr/bin/env bash
# Install benchmark: ./scripts/bench-install.sh
#   1. drydock's own image (scripts/image.sh into an OCI layout), built twice:
#      build time of each run, the index digest of each (they must match:
#      the build is reproducible), and the image size per platform
#      (compressed layers: the base, then drydock) beside the static binary.
#   2. The webhook's cold start to ready (`admission serve --cert-secret`
#      against a real kube-apiserver: certificate generated and stored,
#      namespace informer synced, /readyz answering over TLS), in ms, the
#      median of a few starts (BenchmarkWebhookColdStart in test/k8s).
# Needs the k8s binaries (../shared/k8s/ensure-k8s-bins.sh) for part 2.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { echo "bench-install: $*" >&2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/drydock-bench-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

digests=()
for run in 1 2; do
	t0=$(date +%s%N)
	./scripts/image.sh --layout "$work/layout$run" >"$work/out$run" 2>"$work/err$run" || { cat "$work/err$run" >&2; exit 1; }
	t1=$(date +%s%N)
	d=$(awk '$1 == "index" {print $2}' "$work/out$run")
	digests+=("${d#*@}")
	printf 'image build %d: %.1f s  index %s\n' "$run" "$(awk -v n=$((t1 - t0)) 'BEGIN {print n/1e9}')" "${d#*@}"
done
if [[ ${digests[0]} == "${digests[1]}" ]]; then
	echo "reproducible: yes (same index digest twice)"
else
	echo "reproducible: NO (${digests[0]} != ${digests[1]})"
fi

# Sizes from the layout: each platform manifest's layers.
go run ./scripts/imagebuild/size "$work/layout1" "${digests[0]}"

bins=$(K8SBINS_MODDIR="$PWD/../shared/k8s" "$PWD/../shared/k8s/ensure-k8s-bins.sh") || { log "no k8s binaries: skipping the cold start"; exit 0; }
log "webhook cold start (3 starts)"
DRYDOCK_K8S_BINS=$bins go test -count=1 -run '^$' -bench BenchmarkWebhookColdStart -benchtime=3x ./test/k8s |
	awk '/BenchmarkWebhookColdStart/ {for (i = 1; i <= NF; i++) {if ($(i+1) == "ms-to-ready") w=$i; if ($(i+1) == "ms-self-reported") s=$i}}
	     END {printf "webhook cold start to ready: %s ms (exec to /readyz over TLS), %s ms as the process reports it\n", w, s}'
