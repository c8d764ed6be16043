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
# cache. The mirror is the one apt on this machine is configured with (or
# DRYDOCK_DEBIAN_MIRROR when set); no host name is written here.
#
# stdout: the rootfs directory (the tarball is its sibling rootfs.tar).
# stderr: progress.
set -euo pipefail

SUITE=bookworm
parent="${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test"
cache="$parent/debian-bookworm-minbase"

log() { echo "debian-rootfs: $*" >&2; }

if [[ -f "$cache/.complete" ]]; then
	echo "$cache/rootfs"
	exit 0
fi

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
	local f uri
	# deb822 .sources files: a stanza with Types: deb and Suites containing $SUITE.
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] || continue
		uri=$(awk -v suite="$SUITE" '
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
	# One-line format: deb [options] URI SUITE COMPONENTS...
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] || continue
		uri=$(awk -v suite="$SUITE" '
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

# unmount_under unmounts anything mounted below $1 (debootstrap mounts proc and
# sys inside the target; a killed run can leave them).
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
exec 9>"$parent/debian-bookworm-minbase.lock"
log "waiting for lock $parent/debian-bookworm-minbase.lock"
flock 9

# Another run may have finished while we waited.
if [[ -f "$cache/.complete" ]]; then
	echo "$cache/rootfs"
	exit 0
fi

# Leftovers of killed runs (we hold the lock, so nobody else is building).
remove_tree "$cache"
for d in "$parent"/.debian-bookworm-minbase.tmp.*; do
	remove_tree "$d"
done

url=$(mirror) || { log "no apt source for $SUITE found in /etc/apt (set DRYDOCK_DEBIAN_MIRROR)"; exit 1; }
tmp=$(mktemp -d "$parent/.debian-bookworm-minbase.tmp.XXXXXX")
trap 'remove_tree "$tmp"' EXIT

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
chmod 755 "$tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
mv -T "$tmp" "$cache"
trap - EXIT
log "cached in $cache ($(du -sh "$cache" | cut -f1))"
echo "$cache/rootfs"
