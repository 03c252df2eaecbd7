package dynamo

import (
	"net/http"

	"github.com/tvmkit/tvm/policies/iam"
)

// Caller is an authenticated principal as the gateway needs it for
// authorization.
type Caller struct {
	// ARN is arn:aws:sts::ACCT:assumed-role/ROLE/SESSION for a role session
	// or arn:aws:iam::ACCT:user/NAME for an IAM user.
	ARN string
	// Account is the caller's account id; it is the account of every
	// resource ARN the gateway builds for this caller.
	Account string
	// Session evaluates the caller's requests: its identity policies (+
	// session policies for an assumed-role session) and the global
	// condition keys it carries (aws:PrincipalArn, aws:userid,
	// aws:SourceIdentity, aws:PrincipalTag/<k>, aws:TokenIssueTime, ...).
	// The gateway adds the request's DynamoDB keys; it never modifies it.
	Session *iam.Session
}

// Authenticator verifies a request's SigV4 signature (service "dynamodb"),
// access key, session token and expiry. body is the complete request body,
// already read by the gateway. On failure it returns an *APIError with
// DynamoDB's code and message; any other error is answered with a 500
// InternalServerError. Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (*Caller, error)
}
