package api

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// realVerifier returns an *auth.Verifier that trusts the IdP's keys (read
// from a JWK Set file) and the PEM of the IdP's public key (for the HS256
// confusion case).
func realVerifier(t *testing.T, p *testenv.IdP) (*auth.Verifier, []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(p.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := auth.New(ctx, config.Auth{
		Issuer: p.URL, Audiences: []string{"tvm-broker"}, JWKSFile: p.JWKSFile(t), TenantClaim: "tenant_id",
	}, auth.Options{Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestBadTokensRealVerifier sends a table of bad tokens through the real
// broker/auth verifier: each gets its status and code and none reaches the
// vendor.
func TestBadTokensRealVerifier(t *testing.T) {
	p := testenv.StartIdP(t, func() time.Time { return t0 })
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	verifier, publicPEM := realVerifier(t, p)

	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := p.Claims()
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, k any, kid string, c jwt.MapClaims) string {
		return testenv.SignToken(t, method, k, kid, c)
	}
	rs := func(mod func(jwt.MapClaims)) string { return p.Sign(t, claims(mod)) }
	tenant := func(v any) string { return rs(func(c jwt.MapClaims) { c["tenant_id"] = v }) }
	good := rs(nil)
	parts := strings.Split(good, ".")

	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(
		`{"iss":"`+p.URL+`","aud":"tvm-broker","sub":"alice","tenant_id":"2","exp":`+
			big.NewInt(t0.Add(time.Hour).Unix()).String()+`}`)) + "." + parts[2]
	realKID := p.KeyID()

	tests := map[string]struct {
		authorization []string // nil: no header
		status        int
		code          string
	}{
		"missing header":             {status: 401, code: errs.CodeInvalidToken},
		"empty header":               {authorization: []string{""}, status: 401, code: errs.CodeInvalidToken},
		"scheme only":                {authorization: []string{"Bearer"}, status: 401, code: errs.CodeInvalidToken},
		"basic scheme":               {authorization: []string{"Basic YWxpY2U6c2VjcmV0"}, status: 401, code: errs.CodeInvalidToken},
		"not a JWT":                  {authorization: []string{"Bearer abc.def"}, status: 401, code: errs.CodeInvalidToken},
		"alg none":                   {authorization: []string{"Bearer " + unsigned}, status: 401, code: errs.CodeInvalidToken},
		"HS256 with the RSA key PEM": {authorization: []string{"Bearer " + sign(jwt.SigningMethodHS256, publicPEM, realKID, claims(nil))}, status: 401, code: errs.CodeInvalidToken},
		"tampered payload":           {authorization: []string{"Bearer " + tampered}, status: 401, code: errs.CodeInvalidToken},
		"signed by another key":      {authorization: []string{"Bearer " + p.ForeignToken(t, other, nil)}, status: 401, code: errs.CodeInvalidToken},
		"unknown kid":                {authorization: []string{"Bearer " + sign(jwt.SigningMethodRS256, other, "k2", claims(nil))}, status: 401, code: errs.CodeInvalidToken},
		"expired": {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) {
			c["exp"] = t0.Add(-time.Hour).Unix()
			c["iat"] = t0.Add(-2 * time.Hour).Unix()
			c["nbf"] = t0.Add(-2 * time.Hour).Unix()
		})}, status: 401, code: errs.CodeInvalidToken},
		"not yet valid":               {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Hour).Unix() })}, status: 401, code: errs.CodeInvalidToken},
		"no exp":                      {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) { delete(c, "exp") })}, status: 401, code: errs.CodeInvalidToken},
		"wrong issuer":                {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })}, status: 401, code: errs.CodeInvalidToken},
		"wrong audience":              {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) { c["aud"] = "other" })}, status: 401, code: errs.CodeInvalidToken},
		"no tenant":                   {authorization: []string{"Bearer " + rs(func(c jwt.MapClaims) { delete(c, "tenant_id") })}, status: 401, code: errs.CodeInvalidTenant},
		"tenant *":                    {authorization: []string{"Bearer " + tenant("*")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant ?":                    {authorization: []string{"Bearer " + tenant("1?")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant quote":                {authorization: []string{"Bearer " + tenant(`1"`)}, status: 401, code: errs.CodeInvalidTenant},
		"tenant $":                    {authorization: []string{"Bearer " + tenant("${aws:username}")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant slash":                {authorization: []string{"Bearer " + tenant("1/2")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant control character":    {authorization: []string{"Bearer " + tenant("1\n")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant over-long":            {authorization: []string{"Bearer " + tenant(strings.Repeat("a", 65))}, status: 401, code: errs.CodeInvalidTenant},
		"tenant empty":                {authorization: []string{"Bearer " + tenant("")}, status: 401, code: errs.CodeInvalidTenant},
		"tenant not a string":         {authorization: []string{"Bearer " + tenant([]string{"1", "2"})}, status: 401, code: errs.CodeInvalidTenant},
		"oversized header":            {authorization: []string{"Bearer " + good + strings.Repeat("A", 9000)}, status: 431, code: errs.CodeRequestTooLarge},
		"two Authorization headers":   {authorization: []string{"Bearer " + good, "Bearer " + good}, status: 401, code: errs.CodeInvalidToken},
		"valid token, Bearer":         {authorization: []string{"Bearer " + good}, status: 200},
		"valid token, raw (ECS/EKS)":  {authorization: []string{good}, status: 200},
		"valid token, bearer lowcase": {authorization: []string{"bearer " + good}, status: 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.Verifier = verifier })
			rec := h.do(req{target: "/v1/credentials", header: http.Header{"Authorization": tc.authorization}})
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			calls := len(h.vendor.requests())
			if tc.status == 200 {
				if calls != 1 || h.vendor.requests()[0].Tenant != "1" || h.vendor.requests()[0].Subject != "alice" {
					t.Errorf("vend requests = %+v, want one for tenant 1, subject alice", h.vendor.requests())
				}
				return
			}
			if calls != 0 {
				t.Errorf("vendor called %d times for a rejected token", calls)
			}
			if got := decodeObject(t, rec); got["code"] != tc.code {
				t.Errorf("code = %v, want %s", got["code"], tc.code)
			}
			if strings.Contains(h.logs.String(), good) || strings.Contains(rec.Body.String(), "alice") {
				t.Error("token or claims leaked")
			}
		})
	}
}
