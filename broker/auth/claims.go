package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/auth/claimpath"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/policies/tenant"
)

// maxSubjectLen bounds the subject claim, in characters.
const maxSubjectLen = 256

// identity builds the Identity from verified claims.
func (v *Verifier) identity(claims jwt.MapClaims) (*Identity, error) {
	subject, err := subjectFromClaims(claims, v.subjectClaim)
	if err != nil {
		return nil, errs.InvalidToken("invalid subject claim", err)
	}
	tenant, err := tenantFromClaims(claims, v.tenantClaim, v.pattern)
	if err != nil {
		return nil, err
	}
	scopes, err := scopesFromClaims(claims)
	if err != nil {
		return nil, errs.InvalidToken("invalid scope claim", err)
	}
	id := &Identity{Subject: subject, Tenant: tenant, Scopes: scopes}
	// The parser validated these claims, so their types are right.
	id.Issuer, _ = claims.GetIssuer()
	id.Audience, _ = claims.GetAudience()
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		id.Expiry = exp.Time
	}
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		id.IssuedAt = iat.Time
	}
	if jti, ok := claims["jti"].(string); ok {
		id.ID = jti
	}
	return id, nil
}

// tenantFromClaims returns the validated tenant id, or an invalid_tenant
// error. The claim is found by path (package claimpath: a top-level name, a
// nested path such as org.tenant, or an escaped one such as
// kubernetes\.io.namespace).
// The value must be a JSON string matching pattern. A JSON number is
// refused like any other non-string: 7, 7.0, 7e0 and 07 are one number but
// not one string, so no text of it can be the one the IdP meant (and -0, 1e2
// would each need a rule of their own). The value is never echoed.
func tenantFromClaims(claims map[string]any, path claimpath.Path, pattern *tenant.Pattern) (string, error) {
	val, err := path.Lookup(claims)
	switch {
	case errors.Is(err, claimpath.ErrAmbiguous):
		return "", errs.InvalidTenant("tenant claim is ambiguous", fmt.Errorf("claim %q: %w", path, err))
	case err != nil:
		return "", errs.InvalidTenant("tenant claim missing", fmt.Errorf("claim %q %w", path, err))
	}
	tenant, ok := val.(string)
	if !ok {
		return "", errs.InvalidTenant("tenant claim is not a string", fmt.Errorf("tenant claim has JSON type %s", jsonType(val)))
	}
	if !pattern.MatchString(tenant) {
		return "", errs.InvalidTenant("tenant does not match the tenant pattern", errors.New("tenant claim fails the pattern"))
	}
	return tenant, nil
}

// jsonType names the JSON type of a decoded claim value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// subjectFromClaims returns the subject: a non-empty string of at most
// maxSubjectLen characters, valid UTF-8, without control characters.
func subjectFromClaims(claims map[string]any, path claimpath.Path) (string, error) {
	name := path.String()
	val, err := path.Lookup(claims)
	if err != nil {
		return "", fmt.Errorf("claim %q: %w", name, err)
	}
	s, ok := val.(string)
	switch {
	case !ok:
		return "", fmt.Errorf("claim %q has JSON type %T", name, val)
	case s == "":
		return "", fmt.Errorf("claim %q is empty", name)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("claim %q is not valid UTF-8", name)
	case utf8.RuneCountInString(s) > maxSubjectLen:
		return "", fmt.Errorf("claim %q is longer than %d characters", name, maxSubjectLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", fmt.Errorf("claim %q contains a control character", name)
	}
	return s, nil
}

// scopesFromClaims reads "scope" (space separated) or "scp" (a string or an
// array of strings). Both may be present; scopes are de-duplicated in order.
func scopesFromClaims(claims map[string]any) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		for _, f := range strings.Fields(s) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	if val, ok := claims["scope"]; ok {
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf(`"scope" has JSON type %T`, val)
		}
		add(s)
	}
	if val, ok := claims["scp"]; ok {
		switch t := val.(type) {
		case string:
			add(t)
		case []any:
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf(`"scp" holds JSON type %T`, e)
				}
				add(s)
			}
		default:
			return nil, fmt.Errorf(`"scp" has JSON type %T`, val)
		}
	}
	return out, nil
}
