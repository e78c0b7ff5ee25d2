#!/usr/bin/env bash
# Prints the project's figures: image build, boot and size; manager
# throughput on SQLite and PostgreSQL; agent start and memory; factory reset
# and first-boot times; Go micro-benchmarks. Figures only: nothing here
# asserts a time, the machines are shared and noisy.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
run() {
	echo
	echo "== $*"
	"$@" || { echo "(failed: $*)"; status=1; }
}
run go run ./ci/bench/image
run go run ./ci/bench/agent
run go run ./ci/bench/ssm
for d in ci/bench/*/; do
	case "$d" in ci/bench/image/|ci/bench/agent/|ci/bench/ssm/) continue ;; esac
	run go run "./$d"
done
pkgs=$(grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u | sed 's|^\./|./|')
run go test -run='^$' -bench=. -benchtime=${BENCHTIME:-1x} $pkgs
exit $status
