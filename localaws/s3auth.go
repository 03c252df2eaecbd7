package localaws

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/s3"
	"github.com/tvmkit/tvm/localaws/sigv4"
)

// S3Authenticator implements s3.Authenticator over an identity store: SigV4
// as S3 verifies it (header or presigned URL, service "s3"), then the
// session token and expiry.
type S3Authenticator struct{ storeVerifier }

// NewS3Authenticator returns an authenticator for requests signed for region.
func NewS3Authenticator(store *identity.Store, region string) (*S3Authenticator, error) {
	return newAuthenticator[S3Authenticator](store, "s3", region)
}

// Authenticate implements s3.Authenticator. Failures are *s3.Error with S3's
// codes: AccessDenied (no credentials, expired presigned URL),
// AuthorizationHeaderMalformed, AuthorizationQueryParametersError (any
// malformed or mis-scoped presigned URL),
// InvalidRequest (x-amz-content-sha256), NotImplemented (SigV4a),
// RequestTimeTooSkewed, InvalidAccessKeyId, SignatureDoesNotMatch,
// InvalidToken, ExpiredToken.
func (a *S3Authenticator) Authenticate(r *http.Request) (*s3.Caller, error) {
	var cred identity.Credential
	res, err := a.verifier.VerifyS3(r, func(id string) (string, bool) {
		c, ok := a.store.Lookup(id)
		cred = c
		return c.Secret, ok
	})
	if err == nil {
		err = a.store.CheckToken(cred, res.SessionToken)
	}
	if err != nil {
		return nil, s3AuthError(err, sigv4.PresignedQuery(r.URL.Query()))
	}
	p := identity.Principal{User: cred.User, Session: cred.Session}
	return &s3.Caller{
		ARN:       p.ARN(),
		Account:   p.Account(),
		Session:   p.Evaluator(a.store.Now()),
		Signature: res,
	}, nil
}

// s3AuthError maps an authentication failure to S3's error; presigned
// says the request authenticated with a presigned URL, whose malformed or
// mis-scoped parameters S3 answers AuthorizationQueryParametersError.
func s3AuthError(err error, presigned bool) error {
	e := func(status int, code, msg string) *s3.Error {
		return &s3.Error{Status: status, Code: code, Message: msg}
	}
	var se *sigv4.Error
	switch {
	case errors.Is(err, identity.ErrExpiredToken):
		return e(http.StatusBadRequest, s3.CodeExpiredToken, "The provided token has expired.")
	case errors.Is(err, identity.ErrInvalidToken):
		return e(http.StatusBadRequest, s3.CodeInvalidToken, "The provided token is malformed or otherwise invalid.")
	case errors.As(err, &se):
		switch se.Kind {
		case sigv4.MissingAuth:
			return e(http.StatusForbidden, s3.CodeAccessDenied, "Access Denied")
		case sigv4.IncompleteSignature, sigv4.BadScope:
			if presigned {
				return e(http.StatusBadRequest, s3.CodeAuthorizationQueryParameters, se.Message)
			}
			return e(http.StatusBadRequest, s3.CodeAuthorizationHeaderMalformed, "The authorization header is malformed; "+se.Message)
		case sigv4.BadPresign:
			return e(http.StatusBadRequest, s3.CodeAuthorizationQueryParameters, se.Message)
		case sigv4.BadPayload:
			return e(http.StatusBadRequest, s3.CodeInvalidRequest, se.Message)
		case sigv4.Unsupported:
			return e(http.StatusNotImplemented, s3.CodeNotImplemented, se.Message)
		case sigv4.Expired:
			return e(http.StatusForbidden, s3.CodeAccessDenied, se.Message)
		case sigv4.Skew:
			return e(http.StatusForbidden, s3.CodeRequestTimeTooSkewed,
				"The difference between the request time and the current time is too large. "+se.Message)
		case sigv4.UnknownKey:
			return e(http.StatusForbidden, s3.CodeInvalidAccessKeyID, se.Message)
		default: // Mismatch
			return e(http.StatusForbidden, s3.CodeSignatureDoesNotMatch, se.Message)
		}
	}
	return fmt.Errorf("localaws: s3 authenticate: %w", err)
}
