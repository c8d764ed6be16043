#!/usr/bin/env bash
# THE test command: ./scripts/test.sh [go test args...]
#
# 1. installs what the tests need with apt-get (apt-get update only when a
#    package is missing),
# 2. builds or reuses the cached Debian bookworm minbase rootfs (scripts/debian-rootfs.sh),
# 3. starts Debian's docker-registry on a free loopback port (scripts/registry.sh),
# 4. exports for the tests:
#      DRYDOCK_E2E_ROOTFS      the rootfs directory
#      DRYDOCK_E2E_ROOTFS_TAR  its tarball (numeric owners)
#      DRYDOCK_E2E_REGISTRY    host:port of the registry
#      DRYDOCK_E2E_ROOTFS_UPGRADED_TAR  the rootfs after apt-get upgrade against
#                              bookworm-security (scripts/debian-rootfs-upgraded.sh)
#      DRYDOCK_E2E_NOTIFY_PORT, DRYDOCK_E2E_NOTIFY_TOKEN  the registry posts its
#                              push events to http://127.0.0.1:PORT/events/distribution?token=TOKEN,
#                              where the freshness test runs `drydock watch`
#      DRYDOCK_K8S_BINS        etcd + kube-apiserver + kube-controller-manager
#                              (../shared/k8s/ensure-k8s-bins.sh)
# 5. runs go vet ./... and go test -count=1 (./... unless arguments are given),
# and always stops the registry on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

log() { echo "test.sh: $*" >&2; }

# Packages the tests use: debootstrap (rootfs), docker-registry (e2e registry),
# time (/usr/bin/time -v in the benchmark), curl (registry readiness),
# util-linux (flock, setsid), tar, gzip, dpkg (dpkg-query on the rootfs);
# debian-archive-keyring and gpgv let debootstrap check the Release file
# (they are only Recommends of debootstrap); buildah builds the e2e
# application image from a Dockerfile (drydock watch's build executor).
APT_PACKAGES=(debootstrap debian-archive-keyring gpgv docker-registry time curl util-linux tar gzip dpkg ca-certificates buildah)
APT_PACKAGES+=(postgresql) # the server's store and job tests (scripts/lib/postgres.sh)
APT_PACKAGES+=(chromium) # the web UI test (internal/server/ui_test.go) and scripts/bench-ui.sh

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		sudo_cmd=(sudo)
	else
		log "not root and no sudo: cannot install packages or run debootstrap"
		exit 1
	fi
fi

install_packages() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
			missing+=("$p")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	log "installing ${missing[*]}"
	# Packages must not start services (docker-registry ships an init script):
	# deny service starts through policy-rc.d for the duration of the install
	# unless the machine already has one.
	local policy=/usr/sbin/policy-rc.d added_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
		"${sudo_cmd[@]}" chmod 755 "$policy"
		added_policy=1
	fi
	local rc=0
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
	if [[ $rc -eq 0 ]]; then
		"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
	fi
	[[ -n $added_policy ]] && "${sudo_cmd[@]}" rm -f "$policy"
	return $rc
}

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }

install_packages

start=$SECONDS
rootfs=$("${sudo_cmd[@]}" env XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}" "$root/scripts/debian-rootfs.sh")
rootfs_tar="$(dirname "$rootfs")/rootfs.tar"
[[ -d "$rootfs/var/lib/dpkg" && -f "$rootfs_tar" ]] || { log "bad rootfs cache at $rootfs"; exit 1; }
log "rootfs $rootfs ($((SECONDS - start))s)"
upgraded=$("${sudo_cmd[@]}" env XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}" "$root/scripts/debian-rootfs-upgraded.sh")
log "upgraded rootfs $upgraded ($((SECONDS - start))s)"

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/drydock-e2e-registry.XXXXXX")
cleanup() {
	local rc=$?
	"$root/scripts/registry.sh" stop "$run_dir" || true
	declare -F pg_stop >/dev/null && pg_stop || true
	rm -rf "$run_dir"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# drydock watch (started by the freshness e2e test) receives the registry's
# notifications: its port and token must be known before the registry starts.
export DRYDOCK_E2E_NOTIFY_PORT=${DRYDOCK_E2E_NOTIFY_PORT:-$(free_port)}
export DRYDOCK_E2E_NOTIFY_TOKEN=${DRYDOCK_E2E_NOTIFY_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
export DRYDOCK_REGISTRY_NOTIFY_URL="http://127.0.0.1:$DRYDOCK_E2E_NOTIFY_PORT/events/distribution?token=$DRYDOCK_E2E_NOTIFY_TOKEN"

port=
for ((attempt = 0; attempt < 5; attempt++)); do
	p=$(free_port)
	if "$root/scripts/registry.sh" start "$run_dir" "$p"; then
		port=$p
		break
	fi
done
[[ -n $port ]] || { log "could not start the registry"; exit 1; }

export DRYDOCK_E2E_ROOTFS=$rootfs
export DRYDOCK_E2E_ROOTFS_TAR=$rootfs_tar
export DRYDOCK_E2E_REGISTRY=127.0.0.1:$port
export DRYDOCK_E2E_ROOTFS_UPGRADED_TAR="$(dirname "$upgraded")/rootfs.tar"
log "DRYDOCK_E2E_ROOTFS=$DRYDOCK_E2E_ROOTFS"
log "DRYDOCK_E2E_ROOTFS_TAR=$DRYDOCK_E2E_ROOTFS_TAR"
log "DRYDOCK_E2E_REGISTRY=$DRYDOCK_E2E_REGISTRY"

# PostgreSQL for the store and job tests: exports DRYDOCK_TEST_POSTGRES.
source "$root/scripts/lib/postgres.sh" && pg_start

# etcd, kube-apiserver and kube-controller-manager for the real-cluster tests
# (internal/k8stest, test/k8s), built once from the Go module proxy and cached.
k8s_moddir="$root/../shared/k8s"
start=$SECONDS
DRYDOCK_K8S_BINS=$(K8SBINS_MODDIR="$k8s_moddir" "$k8s_moddir/ensure-k8s-bins.sh")
export DRYDOCK_K8S_BINS
log "DRYDOCK_K8S_BINS=$DRYDOCK_K8S_BINS ($((SECONDS - start))s)"

log "go vet ./..."
go vet ./...

if [[ $# -eq 0 ]]; then
	set -- ./...
fi
log "go test -count=1 -timeout 25m $*"
go test -count=1 -timeout 25m "$@"
log "ok ($((SECONDS))s)"
