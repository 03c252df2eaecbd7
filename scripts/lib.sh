# Shared helpers for demo.sh and stack.sh. Sourced, not run.
LOCAL_ADDR=127.0.0.1:4566
# The local AWS's fault injection API (stack.sh only; loopback only).
LOCAL_ADMIN_ADDR=127.0.0.1:4567
BROKER_ADDR=127.0.0.1:8080
REGION=us-east-1
# Documented dev keys of the local AWS (see README: they are not secrets and
# work nowhere but on the local AWS).
BROKER_KEY_ID=AKIATVMBROKER0000001
BROKER_SECRET=tvmLocalBrokerSecretKey000000000000000001
ADMIN_KEY_ID=AKIATVMADMIN00000001
ADMIN_SECRET=tvmLocalAdminSecretKey0000000000000000001

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

build_binaries() {
  say "building tvm-local, tvm-broker, tvm-sample, tvm-creds into ./bin"
  mkdir -p bin
  go build -o bin/ ./localaws/cmd/tvm-local ./broker/cmd/tvm-broker ./sampleapp/cmd/tvm-sample ./client/cmd/tvm-creds
}

# require_free_port HOST:PORT fails if something already listens there.
require_free_port() {
  local host=${1%:*} port=${1##*:}
  if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
    echo "something already listens on $1: stop it first (make stack-down stops a stack started with make stack-up)" >&2
    return 1
  fi
}

# wait_ready BINARY URL NAME waits up to 30 s for URL to answer 200, probing
# with the binary's own healthcheck subcommand (no curl needed).
wait_ready() {
  local bin=$1 url=$2 name=$3 i
  for i in $(seq 1 300); do
    if "$bin" healthcheck --url "$url" --timeout 1s >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$name did not become ready at $url" >&2
  return 1
}

# The broker's own AWS identity: the local AWS `broker` principal, through the
# SDK's standard environment variables (with real AWS, leave these unset and
# let the default chain find the broker's role). Used as `env "${BROKER_ENV[@]}" cmd`
# so that a backgrounded command's $! is the command itself, not a subshell.
BROKER_ENV=(AWS_ACCESS_KEY_ID="$BROKER_KEY_ID" AWS_SECRET_ACCESS_KEY="$BROKER_SECRET"
  AWS_REGION="$REGION" AWS_ENDPOINT_URL="http://$LOCAL_ADDR" AWS_EC2_METADATA_DISABLED=true)

# The sample app's own identity: the local AWS `admin` principal.
ADMIN_ENV=(AWS_ACCESS_KEY_ID="$ADMIN_KEY_ID" AWS_SECRET_ACCESS_KEY="$ADMIN_SECRET"
  AWS_REGION="$REGION" AWS_ENDPOINT_URL="http://$LOCAL_ADDR" AWS_EC2_METADATA_DISABLED=true
  TVM_BROKER_URL="http://$BROKER_ADDR")
