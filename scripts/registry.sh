#!/usr/bin/env bash
# Run Debian's docker-registry (distribution 2.8) for end-to-end tests.
#
#   scripts/registry.sh start RUN_DIR PORT   write RUN_DIR/config.yml, start on 127.0.0.1:PORT,
#                                            wait until GET /v2/ answers; PID in RUN_DIR/registry.pid
#   scripts/registry.sh stop RUN_DIR         stop the registry started in RUN_DIR
#
# Storage is RUN_DIR/data; deletes are enabled; the log is RUN_DIR/registry.log.
# When DRYDOCK_REGISTRY_NOTIFY_URL is set, the registry posts its events there
# (notifications: endpoints:). It is never started as a system service.
set -euo pipefail

log() { echo "registry: $*" >&2; }
usage() { echo "usage: $0 start RUN_DIR PORT | stop RUN_DIR" >&2; exit 2; }

registry_bin() {
	local bin
	bin=$(dpkg -L docker-registry 2>/dev/null | grep -E '/bin/docker-registry$' | head -n1 || true)
	if [[ -z "$bin" || ! -x "$bin" ]]; then
		log "docker-registry is not installed (apt-get install docker-registry)"
		return 1
	fi
	echo "$bin"
}

# is_ours PID: the process is alive and is the registry binary.
is_ours() {
	local pid=$1
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	[[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == *docker-registry* ]]
}

start() {
	local run_dir=$1 port=$2 bin
	[[ "$port" =~ ^[0-9]+$ ]] || usage
	bin=$(registry_bin)
	mkdir -p "$run_dir/data"
	run_dir=$(cd "$run_dir" && pwd)

	if [[ -f "$run_dir/registry.pid" ]] && is_ours "$(cat "$run_dir/registry.pid")"; then
		log "already running in $run_dir (pid $(cat "$run_dir/registry.pid"))"
		return 1
	fi

	{
		cat <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
  fields:
    service: drydock-e2e-registry
storage:
  filesystem:
    rootdirectory: $run_dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
YAML
		if [[ -n "${DRYDOCK_REGISTRY_NOTIFY_URL:-}" ]]; then
			cat <<YAML
notifications:
  events:
    includereferences: true
  endpoints:
    - name: drydock
      url: ${DRYDOCK_REGISTRY_NOTIFY_URL}
      timeout: 2s
      threshold: 5
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
YAML
		fi
	} >"$run_dir/config.yml"

	# setsid: the registry must not get the terminal's signals; stop kills it by PID.
	setsid "$bin" serve "$run_dir/config.yml" >"$run_dir/registry.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$run_dir/registry.pid"

	local i
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "registry exited during start; log:"
			tail -n 20 "$run_dir/registry.log" >&2
			rm -f "$run_dir/registry.pid"
			return 1
		fi
		if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/" 2>/dev/null; then
			log "listening on 127.0.0.1:$port (pid $pid, dir $run_dir)"
			return 0
		fi
		sleep 0.2
	done
	log "registry did not answer GET /v2/ within 30s; log:"
	tail -n 20 "$run_dir/registry.log" >&2
	stop "$run_dir"
	return 1
}

stop() {
	local run_dir=$1 pid
	[[ -f "$run_dir/registry.pid" ]] || return 0
	pid=$(cat "$run_dir/registry.pid")
	if is_ours "$pid"; then
		kill "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$run_dir/registry.pid"
}

case "${1:-}" in
start) [[ $# -eq 3 ]] || usage; start "$2" "$3" ;;
stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
*) usage ;;
esac
