#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts Debian's Docker daemon (package
# docker.io) in a temporary directory, on its own unix socket, with no
# networking, no iptables and the vfs storage driver (no container ever
# runs; the tests only load images into it and read them back as
# "docker:" sources), and exports
#   DRYDOCK_DOCKER_HOST=unix://DIR/docker.sock
# dockerd_stop stops it and removes the directory. dockerd needs root: when
# not root it runs through sudo, with the socket given to the caller's
# group. Returns non-zero and exports nothing when it cannot start.

dockerd_start() {
	local bin i group=()
	bin=$(command -v dockerd || echo /usr/sbin/dockerd)
	[[ -x $bin ]] || { echo "dockerd.sh: dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
	DOCKERD_SUDO=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || { echo "dockerd.sh: dockerd needs root (or sudo)" >&2; return 1; }
		DOCKERD_SUDO=(sudo -n)
		group=(--group "$(id -gn)")
	fi
	DOCKERD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drydock-dockerd.XXXXXX")
	"${DOCKERD_SUDO[@]}" setsid "$bin" "${group[@]}" --data-root "$DOCKERD_DIR/data" --exec-root "$DOCKERD_DIR/exec" \
		--pidfile "$DOCKERD_DIR/docker.pid" --host "unix://$DOCKERD_DIR/docker.sock" \
		--iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
		>"$DOCKERD_DIR/dockerd.log" 2>&1 </dev/null &
	DOCKERD_PID=$!
	# Ready when the Engine API answers its ping (generous: a loaded CI
	# machine can take long to start containerd).
	for ((i = 0; i < 600; i++)); do
		if [[ -S $DOCKERD_DIR/docker.sock ]] &&
			[[ "$(curl -fsS --max-time 5 --unix-socket "$DOCKERD_DIR/docker.sock" http://docker/_ping 2>/dev/null)" == OK ]]; then
			export DRYDOCK_DOCKER_HOST="unix://$DOCKERD_DIR/docker.sock"
			return 0
		fi
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "dockerd.sh: dockerd did not start:" >&2
	tail -n 20 "$DOCKERD_DIR/dockerd.log" >&2
	dockerd_stop
	return 1
}

dockerd_stop() {
	[[ -n ${DOCKERD_DIR:-} ]] || return 0
	local i pid
	# The daemon's own pid (the launcher's is sudo's when not root).
	pid=$(cat "$DOCKERD_DIR/docker.pid" 2>/dev/null || echo "${DOCKERD_PID:-}")
	if [[ -n $pid ]] && "${DOCKERD_SUDO[@]}" kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 300; i++)); do
			"${DOCKERD_SUDO[@]}" kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		"${DOCKERD_SUDO[@]}" kill -KILL "$pid" 2>/dev/null || true
	fi
	"${DOCKERD_SUDO[@]}" rm -rf "$DOCKERD_DIR"
	DOCKERD_DIR= DOCKERD_PID=
}
