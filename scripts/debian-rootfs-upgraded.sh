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
# complete. The security archive is the one apt on this machine names for
# bookworm-security (or DRYDOCK_DEBIAN_SECURITY_MIRROR); no host name is written
# here. Fails when the upgrade changes nothing: the tests need a newer base.
#
# stdout: the rootfs directory.  stderr: progress.
set -euo pipefail

SUITE=bookworm
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
parent="${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test"
cache="$parent/debian-bookworm-upgraded"

log() { echo "debian-rootfs-upgraded: $*" >&2; }

if [[ -f "$cache/.complete" ]]; then
	echo "$cache/rootfs"
	exit 0
fi
[[ $(id -u) -eq 0 ]] || { log "chroot needs root"; exit 1; }

base=$("$root/scripts/debian-rootfs.sh")

# security_uri prints the URI apt on this machine uses for $SUITE-security.
security_uri() {
	if [[ -n "${DRYDOCK_DEBIAN_SECURITY_MIRROR:-}" ]]; then
		echo "$DRYDOCK_DEBIAN_SECURITY_MIRROR"
		return
	fi
	local f uri want="$SUITE-security"
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] || continue
		uri=$(awk -v suite="$want" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") && uris != "" && enabled != "no") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = ""; suites = ""; uris = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "suites") suites = val
				else if (key == "uris") uris = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { if (!found) flush() }
		' "$f")
		if [[ -n "$uri" ]]; then echo "$uri"; return; fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] || continue
		uri=$(awk -v suite="$want" '
			$1 != "deb" { next }
			{
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i+1) == suite) { print $i; exit }
			}
		' "$f")
		if [[ -n "$uri" ]]; then echo "$uri"; return; fi
	done
	return 1
}

unmount_under() {
	local dir m
	dir=$(readlink -f "$1")
	awk '{print $2}' /proc/mounts | sed 's/\\040/ /g' | sort -r | while IFS= read -r m; do
		case "$m" in "$dir"/*) umount -l "$m" 2>/dev/null || true ;; esac
	done
}
remove_tree() {
	[[ -e "$1" ]] || return 0
	unmount_under "$1"
	rm -rf --one-file-system "$1"
}

mkdir -p "$parent"
exec 9>"$parent/debian-bookworm-upgraded.lock"
log "waiting for lock $parent/debian-bookworm-upgraded.lock"
flock 9
if [[ -f "$cache/.complete" ]]; then
	echo "$cache/rootfs"
	exit 0
fi
remove_tree "$cache"
for d in "$parent"/.debian-bookworm-upgraded.tmp.*; do
	remove_tree "$d"
done

sec=$(security_uri) || { log "no apt source for $SUITE-security in /etc/apt (set DRYDOCK_DEBIAN_SECURITY_MIRROR)"; exit 1; }
tmp=$(mktemp -d "$parent/.debian-bookworm-upgraded.tmp.XXXXXX")
trap 'remove_tree "$tmp"' EXIT

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
chmod 755 "$tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
mv -T "$tmp" "$cache"
trap - EXIT
echo "$cache/rootfs"
