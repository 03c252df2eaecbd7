// Package iamfetch reads an IAM role's policies through the IAM API
// (aws-sdk-go-v2/service/iam) for package rolepolicy: the role's inline
// policies (ListRolePolicies, then GetRolePolicy for each) and the default
// version of each attached managed policy (ListAttachedRolePolicies, then
// GetPolicy and GetPolicyVersion); GetRole gives the role's unique id and
// tags. Lists are followed through every page. It is the only package of
// the broker's compile path that depends on the SDK; the binary's wiring
// passes it to rolepolicy.FetchAll.
//
// A Client is safe for concurrent use.
package iamfetch

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/internal/paginate"
	"github.com/tvmkit/tvm/policies/iam"
)

// API is the part of the IAM API Fetch calls; *iam.Client satisfies it.
type API interface {
	GetRole(context.Context, *awsiam.GetRoleInput, ...func(*awsiam.Options)) (*awsiam.GetRoleOutput, error)
	awsiam.ListRolePoliciesAPIClient
	GetRolePolicy(context.Context, *awsiam.GetRolePolicyInput, ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error)
	awsiam.ListAttachedRolePoliciesAPIClient
	GetPolicy(context.Context, *awsiam.GetPolicyInput, ...func(*awsiam.Options)) (*awsiam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *awsiam.GetPolicyVersionInput, ...func(*awsiam.Options)) (*awsiam.GetPolicyVersionOutput, error)
}

// Client reads roles through the IAM API; it is a rolepolicy.Fetcher.
type Client struct{ api API }

// New returns a Client over api (an *iam.Client).
func New(api API) *Client { return &Client{api: api} }

// Fetch reads the role's inline and attached managed policies, its id and
// its tags.
func (c *Client) Fetch(ctx context.Context, roleARN string) (*rolepolicy.Role, error) {
	api := c.api
	name, err := rolepolicy.RoleName(roleARN)
	if err != nil {
		return nil, err
	}
	got, err := api.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("GetRole %s: %w", name, err)
	}
	r := &rolepolicy.Role{ARN: roleARN, Source: rolepolicy.FromIAM}
	if got.Role != nil {
		r.ID = aws.ToString(got.Role.RoleId)
		for _, t := range got.Role.Tags {
			r.Tags = append(r.Tags, iam.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
	}
	if r.Policies, err = inline(ctx, api, name); err != nil {
		return nil, err
	}
	managed, err := attached(ctx, api, name)
	if err != nil {
		return nil, err
	}
	r.Policies = append(r.Policies, managed...)
	return r, nil
}

// inline returns the role's inline policies.
func inline(ctx context.Context, api API, role string) ([]*iam.Policy, error) {
	names, err := paginate.All(ctx, awsiam.NewListRolePoliciesPaginator(api, &awsiam.ListRolePoliciesInput{RoleName: aws.String(role)}),
		func(p *awsiam.ListRolePoliciesOutput) []string { return p.PolicyNames })
	if err != nil {
		return nil, fmt.Errorf("ListRolePolicies %s: %w", role, err)
	}
	var out []*iam.Policy
	for _, name := range names {
		got, err := api.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("GetRolePolicy %s/%s: %w", role, name, err)
		}
		pol, err := rolepolicy.ParseDocument("role policy "+role+"/"+name, got.PolicyDocument)
		if err != nil {
			return nil, err
		}
		out = append(out, pol)
	}
	return out, nil
}

// attached returns the default version of each managed policy attached
// to the role.
func attached(ctx context.Context, api API, role string) ([]*iam.Policy, error) {
	list, err := paginate.All(ctx, awsiam.NewListAttachedRolePoliciesPaginator(api, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)}),
		func(p *awsiam.ListAttachedRolePoliciesOutput) []iamtypes.AttachedPolicy { return p.AttachedPolicies })
	if err != nil {
		return nil, fmt.Errorf("ListAttachedRolePolicies %s: %w", role, err)
	}
	var out []*iam.Policy
	for _, ap := range list {
		arn := aws.ToString(ap.PolicyArn)
		got, err := api.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("GetPolicy %s: %w", arn, err)
		}
		if got.Policy == nil || got.Policy.DefaultVersionId == nil {
			return nil, fmt.Errorf("GetPolicy %s: no default version in the answer", arn)
		}
		ver, err := api.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: got.Policy.DefaultVersionId})
		if err != nil {
			return nil, fmt.Errorf("GetPolicyVersion %s %s: %w", arn, aws.ToString(got.Policy.DefaultVersionId), err)
		}
		if ver.PolicyVersion == nil {
			return nil, fmt.Errorf("GetPolicyVersion %s: no version in the answer", arn)
		}
		pol, err := rolepolicy.ParseDocument("role policy "+role+"/"+aws.ToString(ap.PolicyName), ver.PolicyVersion.Document)
		if err != nil {
			return nil, err
		}
		out = append(out, pol)
	}
	return out, nil
}
