package main

import (
	"context"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/broker/rolepolicy"
)

// iamRegion signs IAM requests when no region is configured: IAM is a
// global service whose requests are signed for us-east-1 (aws partition).
const iamRegion = "us-east-1"

// fetchRoles reads, through the IAM API and with the broker's own
// credentials (the SDK's default chain; AWS_ENDPOINT_URL points it at the
// local AWS), the policies of the roles whose profiles set
// role_policy_from_iam. Without such profiles it loads no AWS
// configuration. Failures are kept per role, so that the compile step
// refuses each profile concerned, naming its field.
func fetchRoles(ctx context.Context, cfg *config.Config) profiles.RoleSource {
	arns := cfg.RolesFromIAM()
	if len(arns) == 0 {
		return nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.STS.Region))
	if err != nil {
		return rolepolicy.Unavailable(fmt.Errorf("AWS SDK configuration: %w", err), arns)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = iamRegion
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(len(arns))*cfg.STS.Timeout)
	defer cancel()
	return rolepolicy.FetchAll(ctx, awsiam.NewFromConfig(awsCfg), arns)
}
