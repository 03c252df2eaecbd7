#!/usr/bin/env bash
# Runs the local AWS and the broker as long-lived background processes, so the
# README's curl and aws CLI examples can be followed. `stack.sh up` starts
# them (pid files and logs under .tmp/stack), `stack.sh down` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
dir=.tmp/stack
mkdir -p "$dir"

case "${1:-}" in
up)
  [ -x bin/tvm-local ] && [ -x bin/tvm-broker ] || build_binaries
  require_free_port "$LOCAL_ADDR"
  require_free_port "$BROKER_ADDR"
  require_free_port "$LOCAL_ADMIN_ADDR"
  nohup bin/tvm-local serve --listen "$LOCAL_ADDR" --admin-listen "$LOCAL_ADMIN_ADDR" >"$dir/tvm-local.log" 2>&1 &
  echo $! >"$dir/tvm-local.pid"
  wait_ready bin/tvm-local "http://$LOCAL_ADDR/healthz" "local AWS"
  nohup env "${BROKER_ENV[@]}" bin/tvm-broker serve --config examples/broker.yaml --listen "$BROKER_ADDR" >"$dir/tvm-broker.log" 2>&1 &
  echo $! >"$dir/tvm-broker.pid"
  wait_ready bin/tvm-broker "http://$BROKER_ADDR/readyz" "broker"
  env "${ADMIN_ENV[@]}" bin/tvm-sample seed
  say "local AWS on http://$LOCAL_ADDR (faults: http://$LOCAL_ADMIN_ADDR/faults), broker on http://$BROKER_ADDR; logs in $dir; stop with: make stack-down"
  ;;
down)
  for name in tvm-broker tvm-local; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
  say "stopped"
  ;;
*)
  echo "usage: $0 up|down" >&2
  exit 2
  ;;
esac
