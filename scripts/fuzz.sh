#!/usr/bin/env bash
# A short fuzz campaign: ./scripts/fuzz.sh [PACKAGE_PATTERN]
#
# Runs every fuzz target in the module (func Fuzz* in *_test.go) for FUZZTIME
# each (default 30s; any `go test -fuzztime` value, e.g. 10s or 5000x), one
# target at a time, and prints per target: executions, new interesting inputs
# (new coverage found in this run) and whether it crashed. A crashing input is
# written by Go to the package's testdata/fuzz/FuzzX/ directory; commit it as a
# regression seed once fixed. FUZZ_MINIMIZE (default 100x) caps
# -fuzzminimizetime: minimizing each new input drawn from kilobyte-sized real
# fixtures otherwise stalls a short run. FUZZ_PARALLEL (default 1) sets -parallel so the
# campaign does not take the whole machine. An optional argument restricts the
# run to packages whose path contains it ("extract", "vulndb").
#
# Then it runs the hostile-input corpus (test/hostile: crafted images, zips,
# envelopes and requests fed to the built drydock binary) and prints its table
# (input, exit code, message, peak RSS). HOSTILE=0 skips that part.
#
# FUZZTIME=0 skips the fuzz targets and runs only the corpus.
# Exits non-zero when any target crashed or the corpus test failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${FUZZTIME:-30s}
parallel=${FUZZ_PARALLEL:-1}
minimize=${FUZZ_MINIMIZE:-100x}
filter=${1:-}
log=$(mktemp -d "${TMPDIR:-/tmp}/drydock-fuzz.XXXXXX")
trap 'rm -rf "$log"' EXIT

# targets: "dir FuzzName" for every fuzz function, sorted.
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . |
	sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz.*)#\1 \2#' | sort -u)
if [[ -n $filter ]]; then
	targets=$(grep -F -- "$filter" <<<"$targets" || true)
fi
if [[ -z $targets && $fuzztime != 0 ]]; then
	echo "fuzz: no fuzz targets${filter:+ matching $filter}" >&2
	exit 1
fi

crashed=0
[[ $fuzztime == 0 ]] && targets=""
[[ -n $targets ]] && printf '%-34s %-26s %12s %8s  %s\n' PACKAGE TARGET EXECS NEW RESULT
while read -r dir name; do
	[[ -z $name ]] && continue
	out="$log/$(tr / _ <<<"$dir")_$name.log"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" -parallel "$parallel" "./$dir" >"$out" 2>&1
	rc=$?
	# The last progress line carries the totals:
	# "fuzz: elapsed: 30s, execs: 123456 (4115/sec), new interesting: 7 (total: 40)".
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$out" | tail -n 1)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	new=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
	if ((rc == 0)); then
		result=ok
	else
		crashed=1
		input=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$out" | head -n 1)
		if [[ -n $input ]]; then
			result="CRASH: $dir/$input"
		else
			result="FAIL (exit $rc)"
		fi
	fi
	printf '%-34s %-26s %12s %8s  %s\n' "$dir" "$name" "${execs:--}" "${new:--}" "$result"
	if ((rc != 0)); then
		grep -vE '^fuzz: elapsed|^ok|^FAIL$' "$out" | head -n 40 | sed 's/^/    /'
	fi
done <<<"$targets"

if [[ ${HOSTILE:-1} != 0 ]]; then
	echo
	echo "hostile-input corpus (go test ./test/hostile/):"
	if ! go test -count=1 -v -run 'TestHostile' ./test/hostile/ >"$log/hostile.log" 2>&1; then
		crashed=1
		grep -E '^\s+(--- FAIL|hostile_test|.*\.go:[0-9]+:)' "$log/hostile.log" | head -n 60
	fi
	# The test prints its table with -v between these markers.
	sed -n '/HOSTILE TABLE BEGIN/,/HOSTILE TABLE END/p' "$log/hostile.log" | sed '1d;$d' | sed -E 's/^ +[a-z_]+\.go:[0-9]+: ?//'
	grep -E '^(ok|FAIL|---)' "$log/hostile.log" | tail -n 3
fi
exit "$crashed"
