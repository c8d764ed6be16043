# shellcheck shell=bash
# Sourced (not run) by the scripts that build a cached test root filesystem
# under ${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test/NAME
# (scripts/debian-rootfs.sh, scripts/debian-rootfs-upgraded.sh).
#
# A build runs under flock into a temporary directory beside the cache and is
# renamed into place only when complete (NAME/.complete is written last), so a
# killed run never leaves a half cache; the next run removes its leftovers.
# Every script's stdout is NAME/rootfs.
#
# The sourcing script defines log() (progress on stderr) and calls:
#   cache_init NAME           sets $parent (the drydock-test directory) and $cache
#   cache_exit_if_complete    prints $cache/rootfs and exits 0 when it is built
#   cache_lock                takes the lock, exits if another run finished
#                             meanwhile, removes leftovers of killed runs
#   cache_mktemp              sets $tmp, removed on exit unless committed
#   cache_commit              marks $tmp complete and renames it to $cache
# and, to find a mirror without writing a host name down:
#   apt_source_uri SUITE      the first archive URI apt here is configured with for SUITE

cache_init() {
	cache_name=$1
	parent="${XDG_CACHE_HOME:-$HOME/.cache}/drydock-test"
	cache="$parent/$cache_name"
}

cache_exit_if_complete() {
	if [[ -f "$cache/.complete" ]]; then
		echo "$cache/rootfs"
		exit 0
	fi
}

cache_lock() {
	mkdir -p "$parent"
	exec 9>"$parent/$cache_name.lock"
	log "waiting for lock $parent/$cache_name.lock"
	flock 9
	# Another run may have finished while we waited.
	cache_exit_if_complete
	# Leftovers of killed runs (we hold the lock, so nobody else is building).
	local d
	remove_tree "$cache"
	for d in "$parent/.$cache_name.tmp."*; do
		remove_tree "$d"
	done
}

cache_mktemp() {
	tmp=$(mktemp -d "$parent/.$cache_name.tmp.XXXXXX")
	trap 'remove_tree "$tmp"' EXIT
}

cache_commit() {
	chmod 755 "$tmp"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
	mv -T "$tmp" "$cache"
	trap - EXIT
}

# unmount_under unmounts anything mounted below $1 (debootstrap and chroot
# builds mount proc and sys inside the target; a killed run can leave them).
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

# apt_source_uri prints the first archive URI apt is configured with for the
# suite $1 (bookworm, bookworm-security), or fails when there is none.
apt_source_uri() {
	local f uri suite=$1
	# deb822 .sources files: a stanza with Types: deb and Suites containing the suite.
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] || continue
		uri=$(awk -v suite="$suite" '
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
		uri=$(awk -v suite="$suite" '
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
