// Command tvm-creds is a credential_process helper: it exchanges a JWT for
// tenant-scoped temporary credentials at a tvm broker and prints them in the
// format the AWS CLI and every AWS SDK read from a credential_process.
//
// Usage:
//
//	tvm-creds --broker URL [--token-file FILE | --token-env NAME] [--profile P] [--duration D] [--timeout D] [--allow-insecure-http]
//
// The broker URL defaults to $TVM_BROKER_URL; the token is read from
// --token-file (re-read on every run, one trailing newline removed), else
// from the environment variable named by --token-env (default TVM_TOKEN).
// --duration takes seconds ("900") or a Go duration ("15m"). --timeout
// (default 30s) bounds the whole run, retries of 429, 5xx and network errors
// included. Plain http is accepted only to a loopback broker unless
// --allow-insecure-http.
//
// On success it prints one JSON object to stdout and exits 0:
//
//	{"Version":1,"AccessKeyId":"ASIA...","SecretAccessKey":"...","SessionToken":"...",
//	 "Expiration":"2026-01-02T15:04:05Z","AccountId":"123456789012"}
//
// On failure it prints one line to stderr (the broker's code and message,
// never the token) and exits 1; a usage error exits 2.
//
// # AWS configuration
//
// In ~/.aws/config:
//
//	[profile tenant]
//	credential_process = tvm-creds --broker http://127.0.0.1:8080 --token-file /path/to/jwt --profile read
//	region = us-east-1
//
// then `aws --profile tenant dynamodb query ...` or AWS_PROFILE=tenant for any
// SDK. The AWS CLI does not cache process credentials between commands: each
// command runs tvm-creds once (the broker caches the STS session), and again
// whenever the set has less than 15 minutes left — botocore's refresh window.
// The broker's default 1-hour sessions keep that rare; a 15-minute session
// (--duration 15m, or a token with less than 30 minutes left) makes the AWS
// CLI and boto3 run tvm-creds before every API call.
//
// # Zero-code alternative
//
// The broker also speaks the container-credentials protocol, so no helper is
// needed at all:
//
//	export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/v1/credentials
//	export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/path/to/jwt   # no trailing newline
//
// (or AWS_CONTAINER_AUTHORIZATION_TOKEN=<jwt>). The SDKs send the token as the
// raw Authorization header, which the broker accepts, and re-read the file on
// every refresh. A profile is selected with a query string:
// .../v1/credentials?profile=read. Plain http is allowed only to loopback.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
