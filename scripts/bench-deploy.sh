#!/usr/bin/env bash
# Benchmark drydock's rollout search and runtime inventory against a real
# kube-apiserver + etcd on loopback (no controller-manager, no kubelet):
#
#   find + patch   DEPLOYMENTS Deployments in NAMESPACES namespaces, AFFECTED
#                  of which run the old image and opted in: time to find them
#                  and patch them to a new digest (no rollout wait)
#   runtime        `drydock runtime --format json` over PODS Pods with status,
#                  owned by ReplicaSets owned by Deployments: wall time and
#                  peak RSS (/usr/bin/time -v)
#
# Usage: scripts/bench-deploy.sh   (scale with DEPLOYMENTS, AFFECTED, NAMESPACES, PODS)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
: "${DEPLOYMENTS:=1000}" "${AFFECTED:=200}" "${NAMESPACES:=50}" "${PODS:=10000}"
command -v /usr/bin/time >/dev/null || { echo "bench-deploy.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
if [[ -z ${DRYDOCK_K8S_BINS:-} ]]; then
	k8s_moddir=$(cd "$root/../shared/k8s" && pwd)
	DRYDOCK_K8S_BINS=$(K8SBINS_MODDIR="$k8s_moddir" "$k8s_moddir/ensure-k8s-bins.sh")
fi
export DRYDOCK_K8S_BINS
export DRYDOCK_BENCH_DEPLOYMENTS=$DEPLOYMENTS DRYDOCK_BENCH_AFFECTED=$AFFECTED \
	DRYDOCK_BENCH_NAMESPACES=$NAMESPACES DRYDOCK_BENCH_PODS=$PODS
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -count=1 -run '^$' -bench 'BenchmarkRolloutFindAndPatch|BenchmarkRuntimePods' -benchtime 1x \
	-timeout 45m ./test/deploy 2>&1 | grep -v '^E[0-9]' | tee "$out" >&2
metric() { # benchmark unit
	awk -v b="$1" -v u="$2" '$1 ~ "^"b { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }' "$out"
}
ns_roll=$(metric BenchmarkRolloutFindAndPatch ns/op)
ns_rt=$(metric BenchmarkRuntimePods ns/op)
[[ -n $ns_roll && -n $ns_rt ]] || { echo "bench-deploy.sh: benchmark failed" >&2; exit 1; }
echo
printf '%-58s %s\n' "measure" "result"
printf '%-58s %s\n' "find affected ($AFFECTED of $DEPLOYMENTS Deployments, $NAMESPACES ns)" "$(metric BenchmarkRolloutFindAndPatch find-ms/op) ms"
printf '%-58s %s\n' "find + patch $AFFECTED (no wait)" "$(awk -v n="$ns_roll" 'BEGIN{printf "%.0f ms", n/1e6}')"
printf '%-58s %s\n' "drydock runtime --format json, $PODS Pods: wall time" "$(awk -v n="$ns_rt" 'BEGIN{printf "%.2f s", n/1e9}')"
printf '%-58s %s\n' "drydock runtime --format json, $PODS Pods: peak RSS" "$(metric BenchmarkRuntimePods peak-RSS-MiB) MiB"
printf '%-58s %s\n' "drydock runtime --format json, $PODS Pods: output" "$(metric BenchmarkRuntimePods json-MiB) MiB"
