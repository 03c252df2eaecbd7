// Package rolepolicy reads an IAM role's identity-based policies as
// deployed, for the isolation proof: from policy documents on disk
// (profiles[].role_policy_files) or through the IAM API
// (profiles[].role_policy_from_iam).
//
// Through the IAM API (package iamfetch adapts aws-sdk-go-v2/service/iam to
// the Fetcher this package takes, so that the compile step never depends on
// the SDK), a role's policies are its inline policies
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
	"net/url"
	"path/filepath"
	"strings"

	"github.com/tvmkit/tvm/internal/filelimit"
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
		doc, err := filelimit.Read(p, MaxDocumentBytes)
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

// Fetcher reads a role's policies as deployed (package iamfetch: through
// the IAM API).
type Fetcher interface {
	Fetch(ctx context.Context, roleARN string) (*Role, error)
}

// DecodeDocument URL-decodes a policy document IAM returned (IAM answers
// documents URL-encoded, RFC 3986).
func DecodeDocument(name string, doc *string) (string, error) {
	if doc == nil {
		return "", fmt.Errorf("%s: no document in the answer", name)
	}
	text, err := url.QueryUnescape(*doc)
	if err != nil {
		return "", fmt.Errorf("%s: document is not URL-encoded: %w", name, err)
	}
	return text, nil
}

// ParseDocument URL-decodes and parses a policy document IAM returned.
func ParseDocument(name string, doc *string) (*iam.Policy, error) {
	text, err := DecodeDocument(name, doc)
	if err != nil {
		return nil, err
	}
	pol, err := iam.Parse(name, []byte(text))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return pol, nil
}

// RoleName returns the role's name (the last segment of its ARN's
// resource part; IAM's API names roles without their path).
func RoleName(roleARN string) (string, error) {
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

// FetchAll fetches each role of arns once through f.
func FetchAll(ctx context.Context, f Fetcher, arns []string) *Set {
	s := &Set{roles: map[string]*Role{}, errs: map[string]error{}}
	for _, arn := range arns {
		if _, done := s.roles[arn]; done {
			continue
		}
		if _, done := s.errs[arn]; done {
			continue
		}
		r, err := f.Fetch(ctx, arn)
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
