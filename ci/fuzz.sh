#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 60s),
# then prints a table of what each managed: inputs run, seconds, inputs a
# second (from go test's last "fuzz: elapsed: ..., execs: N" line), and
# whether it passed. Plain `go test` already runs their seed corpora; this
# explores further. FUZZ, a regular expression, picks targets by
# "package name" (FUZZ=firstboot, FUZZ=ReadCPIO); FUZZMINIMIZE bounds the
# minimizing of each new input (default 1000x). Exits non-zero if any
# target failed, after the table.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
# Every input that reaches new code is minimized before fuzzing goes on,
# for up to 60 s by default: in a short run that was all the time there
# was, and the rate read 0 inputs a second. A count bounds it whatever the
# machine's speed.
minimize=${FUZZMINIMIZE:-1000x}
log=$(mktemp)
summary=$(mktemp)
trap 'rm -f "$log" "$summary"' EXIT
failed=0
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "$pkg $name"
	done
done | grep -E -- "${FUZZ:-.}" || true)
if [ -z "$targets" ]; then
	echo "no fuzz target matches FUZZ=${FUZZ:-}" >&2
	exit 1
fi
while read -r pkg name; do
	echo "== $pkg $name ($fuzztime)"
	result=ok
	if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" "$pkg" 2>&1 | tee "$log"; then
		result=FAIL
		failed=1
	fi
	# fuzz: elapsed: 15s, execs: 123456 (8230/sec), new interesting: ...
	# (elapsed reads 1m2s past a minute)
	last=$(grep -o 'elapsed: [0-9hms]*, execs: [0-9]*' "$log" | tail -n 1 || true)
	secs=$(sed -n 's/elapsed: \([0-9hms]*\),.*/\1/p' <<<"$last" |
		awk '{ s = 0; n = split($0, p, /[hms]/); split($0, u, /[0-9]+/);
			for (i = 1; i < n; i++) s += p[i] * (u[i+1] == "h" ? 3600 : u[i+1] == "m" ? 60 : 1); print s }')
	execs=$(sed -n 's/.*execs: \([0-9]*\)/\1/p' <<<"$last")
	rate=-
	if [ -n "$execs" ] && [ "${secs:-0}" -gt 0 ]; then
		rate=$((execs / secs))
	fi
	printf '%-16s %-26s %10s %6s %10s  %s\n' "$pkg" "$name" "${execs:--}" "${secs:--}" "$rate" "$result" >>"$summary"
done <<<"$targets"
echo
printf '%-16s %-26s %10s %6s %10s  %s\n' package target inputs secs inputs/s result
cat "$summary"
exit "$failed"
