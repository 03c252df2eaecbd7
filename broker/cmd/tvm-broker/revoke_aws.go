package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/revoke"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/paginate"
)

// awsConfig loads the operator's AWS configuration: the SDK's default
// chain, or the shared config profile --profile; IAM is signed for
// us-east-1 when no region is configured.
func (f *revokeFlags) awsConfig(ctx context.Context, cfg *config.Config) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(logging.Nop{})}
	if cfg.STS.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.STS.Region))
	}
	if *f.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(*f.profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS SDK configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = iamRegion
	}
	return awsCfg, nil
}

// iamClient returns the IAM port over the operator's credentials, for
// reading (--list).
func (f *revokeFlags) iamClient(ctx context.Context, cfg *config.Config) (revoke.IAM, error) {
	awsCfg, err := f.awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return iamAdapter{awsiam.NewFromConfig(awsCfg)}, nil
}

// operator resolves the operator's identity (GetCallerIdentity), refuses
// the broker's own and a tenant session of the configuration's roles, and
// returns the IAM port over it, for writing (--apply, --remove).
func (f *revokeFlags) operator(ctx context.Context, cfg *config.Config, stderr io.Writer) (revoke.IAM, error) {
	awsCfg, err := f.awsConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	who, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("the operator's AWS identity (GetCallerIdentity): %w", err)
	}
	arn := aws.ToString(who.Arn)
	if err := checkOperator(arn, *f.brokerID, cfg); err != nil {
		return nil, err
	}
	creds, _ := awsCfg.Credentials.Retrieve(ctx)
	fmt.Fprintf(stderr, "operator: %s (access key …%s)\n", arn, vend.KeySuffix(creds.AccessKeyID))
	return iamAdapter{awsiam.NewFromConfig(awsCfg)}, nil
}

// checkOperator refuses to change roles as the broker's identity (when
// known: brokerID, a user or role ARN) or as a session of one of the
// configuration's roles (vended tenant credentials).
func checkOperator(callerARN, brokerID string, cfg *config.Config) error {
	role, isSession := assumedRole(callerARN)
	if brokerID != "" {
		if callerARN == brokerID || (isSession && role == roleOfARN(brokerID)) {
			return fmt.Errorf("refusing to run as the broker's own identity %s: use the operator's credentials (--profile, or the SDK's environment)", callerARN)
		}
	}
	if isSession {
		for _, p := range cfg.Profiles {
			if role == roleOfARN(p.RoleARN) {
				return fmt.Errorf("refusing to run as %s, a session of the tenant role %s: use the operator's credentials", callerARN, p.RoleARN)
			}
		}
	}
	return nil
}

// assumedRole returns "ACCOUNT:ROLE" for an assumed-role session ARN
// (arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION).
func assumedRole(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[2] != "sts" {
		return "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return "", false
	}
	role, _, _ := strings.Cut(rest, "/")
	return parts[4] + ":" + role, true
}

// roleOfARN returns "ACCOUNT:ROLE" for a role ARN (the name without its
// path, as in an assumed-role ARN), "" for anything else.
func roleOfARN(arn string) string {
	name, err := rolepolicy.RoleName(arn)
	if err != nil {
		return ""
	}
	return strings.SplitN(arn, ":", 6)[4] + ":" + name
}

// iamAdapter is revoke.IAM over the SDK's IAM client.
type iamAdapter struct{ c *awsiam.Client }

// ListRolePolicies returns every inline policy name of the role, all pages.
func (a iamAdapter) ListRolePolicies(ctx context.Context, role string) ([]string, error) {
	return paginate.All(ctx, awsiam.NewListRolePoliciesPaginator(a.c, &awsiam.ListRolePoliciesInput{RoleName: aws.String(role)}),
		func(p *awsiam.ListRolePoliciesOutput) []string { return p.PolicyNames })
}

// GetRolePolicy returns the inline policy's document, URL-decoded.
func (a iamAdapter) GetRolePolicy(ctx context.Context, role, name string) (string, error) {
	out, err := a.c.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return rolepolicy.DecodeDocument(name, out.PolicyDocument)
}

// PutRolePolicy adds or replaces the inline policy.
func (a iamAdapter) PutRolePolicy(ctx context.Context, role, name, doc string) error {
	_, err := a.c.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	return err
}

// DeleteRolePolicy removes the inline policy.
func (a iamAdapter) DeleteRolePolicy(ctx context.Context, role, name string) error {
	_, err := a.c.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	return err
}
