#!/usr/bin/env bash
# Patch in place vs full rebuild, in the same run: the time and the bytes
# added by `drydock patch --all-updates` on the debootstrap bookworm image
# against bookworm-security, beside `apt-get upgrade` run by buildah on the
# same image (a full rebuild of its one layer). Both use buildah's vfs
# storage and chroot isolation on a fresh storage each; both download the
# same packages from the same sources. Prints a table and the ratios.
#
#   ./scripts/bench-patch.sh            (root; uses the cached rootfs of scripts/debian-rootfs.sh)
#
# The security archive is the one apt on this machine names for
# bookworm-security (or DRYDOCK_DEBIAN_SECURITY_MIRROR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { echo "bench-patch: $*" >&2; }
# shellcheck source=lib/cache.sh
source "$root/scripts/lib/cache.sh"

command -v buildah >/dev/null || { log "buildah is not installed (apt-get install buildah)"; exit 1; }
rootfs=$("$root/scripts/debian-rootfs.sh")
rootfs_tar="$(dirname "$rootfs")/rootfs.tar"
sec=${DRYDOCK_DEBIAN_SECURITY_MIRROR:-$(apt_source_uri bookworm-security)} || { log "no apt source for bookworm-security"; exit 1; }
source_line="deb $sec bookworm-security main"

work=$(mktemp -d "${TMPDIR:-/tmp}/drydock-bench-patch.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/drydock" ./cmd/drydock
go run ./test/e2e/mkimage -rootfs-tar "$rootfs_tar" -layout "$work/in" >&2

now() { date +%s.%N; }

# 1. drydock patch: one layer on top of the original.
t0=$(now)
"$work/drydock" --cache-dir "$work/cache" patch "oci:$work/in" -t "oci:$work/patched:p" --all-updates \
	--apt-source "$source_line" -f json >"$work/patch.json"
t1=$(now)
patch_s=$(echo "$t1 - $t0" | bc)
patch_bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layerSize"])' "$work/patch.json")
patch_n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["upgrades"]))' "$work/patch.json")

# 2. Full rebuild: apt-get upgrade in buildah, committed and squashed into
#    one new image of the same shape (the base layer rebuilt).
store=(--storage-driver vfs --root "$work/b/root" --runroot "$work/b/run")
t0=$(now)
ctr=$(cd "$work" && buildah "${store[@]}" from --pull-never --quiet oci:in)
echo "$source_line" >"$work/security.list"
buildah "${store[@]}" copy "$ctr" "$work/security.list" /etc/apt/sources.list.d/security.list >/dev/null
buildah "${store[@]}" run --isolation chroot "$ctr" -- sh -c \
	'DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade && apt-get clean && rm -rf /var/lib/apt/lists/*' >"$work/upgrade.log" 2>&1
(cd "$work" && buildah "${store[@]}" commit --squash --quiet "$ctr" oci:rebuilt:r >/dev/null)
t1=$(now)
rebuild_s=$(echo "$t1 - $t0" | bc)
rebuild_bytes=$(python3 - "$work/rebuilt" <<'PY'
import json, os, sys
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
m = json.load(open(os.path.join(d, "blobs", *idx["manifests"][0]["digest"].split(":"))))
# buildah may write the squashed layer uncompressed: count what a push of
# it gzip-compressed (as the patch layer is) would send.
import gzip, shutil, zlib
total = 0
for l in m["layers"]:
    blob = os.path.join(d, "blobs", *l["digest"].split(":"))
    if l["mediaType"].endswith("gzip"):
        total += l["size"]
        continue
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    with open(blob, "rb") as f:
        while chunk := f.read(1 << 20):
            total += len(c.compress(chunk))
    total += len(c.flush())
print(total)
PY
)
rebuild_n=$(grep -c '^Unpacking\|^Preparing to unpack' "$work/upgrade.log" | awk '{print int($1/2)}')

printf '\n%-34s %10s %16s %10s\n' "" "seconds" "bytes to push (gzip)" "packages"
printf '%-34s %10.1f %16d %10d\n' "drydock patch (one layer)" "$patch_s" "$patch_bytes" "$patch_n"
printf '%-34s %10.1f %16d %10s\n' "apt-get upgrade rebuild (buildah)" "$rebuild_s" "$rebuild_bytes" "$rebuild_n"
printf '\npatch/rebuild: time %.2f, bytes %.3f\n' "$(echo "$patch_s / $rebuild_s" | bc -l)" "$(echo "$patch_bytes / $rebuild_bytes" | bc -l)"
