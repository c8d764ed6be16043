#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts Debian's Docker daemon (package
# docker.io) in a temporary directory, on its own unix socket, with no
# networking, no iptables and the vfs storage driver (no container ever
# runs; the tests only load images into it and read them back as
# "docker:" sources), and exports
#   DRYDOCK_DOCKER_HOST=unix://DIR/docker.sock
# dockerd_stop stops it and removes the directory. Needs root (dockerd
# does); returns non-zero and exports nothing when it cannot start.

dockerd_start() {
	local bin i
	bin=$(command -v dockerd) || { echo "dockerd.sh: dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
	[[ $(id -u) -eq 0 ]] || { echo "dockerd.sh: dockerd needs root" >&2; return 1; }
	DOCKERD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/drydock-dockerd.XXXXXX")
	setsid "$bin" --data-root "$DOCKERD_DIR/data" --exec-root "$DOCKERD_DIR/exec" \
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
	local i
	if [[ -n ${DOCKERD_PID:-} ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null || true
		for ((i = 0; i < 300; i++)); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DOCKERD_PID" 2>/dev/null || true
	fi
	rm -rf "$DOCKERD_DIR"
	DOCKERD_DIR= DOCKERD_PID=
}
