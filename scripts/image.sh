#!/usr/bin/env bash
# image.sh: build drydock's own OCI image without a container daemon.
#
#   ./scripts/image.sh --push REGISTRY/REPO[:TAG] [--insecure] [--key cosign.key]
#   ./scripts/image.sh --layout DIR
#
# Cross-compiles a static drydock (CGO_ENABLED=0, -trimpath, no build id,
# version and revision stamped) for linux/amd64 and linux/arm64, and
# assembles, with scripts/imagebuild, an index of two images: Debian's CA
# certificates (from the ca-certificates package on this machine) and an
# /etc/passwd naming the non-root user 65532, then the binary. Every
# timestamp is the commit time, so the same commit gives the same digest.
# The base alone is pushed as REPO:base-<ca-certificates version> and named in
# the org.opencontainers.image.base.* annotations.
#
# With --push, each platform image gets its CycloneDX SBOM (drydock sbom of
# the pushed image) as an OCI referrer; with --key too, drydock attest signs
# the index and the host platform's image with its verdict, decided by
# --policy FILE or else --fail-on SEVERITY (default high: drydock's own image
# fails its verdict when a HIGH or CRITICAL finding remains).
#
# Output (stdout): "index REPO@sha256:…" and one "OS/ARCH REPO@sha256:…" line
# per platform; progress goes to stderr.
# Env: DRYDOCK_IMAGE_PLATFORMS (default "linux/amd64 linux/arm64"),
# DRYDOCK_IMAGE_SOURCE (source URL annotation).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

push= layout= insecure= key= policy= fail_on=high
while [[ $# -gt 0 ]]; do
	case $1 in
	--push) push=$2; shift 2 ;;
	--layout) layout=$2; shift 2 ;;
	--insecure) insecure=1; shift ;;
	--key) key=$2; shift 2 ;;
	--policy) policy=$2; shift 2 ;;
	--fail-on) fail_on=$2; shift 2 ;;
	-h | --help) sed -n '2,27p' "$0"; exit 0 ;;
	*) echo "image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [[ -z $push && -z $layout ]] || [[ -n $push && -n $layout ]]; then
	echo "image.sh: give one of --push REPO[:TAG] or --layout DIR" >&2
	exit 2
fi
if [[ -n $key && -z $push ]]; then
	echo "image.sh: --key needs --push (verdicts are pushed next to the image)" >&2
	exit 2
fi

log() { echo "image.sh: $*" >&2; }
t0=$(date +%s%N)

revision=$(git rev-parse HEAD)
created=$(git log -1 --format=%ct HEAD)
version=$(git describe --tags --always --dirty 2>/dev/null || echo "$revision")
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
	log "warning: the work tree has uncommitted changes; the image is not reproducible from $revision"
fi
source_url=${DRYDOCK_IMAGE_SOURCE:-https://github.com/drydock/drydock}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/drydock-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# CA certificates: the files Debian's package ships, in a fixed order (not
# /etc/ssl/certs/ca-certificates.crt, which local certificates may join).
ca_version=$(dpkg-query -W -f='${Version}' ca-certificates 2>/dev/null) || {
	log "Debian's ca-certificates package is not installed (apt-get install ca-certificates)"
	exit 1
}
dpkg -L ca-certificates | grep '^/usr/share/ca-certificates/.*\.crt$' | LC_ALL=C sort | xargs cat >"$tmp/ca-certificates.crt"

bins=()
for plat in ${DRYDOCK_IMAGE_PLATFORMS:-linux/amd64 linux/arm64}; do
	os=${plat%/*} arch=${plat#*/}
	log "go build $plat"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS=-buildvcs=false go build -trimpath \
		-ldflags "-s -w -buildid= -X main.version=$version" \
		-o "$tmp/drydock-$os-$arch" ./cmd/drydock
	bins+=(--binary "$plat=$tmp/drydock-$os-$arch")
done
t_build=$(date +%s%N)

go build -o "$tmp/imagebuild" ./scripts/imagebuild
args=("${bins[@]}" --ca-bundle "$tmp/ca-certificates.crt" --ca-version "$ca_version"
	--created "$created" --source "$source_url" --revision "$revision" --version "$version")
[[ -n $insecure ]] && args+=(--insecure)
if [[ -n $layout ]]; then
	"$tmp/imagebuild" build "${args[@]}" --layout "$layout" | tee "$tmp/out"
else
	"$tmp/imagebuild" build "${args[@]}" --push "$push" | tee "$tmp/out"
fi
t_image=$(date +%s%N)
log "binaries $(((t_build - t0) / 1000000)) ms, image $(((t_image - t_build) / 1000000)) ms"

[[ -n $push ]] || exit 0

# The SBOM of each platform image, by drydock itself, as a referrer.
host_bin="$tmp/drydock-$(go env GOOS)-$(go env GOARCH)"
[[ -x $host_bin ]] || go build -trimpath -o "$host_bin" ./cmd/drydock
ins=()
[[ -n $insecure ]] && ins=(--insecure)
while read -r what ref; do
	[[ $what == index ]] && continue
	f="$tmp/sbom-${what//\//-}.json"
	"$host_bin" sbom "${ins[@]}" -f cyclonedx -o "$f" "$ref"
	"$tmp/imagebuild" attach-sbom "${ins[@]}" --created "$created" --subject "$ref" --sbom "$f" >&2
done <"$tmp/out"

if [[ -n $key ]]; then
	index=$(awk '$1 == "index" {print $2}' "$tmp/out")
	# scripts/image-ignore.yaml: findings that do not apply, each with its reason.
	pol=(--fail-on "$fail_on" --ignore-file scripts/image-ignore.yaml)
	[[ -n $policy ]] && pol=(--policy "$policy")
	log "drydock attest $index"
	"$host_bin" attest "${ins[@]}" "${pol[@]}" --key "$key" "$index" >&2
fi
