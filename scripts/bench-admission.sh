#!/usr/bin/env bash
# Load-test drydock's admission webhook over HTTPS on loopback:
#   ./scripts/bench-admission.sh [admissionbench flags...]
# Builds drydock and test/admissionbench, then runs the cached phase (1,000
# requests/s, target p99 < 5 ms) and the uncached phase (a new signed digest
# per request: one registry round trip plus verification each), printing
# p50/p90/p99/max latency and the throughput achieved. Two more rows run
# against a second webhook with its cache off: pod100 (a Pod naming 100
# distinct signed images; the webhook's RSS before and at its peak is printed)
# and junk100 (a digest with 100 junk verdict referrers beside one valid
# verdict; "denied" counts requests that did not find it). Every phase is
# bounded in requests (--cached-n, --uncached-n, --pod100-n, --junk-n) and
# time (--phase-timeout).
# With DRYDOCK_K8S_BINS (or --k8s-bins) it also starts etcd and a
# kube-apiserver, a third webhook with --kubeconfig, and runs the creds phase:
# the cached Pod, now naming an imagePullSecret, so every request resolves
# the Pod's credentials (informer listers, keychain, identity hash, access
# cache), interleaved with the cached phase on the same loaded machine, and
# prints the ratio of their median p99s.
# Pass --referrers=false for a registry without the referrers API.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$(mktemp -d "${TMPDIR:-/tmp}/drydock-bench-admission.XXXXXX")
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/drydock" ./cmd/drydock
go build -o "$dir/admissionbench" ./test/admissionbench
"$dir/admissionbench" --drydock "$dir/drydock" "$@"
