#!/bin/sh
# Runs every fuzzer for a while (default 20s each). The checked-in seeds
# already run in `make test`; this explores beyond them.
set -eu
t="${1:-20s}"
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $f"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
	done
done
