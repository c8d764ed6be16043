#!/usr/bin/env bash
# THE test command: ./scripts/test.sh [go test args...]
#
# 1. installs what the tests need with apt-get (apt-get update only when a
#    package is missing), and staticcheck (pinned, built once from the Go
#    module proxy into ~/.cache/drydock-tools),
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
#      DRYDOCK_HELM            helm, built from the Go module proxy (scripts/lib/helm.sh)
#      DRYDOCK_DOCKER_HOST     unix:// socket of a Docker daemon started for the run
#                              (Debian's docker.io; scripts/lib/dockerd.sh)
# 5. checks go.mod is tidy, runs go vet ./... and staticcheck ./... (any
#    finding fails the run),
# 6. runs go test -json -count=1 (./... unless arguments are given) through
#    test/testsummary, which prints the output of failing tests, passed/
#    failed/skipped per package and a closing "N passed, N failed, N skipped"
#    line; the full JSON goes to $DRYDOCK_TEST_LOG (default: a file under
#    $TMPDIR named in the output). The run fails when a test fails or when
#    any test skipped because a real part was missing (its skip message
#    carries testenv.PartMarker, "needs real part: "),
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
# application image from a Dockerfile (drydock watch's build executor);
# binutils gives objcopy, which adds the .dep-v0 section in the
# cargo-auditable tests; bsdutils gives script(1), the pseudo-terminal of
# the CLI's progress test; npm (below) builds the real node_modules trees
# of the npm extractor's tests.
APT_PACKAGES=(debootstrap debian-archive-keyring gpgv docker-registry time curl util-linux tar gzip dpkg ca-certificates buildah binutils bsdutils)
APT_PACKAGES+=(postgresql) # the server's store and job tests (scripts/lib/postgres.sh)
APT_PACKAGES+=(chromium) # the web UI test (internal/server/ui_test.go) and scripts/bench-ui.sh
APT_PACKAGES+=(docker.io) # a real Docker daemon for "docker:" sources (scripts/lib/dockerd.sh)
# npm: Debian's package unless an npm is already on PATH (for example the
# one bundled in a nodejs package from elsewhere, which conflicts with it).
command -v npm >/dev/null || APT_PACKAGES+=(npm)

# staticcheck, pinned; built from the Go module proxy once per version.
STATICCHECK_VERSION=v0.8.2

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

# ensure_staticcheck prints the path of the pinned staticcheck, building it
# into the cache on first use (in a temporary GOBIN renamed into place, so
# an interrupted build never leaves a half-written binary).
ensure_staticcheck() {
	local dir="${XDG_CACHE_HOME:-$HOME/.cache}/drydock-tools/staticcheck-$STATICCHECK_VERSION"
	if [[ ! -x $dir/staticcheck ]]; then
		log "building staticcheck $STATICCHECK_VERSION into $dir"
		mkdir -p "$(dirname "$dir")"
		local tmp
		tmp=$(mktemp -d "$(dirname "$dir")/.staticcheck.XXXXXX")
		# Outside the module, so drydock's go.mod is neither read nor touched.
		if ! (cd "$tmp" && GOBIN="$tmp" GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION") >&2; then
			rm -rf "$tmp"
			return 1
		fi
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir/staticcheck"
}

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }

install_packages
staticcheck=$(ensure_staticcheck)

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
	declare -F dockerd_stop >/dev/null && dockerd_stop || true
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

# A Docker daemon for the "docker:" source tests: exports DRYDOCK_DOCKER_HOST.
source "$root/scripts/lib/dockerd.sh" && dockerd_start || log "no Docker daemon: the docker: source tests will skip (fail under CI=true)"

# etcd, kube-apiserver and kube-controller-manager for the real-cluster tests
# (internal/k8stest, test/k8s), built once from the Go module proxy and cached.
k8s_moddir="$root/../shared/k8s"
start=$SECONDS
DRYDOCK_K8S_BINS=$(K8SBINS_MODDIR="$k8s_moddir" "$k8s_moddir/ensure-k8s-bins.sh")
export DRYDOCK_K8S_BINS
log "DRYDOCK_K8S_BINS=$DRYDOCK_K8S_BINS ($((SECONDS - start))s)"

# helm for the chart tests (test/k8s/chart_test.go), built once from the Go module proxy.
DRYDOCK_HELM=$("$root/scripts/lib/helm.sh"); export DRYDOCK_HELM

log "go mod tidy -diff"
go mod tidy -diff || { log "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
log "go vet ./..."
go vet ./...
log "staticcheck ./... ($STATICCHECK_VERSION)"
"$staticcheck" ./...

if [[ $# -eq 0 ]]; then
	set -- ./...
fi
summary_bin="$run_dir/testsummary"
go build -o "$summary_bin" ./test/testsummary
test_log=${DRYDOCK_TEST_LOG:-$(mktemp "${TMPDIR:-/tmp}/drydock-test.XXXXXX.json")}
log "go test -json -count=1 -timeout 25m $* (full log: $test_log; $((SECONDS))s so far)"
set +e
go test -json -count=1 -timeout 25m "$@" | "$summary_bin" -log "$test_log"
rcs=("${PIPESTATUS[@]}")
set -e
# The summary's closing line stays the last line on success and on test
# failures (the summary itself says what failed); only an error of go test
# outside the JSON stream gets a line of its own.
if [[ ${rcs[1]} -ne 0 ]]; then
	exit 1
fi
if [[ ${rcs[0]} -ne 0 ]]; then
	log "go test exited ${rcs[0]} with no failing test in its output (see its errors above); full log: $test_log"
	exit 1
fi
