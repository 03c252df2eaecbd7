#!/usr/bin/env bash
# The one-command demo: builds the binaries, starts the local AWS (in-memory
# DynamoDB) and the broker, seeds the demo table, runs the sample app's
# isolation verification and stops everything it started. Exit status is the
# verdict of `tvm-sample verify`.
#
# Needs only Go. Uses ports 4566 (local AWS) and 8080 (broker) on 127.0.0.1:
# the example broker config and the dev identity provider's issuer name them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

build_binaries
logdir=$(mktemp -d "${TMPDIR:-/tmp}/tvm-demo.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] && [ "${TVM_DEMO_KEEP_LOGS:-}" = "" ]; then
    echo "--- last lines of the local AWS log ($logdir/tvm-local.log)" >&2
    tail -n 20 "$logdir/tvm-local.log" >&2 || true
    echo "--- last lines of the broker log ($logdir/tvm-broker.log)" >&2
    tail -n 20 "$logdir/tvm-broker.log" >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

require_free_port "$LOCAL_ADDR"
require_free_port "$BROKER_ADDR"

say "starting the local AWS on $LOCAL_ADDR (STS + enforcing DynamoDB + dev identity provider, in-memory backend)"
bin/tvm-local serve --listen "$LOCAL_ADDR" >"$logdir/tvm-local.log" 2>&1 &
pids+=($!)
wait_http "http://$LOCAL_ADDR/healthz" "local AWS"

say "starting the broker on $BROKER_ADDR (examples/broker.yaml)"
broker_env bin/tvm-broker serve --config examples/broker.yaml --listen "$BROKER_ADDR" >"$logdir/tvm-broker.log" 2>&1 &
pids+=($!)
wait_http "http://$BROKER_ADDR/readyz" "broker"

say "seeding table tvm-demo with the seed's three items (as the admin principal)"
admin_env bin/tvm-sample seed

say "running the isolation experiments"
set +e
admin_env bin/tvm-sample verify
rc=$?
set -e
say "logs kept in $logdir"
exit "$rc"
