#!/usr/bin/env bash
# Print the path of a cached minbase Debian bookworm root filesystem, building
# it with debootstrap on first use (about 3 minutes).
#
# Cache layout (CACHE = ${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test/debian-bookworm-minbase):
#   CACHE/rootfs/      the root filesystem
#   CACHE/rootfs.tar   tar of it with numeric owners (tar --numeric-owner -C rootfs -cf rootfs.tar .)
#   CACHE/.complete    marker written last
#
# The build runs under flock into a temporary directory beside CACHE and is
# renamed into place only when complete, so a killed run never leaves a half
# cache (scripts/lib/cache.sh, shared with debian-rootfs-upgraded.sh). The
# mirror is the one apt on this machine is configured with (or
# DRYDOCK_DEBIAN_MIRROR when set); no host name is written here.
#
# stdout: the rootfs directory (the tarball is its sibling rootfs.tar).
# stderr: progress.
set -euo pipefail

SUITE=bookworm
log() { echo "debian-rootfs: $*" >&2; }
# shellcheck source=lib/cache.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cache.sh"
cache_init debian-bookworm-minbase

cache_exit_if_complete

if [[ $(id -u) -ne 0 ]]; then
	log "debootstrap needs root"
	exit 1
fi
for cmd in debootstrap flock tar; do
	command -v "$cmd" >/dev/null || { log "missing $cmd (apt-get install debootstrap util-linux tar)"; exit 1; }
done

# mirror prints the first archive URI apt is configured with for $SUITE.
mirror() {
	if [[ -n "${DRYDOCK_DEBIAN_MIRROR:-}" ]]; then
		echo "$DRYDOCK_DEBIAN_MIRROR"
		return
	fi
	apt_source_uri "$SUITE"
}

cache_lock
url=$(mirror) || { log "no apt source for $SUITE found in /etc/apt (set DRYDOCK_DEBIAN_MIRROR)"; exit 1; }
cache_mktemp

log "debootstrap --variant=minbase $SUITE from $url (about 3 minutes)"
start=$SECONDS
if ! debootstrap --variant=minbase "$SUITE" "$tmp/rootfs" "$url" >"$tmp/debootstrap.log" 2>&1; then
	log "debootstrap failed; last lines of its log:"
	tail -n 30 "$tmp/debootstrap.log" >&2
	[[ -f "$tmp/rootfs/debootstrap/debootstrap.log" ]] && tail -n 30 "$tmp/rootfs/debootstrap/debootstrap.log" >&2
	exit 1
fi
unmount_under "$tmp/rootfs"
# debootstrap leaves the downloaded .debs in the apt cache; drop them as
# `apt-get clean` (and every Debian container image) does, which halves the size.
find "$tmp/rootfs/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
log "debootstrap done in $((SECONDS - start))s; writing rootfs.tar"
tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
cache_commit
log "cached in $cache ($(du -sh "$cache" | cut -f1))"
echo "$cache/rootfs"
