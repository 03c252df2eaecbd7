package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/logging"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/broker/rolepolicy/iamfetch"
)

// iamRegion signs IAM requests when no region is configured: IAM is a
// global service whose requests are signed for us-east-1 (aws partition).
const iamRegion = "us-east-1"

// noCredentials explains, once, what fetchRoles needs when the SDK's
// default chain finds no credentials.
const noCredentials = "no AWS credentials: the broker reads them with its own identity, from the AWS SDK's default chain " +
	"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, container or instance credentials; " +
	"for the local AWS, AWS_ENDPOINT_URL and the broker's dev keys as in examples/broker.yaml), " +
	"or name the documents as deployed with role_policy_files"

// fetchRoles reads, through the IAM API and with the broker's own
// credentials (the SDK's default chain; AWS_ENDPOINT_URL points it at the
// local AWS), the policies of the roles arns (config.Config.RolesFromIAM:
// those of the profiles that set role_policy_from_iam). Without any it
// loads no AWS configuration. Failures are kept per role, so that the
// compile step refuses each profile concerned, naming its field; when no
// credentials are found at all, that is said once, plainly (the SDK's own
// log lines, such as its instance-metadata fallbacks, are not printed).
// `check` and `serve` read the same roles the same way.
func fetchRoles(ctx context.Context, cfg *config.Config, arns []string) profiles.RoleSource {
	if len(arns) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(len(arns)+1)*cfg.STS.Timeout)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.STS.Region), awsconfig.WithLogger(logging.Nop{}))
	if err != nil {
		return rolepolicy.Unavailable(fmt.Errorf("AWS SDK configuration: %w", err), arns)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = iamRegion
	}
	if awsCfg.Credentials == nil {
		return rolepolicy.Unavailable(errors.New(noCredentials), arns)
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return rolepolicy.Unavailable(fmt.Errorf("%s (SDK: %w)", noCredentials, err), arns)
	}
	return rolepolicy.FetchAll(ctx, iamfetch.New(awsiam.NewFromConfig(awsCfg)), arns)
}
