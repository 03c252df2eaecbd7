#!/usr/bin/env bash
# The one-command demo: builds the binaries, starts the local AWS (in-memory
# DynamoDB and S3) and the broker, seeds the demo tables (the pooled tvm-demo
# and the per-tenant tables of the silo and bridge models) and the demo
# bucket (one object per tenant prefix), runs the sample app's isolation
# verification (pooled, silo, bridge and ABAC rows on DynamoDB; session
# policy and ABAC rows on S3; then the operations rows: a tenant blocked
# through the broker's block list file is refused without a restart, and
# credentials vended before `tvm-broker revoke --apply`, run with the
# admin's keys as the operator, are denied by DynamoDB while another
# tenant's keep working) and stops everything it started. Exit status
# is the verdict of `tvm-sample verify`. Logs are kept (and their tails
# printed) on failure, or always with TVM_DEMO_KEEP_LOGS=1.
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
  if [ "$rc" -ne 0 ]; then
    echo "--- last lines of the local AWS log ($logdir/tvm-local.log)" >&2
    tail -n 20 "$logdir/tvm-local.log" >&2 || true
    echo "--- last lines of the broker log ($logdir/tvm-broker.log)" >&2
    tail -n 20 "$logdir/tvm-broker.log" >&2 || true
    echo "logs kept in $logdir" >&2
  elif [ -n "${TVM_DEMO_KEEP_LOGS:-}" ]; then
    echo "logs kept in $logdir"
  else
    rm -rf "$logdir"
  fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

require_free_port "$LOCAL_ADDR"
require_free_port "$BROKER_ADDR"

say "starting the local AWS on $LOCAL_ADDR (STS, IAM, enforcing DynamoDB and S3, dev identity provider; in memory)"
bin/tvm-local serve --listen "$LOCAL_ADDR" >"$logdir/tvm-local.log" 2>&1 &
pids+=($!)
wait_ready bin/tvm-local "http://$LOCAL_ADDR/healthz" "local AWS"

blocklist="$logdir/blocked.txt"
printf '# tenants the broker refuses (block_list.file); the demo adds and removes tenant 3\n' >"$blocklist"

say "starting the broker on $BROKER_ADDR (examples/broker.yaml: every profile proven at start-up, the ABAC role's policies read through IAM; block list $blocklist)"
env "${BROKER_ENV[@]}" TVM_BLOCK_LIST_FILE="$blocklist" bin/tvm-broker serve --config examples/broker.yaml --listen "$BROKER_ADDR" >"$logdir/tvm-broker.log" 2>&1 &
pids+=($!)
wait_ready bin/tvm-broker "http://$BROKER_ADDR/readyz" "broker"

say "seeding, as the admin principal: tvm-demo (the seed's three items), the per-tenant tables tvm-demo-1, -12, -2, and the bucket tvm-demo-bucket (tenants/1/, tenants/12/, tenants/2/)"
env "${ADMIN_ENV[@]}" bin/tvm-sample seed

say "running the isolation experiments (DynamoDB, then S3), then the operations rows (block list, revoke as the admin)"
set +e
env "${ADMIN_ENV[@]}" bin/tvm-sample verify --block-file "$blocklist" \
  --revoke-command "bin/tvm-broker revoke --config examples/broker.yaml"
rc=$?
set -e
exit "$rc"
