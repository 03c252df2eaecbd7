// Package rolepolicy reads an IAM role's identity-based policies as
// deployed, for the isolation proof: from policy documents on disk
// (profiles[].role_policy_files) or through the IAM API
// (profiles[].role_policy_from_iam).
//
// Through the IAM API (aws-sdk-go-v2/service/iam, or any client with the
// API methods), a role's policies are its inline policies
// (ListRolePolicies, then GetRolePolicy for each) and the default version
// of each attached managed policy (ListAttachedRolePolicies, then GetPolicy
// and GetPolicyVersion); GetRole gives the role's unique id and tags.
// Lists are followed through every page. IAM returns policy documents
// URL-encoded (RFC 3986); they are decoded and parsed strictly
// (policies/iam). The caller needs iam:GetRole, iam:ListRolePolicies,
// iam:GetRolePolicy, iam:ListAttachedRolePolicies on the role and
// iam:GetPolicy, iam:GetPolicyVersion on its managed policies.
//
// A role's permissions boundary is not read: it can only narrow what the
// role allows, so leaving it out never hides a leak from the proof.
//
// Everything here is safe for concurrent use; a Role and a Set are
// immutable once returned.
package rolepolicy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tvmkit/tvm/policies/iam"
)

// MaxDocumentBytes bounds one policy document (IAM's largest, an inline
// role policy, is 10,240 characters without whitespace; a file may be
// indented).
const MaxDocumentBytes = 128 << 10

// Source says where a role's policies were read from.
type Source string

// Sources.
const (
	FromFiles Source = "files"
	FromIAM   Source = "IAM"
)

// Role is a role's identity-based policies as deployed.
type Role struct {
	ARN string
	// ID is the role's unique id (AROA...), "" when read from files.
	ID string
	// Source is where the policies were read from.
	Source Source
	// Policies are the parsed documents, each named "role policy
	// <role name>/<policy name>" (or the file name).
	Policies []*iam.Policy
	// Tags are the role's own tags (from IAM only).
	Tags []iam.Tag
}

// Describe says where the policies came from, for logs and reports, e.g.
// "from IAM (2 policies)".
func (r *Role) Describe() string {
	return fmt.Sprintf("from %s (%d %s)", r.Source, len(r.Policies), plural(len(r.Policies), "policy", "policies"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// LoadFiles reads the role's policy documents from paths (one JSON policy
// document per file) and parses them.
func LoadFiles(roleARN string, paths []string) (*Role, error) {
	r := &Role{ARN: roleARN, Source: FromFiles}
	for _, p := range paths {
		doc, err := readLimited(p)
		if err != nil {
			return nil, fmt.Errorf("role policy file %s: %w", p, err)
		}
		pol, err := iam.Parse("role policy "+filepath.Base(p), doc)
		if err != nil {
			return nil, fmt.Errorf("role policy file %s: %w", p, err)
		}
		r.Policies = append(r.Policies, pol)
	}
	return r, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxDocumentBytes)
	}
	return data, nil
}

// API is the part of the IAM API Fetch calls; *iam.Client satisfies it.
type API interface {
	GetRole(context.Context, *awsiam.GetRoleInput, ...func(*awsiam.Options)) (*awsiam.GetRoleOutput, error)
	awsiam.ListRolePoliciesAPIClient
	GetRolePolicy(context.Context, *awsiam.GetRolePolicyInput, ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error)
	awsiam.ListAttachedRolePoliciesAPIClient
	GetPolicy(context.Context, *awsiam.GetPolicyInput, ...func(*awsiam.Options)) (*awsiam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *awsiam.GetPolicyVersionInput, ...func(*awsiam.Options)) (*awsiam.GetPolicyVersionOutput, error)
}

// Fetch reads the role's inline and attached managed policies, its id and
// its tags through api.
func Fetch(ctx context.Context, api API, roleARN string) (*Role, error) {
	name, err := roleName(roleARN)
	if err != nil {
		return nil, err
	}
	got, err := api.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("GetRole %s: %w", name, err)
	}
	r := &Role{ARN: roleARN, Source: FromIAM}
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
	var out []*iam.Policy
	pages := awsiam.NewListRolePoliciesPaginator(api, &awsiam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListRolePolicies %s: %w", role, err)
		}
		for _, name := range page.PolicyNames {
			got, err := api.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return nil, fmt.Errorf("GetRolePolicy %s/%s: %w", role, name, err)
			}
			pol, err := parseDocument("role policy "+role+"/"+name, got.PolicyDocument)
			if err != nil {
				return nil, err
			}
			out = append(out, pol)
		}
	}
	return out, nil
}

// attached returns the default version of each managed policy attached
// to the role.
func attached(ctx context.Context, api API, role string) ([]*iam.Policy, error) {
	var out []*iam.Policy
	pages := awsiam.NewListAttachedRolePoliciesPaginator(api, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListAttachedRolePolicies %s: %w", role, err)
		}
		for _, ap := range page.AttachedPolicies {
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
			pol, err := parseDocument("role policy "+role+"/"+aws.ToString(ap.PolicyName), ver.PolicyVersion.Document)
			if err != nil {
				return nil, err
			}
			out = append(out, pol)
		}
	}
	return out, nil
}

// parseDocument URL-decodes and parses a policy document IAM returned.
func parseDocument(name string, doc *string) (*iam.Policy, error) {
	if doc == nil {
		return nil, fmt.Errorf("%s: no document in the answer", name)
	}
	text, err := url.QueryUnescape(*doc)
	if err != nil {
		return nil, fmt.Errorf("%s: document is not URL-encoded: %w", name, err)
	}
	pol, err := iam.Parse(name, []byte(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return pol, nil
}

// roleName returns the role's name (the last segment of its ARN's
// resource part; IAM's API names roles without their path).
func roleName(roleARN string) (string, error) {
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) < 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return "", fmt.Errorf("%q is not an IAM role ARN", roleARN)
	}
	return parts[5][strings.LastIndexByte(parts[5], '/')+1:], nil
}

// Set holds the roles FetchAll read, and the error of each it could not.
type Set struct {
	roles map[string]*Role
	errs  map[string]error
}

// FetchAll fetches each role of arns once through api.
func FetchAll(ctx context.Context, api API, arns []string) *Set {
	s := &Set{roles: map[string]*Role{}, errs: map[string]error{}}
	for _, arn := range arns {
		if _, done := s.roles[arn]; done {
			continue
		}
		if _, done := s.errs[arn]; done {
			continue
		}
		r, err := Fetch(ctx, api, arn)
		if err != nil {
			s.errs[arn] = err
			continue
		}
		s.roles[arn] = r
	}
	return s
}

// Unavailable returns a Set in which every role of arns failed with err
// (the IAM client could not be configured, say).
func Unavailable(err error, arns []string) *Set {
	s := &Set{roles: map[string]*Role{}, errs: map[string]error{}}
	for _, arn := range arns {
		s.errs[arn] = err
	}
	return s
}

// ErrNotFetched is returned by Role for a role FetchAll was not asked for.
var ErrNotFetched = errors.New("the role's policies were not fetched from IAM")

// Role returns the fetched role, or why it could not be fetched.
func (s *Set) Role(arn string) (*Role, error) {
	if s == nil {
		return nil, ErrNotFetched
	}
	if err, ok := s.errs[arn]; ok {
		return nil, err
	}
	if r, ok := s.roles[arn]; ok {
		return r, nil
	}
	return nil, ErrNotFetched
}
