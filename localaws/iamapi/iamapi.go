// Package iamapi serves the local AWS's IAM endpoint: the role and managed
// policy reads a broker needs to prove a role as deployed (GetRole,
// GetRolePolicy, ListRolePolicies, ListAttachedRolePolicies, GetPolicy,
// GetPolicyVersion) and the inline-policy writes an operator needs to
// attach and remove a revocation Deny (PutRolePolicy, DeleteRolePolicy).
//
// Wire format: the AWS Query protocol (see localaws/awsquery): POST / with
// Content-Type application/x-www-form-urlencoded and a body such as
//
//	Action=GetRolePolicy&Version=2010-05-08&RoleName=tvm-tenant-read&PolicyName=read-demo-table
//
// SigV4-signed for service "iam" in region us-east-1 (IAM is global; its
// requests are signed for us-east-1). Responses are the XML documents
// aws-sdk-go-v2/service/iam decodes, in the
// https://iam.amazonaws.com/doc/2010-05-08/ namespace; policy documents in
// responses are URL-encoded, as IAM returns them. Errors carry IAM's codes:
// NoSuchEntity (404), MalformedPolicyDocument (400), LimitExceeded (409),
// ValidationError (400), AccessDenied (403), and the signature and token
// errors of STS.
//
// Every call is authorized as IAM authorizes it: the caller's identity
// (and session) policies must allow iam:<Action> on the role ARN
// (arn:aws:iam::ACCOUNT:role/NAME) or the policy ARN; the caller sees and
// changes the roles and policies of its own account only. Every decision
// is logged as one structured line.
//
// A Handler is safe for concurrent use; role changes are atomic (see
// localaws/identity).
package iamapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/policies/iam"
)

// Namespace is the IAM XML namespace.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// APIVersion is the only Version accepted.
const APIVersion = "2010-05-08"

// SigningRegion is the region IAM requests are signed for.
const SigningRegion = "us-east-1"

// DefaultMaxBodyBytes bounds request bodies (a policy document is at most
// 131,072 characters URL-encoded).
const DefaultMaxBodyBytes = 512 << 10

// Options configures a Handler; Region is ignored (IAM requests are
// signed for SigningRegion).
type Options = awsquery.Options

// Handler is the IAM endpoint.
type Handler = awsquery.Endpoint

// New returns an IAM handler over opts.Store.
func New(opts Options) (*Handler, error) {
	return awsquery.NewEndpoint(awsquery.Service{
		Name: "iam", SigningRegion: SigningRegion, Namespace: Namespace, Version: APIVersion,
		DefaultMaxBodyBytes: DefaultMaxBodyBytes,
		Actions: map[string]awsquery.Action{
			"GetRole":                  getRole,
			"GetRolePolicy":            getRolePolicy,
			"ListRolePolicies":         listRolePolicies,
			"ListAttachedRolePolicies": listAttachedRolePolicies,
			"PutRolePolicy":            putRolePolicy,
			"DeleteRolePolicy":         deleteRolePolicy,
			"GetPolicy":                getPolicy,
			"GetPolicyVersion":         getPolicyVersion,
		},
	}, opts)
}

// call is one authenticated request.
type call = awsquery.Call

// authorize evaluates iam:<Action> on resourceARN for the caller; shown is
// the resource as IAM names it in AccessDenied messages ("role NAME",
// "policy ARN").
func authorize(c *call, resourceARN, shown string) *awsquery.Error {
	action := "iam:" + c.Request.Action
	d := c.Caller.Evaluator(c.Store.Now()).Evaluate(action, resourceARN, nil)
	attrs := append([]slog.Attr{slog.String("action", action), slog.String("resource", resourceARN)}, d.LogAttrs()...)
	c.Log.LogAttrs(context.Background(), slog.LevelInfo, "authorization decision", attrs...)
	if d.Allowed() {
		return nil
	}
	// "User: ... is not authorized to perform: iam:GetRole on resource: role
	// NAME because no identity-based policy allows the iam:GetRole action",
	// as IAM words it.
	msg := d.DenialMessage(iam.Request{Principal: c.Caller.ARN(), Action: action, Resource: shown})
	return awsquery.Senderf(http.StatusForbidden, "AccessDenied", "%s", msg)
}
