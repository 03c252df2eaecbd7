package identity

import (
	"net/http"

	"github.com/tvmkit/tvm/localaws/sigv4"
)

// Authenticate verifies r's SigV4 signature with v against the store's keys,
// then the session token and expiry. It returns the caller and the access key
// id. Errors are a *sigv4.Error (signature problems, unknown key),
// ErrInvalidToken or ErrExpiredToken; services map them to their own codes.
// accessKeyID is returned whenever the Authorization header could be parsed,
// so that failures can be logged by key.
func (s *Store) Authenticate(v *sigv4.Verifier, r *http.Request, body []byte) (p Principal, accessKeyID string, err error) {
	var cred Credential
	res, err := v.Verify(r, body, func(id string) (string, bool) {
		c, ok := s.Lookup(id)
		if !ok {
			return "", false
		}
		cred = c
		return c.Secret, true
	})
	if err != nil {
		if a, perr := sigv4.ParseAuthorization(r.Header.Get("Authorization")); perr == nil {
			accessKeyID = a.AccessKeyID
		}
		return Principal{}, accessKeyID, err
	}
	if err := s.CheckToken(cred, res.SessionToken); err != nil {
		return Principal{}, res.AccessKeyID, err
	}
	return Principal{User: cred.User, Session: cred.Session}, res.AccessKeyID, nil
}

// KeyHint returns the last four characters of an access key id, the most of
// it that may appear in logs.
func KeyHint(accessKeyID string) string {
	if len(accessKeyID) <= 4 {
		return accessKeyID
	}
	return "…" + accessKeyID[len(accessKeyID)-4:]
}
