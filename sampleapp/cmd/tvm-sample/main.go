// Command tvm-sample is the seed's reader app over the tvm client: it seeds
// the demo table, runs single reader experiments, and verifies tenant
// isolation end to end (see package github.com/tvmkit/tvm/sampleapp).
//
//	tvm-sample seed
//	tvm-sample query --tenant 1 --gsi --as 1
//	tvm-sample verify [--json]
//
// Defaults target the local stack (AWS endpoint and dev IdP on
// 127.0.0.1:4566, broker on 127.0.0.1:8080). The app's own identity comes
// from the AWS SDK default chain, e.g. the local admin's documented keys in
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Against real AWS: --endpoint ""
// (AWS_ENDPOINT_URL is then ignored), --broker https://..., --token-file
// '/path/tenant-{tenant}.jwt' with tokens from your IdP for tenants 1, 2 and
// * (the dev IdP is then not used), and --no-grant-role ARN unless the
// no-grant role is role/tvm-no-grant in the app's own account.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tvmkit/tvm/sampleapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := sampleapp.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
