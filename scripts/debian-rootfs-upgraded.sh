#!/usr/bin/env bash
# Print the path of a cached, genuinely newer Debian bookworm root filesystem:
# a copy of the minbase rootfs (scripts/debian-rootfs.sh) upgraded with
# `apt-get upgrade` against bookworm-security. Used by the end-to-end tests of
# "drydock watch" as the patched base image.
#
# Cache layout (CACHE = ${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test/debian-bookworm-upgraded):
#   CACHE/rootfs/      the upgraded root filesystem
#   CACHE/rootfs.tar   tar of it with numeric owners
#   CACHE/upgraded.txt the packages apt-get upgraded (dpkg-query before/after)
#   CACHE/.complete    marker written last
#
# Built under flock into a temporary directory and renamed into place only when
# complete (scripts/lib/cache.sh, shared with debian-rootfs.sh). The security
# archive is the one apt on this machine names for bookworm-security (or
# DRYDOCK_DEBIAN_SECURITY_MIRROR); no host name is written here. Fails when the
# upgrade changes nothing: the tests need a newer base.
#
# stdout: the rootfs directory.  stderr: progress.
set -euo pipefail

SUITE=bookworm
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "debian-rootfs-upgraded: $*" >&2; }
# shellcheck source=lib/cache.sh
source "$root/scripts/lib/cache.sh"
cache_init debian-bookworm-upgraded

cache_exit_if_complete
[[ $(id -u) -eq 0 ]] || { log "chroot needs root"; exit 1; }

base=$("$root/scripts/debian-rootfs.sh")

# security_uri prints the URI apt on this machine uses for $SUITE-security.
security_uri() {
	if [[ -n "${DRYDOCK_DEBIAN_SECURITY_MIRROR:-}" ]]; then
		echo "$DRYDOCK_DEBIAN_SECURITY_MIRROR"
		return
	fi
	apt_source_uri "$SUITE-security"
}

cache_lock
sec=$(security_uri) || { log "no apt source for $SUITE-security in /etc/apt (set DRYDOCK_DEBIAN_SECURITY_MIRROR)"; exit 1; }
cache_mktemp

mkdir "$tmp/rootfs"
tar --numeric-owner -C "$tmp/rootfs" -xf "$(dirname "$base")/rootfs.tar"
r=$tmp/rootfs
echo "deb $sec $SUITE-security main" >"$r/etc/apt/sources.list.d/security.list"
cp -L /etc/resolv.conf "$r/etc/resolv.conf"
mount -t proc proc "$r/proc"
mount --bind /dev "$r/dev"
before=$(chroot "$r" dpkg-query -W -f '${Package} ${Version}\n')
log "apt-get update && apt-get -y upgrade against $SUITE-security"
if ! chroot "$r" env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -q && apt-get -y -q upgrade && apt-get clean' >"$tmp/upgrade.log" 2>&1; then
	log "upgrade failed; last lines:"
	tail -n 30 "$tmp/upgrade.log" >&2
	exit 1
fi
after=$(chroot "$r" dpkg-query -W -f '${Package} ${Version}\n')
unmount_under "$r"
rm -rf "$r/var/lib/apt/lists"/* 
: >"$r/etc/resolv.conf"
diff <(echo "$before") <(echo "$after") | grep '^>' | sed 's/^> //' >"$tmp/upgraded.txt" || true
if [[ ! -s "$tmp/upgraded.txt" ]]; then
	log "apt-get upgrade against $SUITE-security installed nothing newer: no newer base can be made"
	exit 1
fi
log "upgraded $(wc -l <"$tmp/upgraded.txt") packages"
tar --numeric-owner -C "$r" -cf "$tmp/rootfs.tar" .
cache_commit
echo "$cache/rootfs"
