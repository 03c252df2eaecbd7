#!/usr/bin/env bash
# Runs every fuzz target of the module (every `func Fuzz...` in a _test.go
# file) for FUZZTIME each, one after the other, and prints a table of the
# executions each reached. A failing target leaves its input under the
# package's testdata/fuzz/ (go test's own behaviour) and makes the script
# exit 1 after the others have run.
#
# One failure is not the target's: Go before 1.27 may end a duration-bound
# run with a bare "context deadline exceeded" when -fuzztime expires while a
# worker is mid-call (golang/go#75804; loaded machines hit it). Such a run,
# with no failing input written, counts as passed once the target's corpus
# replays cleanly (go test -run, deterministic), and is marked "ok (deadline)". A target whose
# whole time went to replaying its corpus shows "baseline" executions.
#
#   scripts/fuzz.sh [FUZZTIME]      # default $FUZZTIME, else 10s; e.g. 3s (CI), 10m (a long run)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-10s}}

# "dir name" per target, sorted.
mapfile -t targets < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . |
  sed -E 's|^\./(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]+)\(.*|\1 \2|' | sort -u)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

# deadline_race reports whether a failed run's log is Go's fuzzing deadline
# race alone (golang/go#75804): "context deadline exceeded", and no failing
# input written, no panic, no test failure message.
deadline_race() {
  grep -q 'context deadline exceeded' "$1" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$1"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
  dir=${t% *} name=${t#* }
  printf '==> %-28s ./%s (%s)\n' "$name" "$dir" "$fuzztime"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir" >"$log" 2>&1; then
    verdict=ok
  elif deadline_race "$log" && go test -count=1 -run "^${name}\$" "./$dir" >/dev/null 2>&1; then
    verdict="ok (deadline)"
  else
    verdict=FAIL
    failed+=("$name (./$dir)")
    cat "$log"
  fi
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  # No "execs:" line: the time went to replaying the corpus (baseline coverage).
  summary+=("$(printf '%-28s %-26s %12s  %s' "$name" "./$dir" "${execs:-baseline}" "$verdict")")
done

printf '\n%-28s %-26s %12s  %s\n' TARGET PACKAGE EXECUTIONS RESULT
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  printf '\nfailed: %s\n' "${failed[@]}" >&2
  exit 1
fi
