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
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/sigv4"
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

// Options configures a Handler.
type Options struct {
	Store *identity.Store
	// Logger receives one line per decision; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Handler is the IAM endpoint.
type Handler struct {
	store    *identity.Store
	verifier *sigv4.Verifier
	log      *slog.Logger
	maxBody  int64
}

// New returns an IAM handler over opts.Store.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("iamapi: Store is required")
	}
	v, err := sigv4.NewVerifier(sigv4.Options{Service: "iam", Region: SigningRegion, Clock: opts.Store.Now})
	if err != nil {
		return nil, fmt.Errorf("iamapi: %w", err)
	}
	h := &Handler{store: opts.Store, verifier: v, log: opts.Logger, maxBody: opts.MaxBodyBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h, nil
}

// operation is one IAM action.
type operation func(h *Handler, c *call) (any, *awsquery.Error)

var operations = map[string]operation{
	"GetRole":                  (*Handler).getRole,
	"GetRolePolicy":            (*Handler).getRolePolicy,
	"ListRolePolicies":         (*Handler).listRolePolicies,
	"ListAttachedRolePolicies": (*Handler).listAttachedRolePolicies,
	"PutRolePolicy":            (*Handler).putRolePolicy,
	"DeleteRolePolicy":         (*Handler).deleteRolePolicy,
	"GetPolicy":                (*Handler).getPolicy,
	"GetPolicyVersion":         (*Handler).getPolicyVersion,
}

// call is one authenticated request.
type call struct {
	caller identity.Principal
	q      *awsquery.Request
	reqID  string
	log    *slog.Logger
}

// ServeHTTP answers one IAM request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsquery.NewRequestID()
	resp, e := h.serve(r, reqID)
	if e != nil {
		awsquery.WriteError(w, Namespace, reqID, e)
		return
	}
	awsquery.WriteXML(w, http.StatusOK, Namespace, reqID, resp)
}

func (h *Handler) serve(r *http.Request, reqID string) (any, *awsquery.Error) {
	q, e := awsquery.Parse(r, h.maxBody, APIVersion)
	if e != nil {
		return nil, e
	}
	op, ok := operations[q.Action]
	if !ok {
		return nil, awsquery.UnknownAction(q.Action, APIVersion)
	}
	caller, keyID, err := h.store.Authenticate(h.verifier, r, q.Body)
	if err != nil {
		e := awsquery.AuthError(err)
		h.log.Info("iam authentication failed", "request_id", reqID, "action", "iam:"+q.Action,
			"access_key", identity.KeyHint(keyID), "code", e.Code)
		return nil, e
	}
	log := h.log.With("request_id", reqID, "principal", caller.ARN(), "access_key", identity.KeyHint(keyID))
	return op(h, &call{caller: caller, q: q, reqID: reqID, log: log})
}

// authorize evaluates iam:<Action> on resourceARN for the caller; shown is
// the resource as IAM names it in AccessDenied messages ("role NAME",
// "policy ARN").
func (h *Handler) authorize(c *call, resourceARN, shown string) *awsquery.Error {
	action := "iam:" + c.q.Action
	d := c.caller.Evaluator(h.store.Now()).Evaluate(action, resourceARN, nil)
	c.log.Info("authorization decision", "action", action, "resource", resourceARN, "decision", string(d.Outcome),
		"policy_kind", string(d.Kind), "policy", d.Policy, "statement", d.Statement, "sid", d.Sid, "reason", d.Explain())
	if d.Allowed() {
		return nil
	}
	// "User: ... is not authorized to perform: iam:GetRole on resource: role
	// NAME because no identity-based policy allows the iam:GetRole action",
	// as IAM words it.
	msg := d.DenialMessage(iam.Request{Principal: c.caller.ARN(), Action: action, Resource: shown})
	return awsquery.Senderf(http.StatusForbidden, "AccessDenied", "%s", msg)
}
