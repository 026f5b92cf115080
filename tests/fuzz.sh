#!/usr/bin/env bash
# Fuzz every target for $FUZZTIME (default 30s), one after another, and
# print a line per target: executions, new inputs, time. A crasher fails
# the run; go test keeps it in the package's testdata/fuzz/, where it
# becomes a seed (commit it with the fix). With FUZZ_FIGURES=FILE, the
# lines are also written there (tab-separated) for docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${FUZZTIME:=30s}"
GO=${GO:-go}
targets=(
	generator/store:FuzzParseIndex
	generator/store:FuzzReadArchive
	generator/upstream:FuzzParseLock
	generator/upstream:FuzzVerifyArchive
	generator/serve:FuzzServeRequests
	generator/load:FuzzLoadBundle
	generator/plan:FuzzMergeValues
	generator/redact:FuzzString
	generator/chartdir:FuzzReadChartDir
	generator/publish:FuzzDockerConfig
)
[ -z "${FUZZ_FIGURES:-}" ] || : > "$FUZZ_FIGURES"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	pkg=${t%%:*} name=${t##*:}
	start=$(date +%s)
	# Go 1.26's fuzz coordinator can fail a target with "context deadline
	# exceeded" at the -fuzztime boundary and no failing input
	# (go.dev/issue/75804, fixed in Go 1.27): that is retried once, and
	# only a failure that writes an input to testdata/fuzz fails the run.
	for attempt in 1 2; do
		before=$(find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null | sort || true)
		if "$GO" test -count=1 -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$pkg" >"$log" 2>&1; then
			break
		fi
		after=$(find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null | sort || true)
		if [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$log"; then
			echo "fuzz $name: the coordinator's deadline race (go.dev/issue/75804), no failing input; attempt $attempt"
			continue
		fi
		cat "$log"
		echo "fuzz $name: FAILED (the input is kept in $pkg/testdata/fuzz/$name/)"
		exit 1
	done
	# The last progress line holds the totals.
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
	# -fuzztime counts the baseline (every seed and cached input run
	# once); when that takes all of it nothing was fuzzed: fuzz again for
	# four times as long, and fail if still nothing is.
	used=$FUZZTIME
	if [ "${execs:-0}" -eq 0 ]; then
		longer=$FUZZTIME
		[[ $FUZZTIME =~ ^([0-9]+)s$ ]] && longer=$((BASH_REMATCH[1] * 4))s
		echo "fuzz $name: the baseline took all of $FUZZTIME, nothing fuzzed; again for $longer"
		if ! "$GO" test -count=1 -run '^$' -fuzz "^${name}\$" -fuzztime "$longer" "./$pkg" >"$log" 2>&1; then
			cat "$log"
			echo "fuzz $name: FAILED (the input, if any, is kept in $pkg/testdata/fuzz/$name/)"
			exit 1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
		if [ "${execs:-0}" -eq 0 ]; then
			cat "$log"
			echo "fuzz $name: FAILED: nothing fuzzed in $longer"
			exit 1
		fi
		used=$longer
	fi
	found=$(grep -o 'new interesting: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
	seeds=$(find "$pkg/testdata/fuzz/$name" -type f 2>/dev/null | wc -l || true)
	took=$(( $(date +%s) - start ))
	echo "fuzz $name: $execs executions, $found new inputs, $seeds committed seeds, ${took}s (fuzzing $used)"
	[ -z "${FUZZ_FIGURES:-}" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pkg" "$name" "$execs" "$found" "$seeds" "$used" >> "$FUZZ_FIGURES"
done
