package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/broker/errs"
)

// signRaw signs the given header and payload JSON texts, as they are, with
// RS256 and rsaKey.
func signRaw(t *testing.T, header, payload string) string {
	t.Helper()
	unsigned := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := jwt.SigningMethodRS256.Sign(unsigned, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + b64(sig)
}

// payloadJSON returns claims() as JSON with extra appended as raw members.
func payloadJSON(t *testing.T, extra string) string {
	t.Helper()
	b, err := json.Marshal(claims())
	if err != nil {
		t.Fatal(err)
	}
	if extra == "" {
		return string(b)
	}
	return strings.TrimSuffix(string(b), "}") + "," + extra + "}"
}

// TestRepeatedMembersRefused: a member named twice in a validly signed
// token's header or payload, at any depth, is refused as malformed, since
// readers disagree on which one counts.
func TestRepeatedMembersRefused(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	const header = `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`
	tests := map[string]struct {
		header, payload string
		want            string // in the logged cause; "" = accepted
	}{
		"clean":                    {header: header, payload: payloadJSON(t, "")},
		"alg twice":                {header: `{"alg":"none","alg":"RS256","kid":"rsa-1"}`, payload: payloadJSON(t, ""), want: `header names member "alg"`},
		"kid twice":                {header: `{"alg":"RS256","kid":"other","kid":"rsa-1"}`, payload: payloadJSON(t, ""), want: `header names member "kid"`},
		"tenant twice":             {header: header, payload: payloadJSON(t, `"tenant_id":"evil"`), want: `payload names member "tenant_id"`},
		"subject twice":            {header: header, payload: payloadJSON(t, `"sub":"mallory"`), want: `payload names member "sub"`},
		"nested member twice":      {header: header, payload: payloadJSON(t, `"org":{"tenant":"a","tenant":"b"}`), want: `payload names member "tenant"`},
		"in an array of objects":   {header: header, payload: payloadJSON(t, `"x":[{"a":1},{"b":1,"b":2}]`), want: `payload names member "b"`},
		"names differing in case":  {header: header, payload: payloadJSON(t, `"TENANT_ID":"evil"`)},
		"same name, other objects": {header: header, payload: payloadJSON(t, `"x":{"sub":"a"},"y":{"sub":"b"}`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), "Bearer "+signRaw(t, tc.header, tc.payload))
			if tc.want == "" {
				if err != nil || id.Tenant != "acme" || id.Subject != "alice" {
					t.Fatalf("Verify = %+v, %v; want tenant acme, subject alice", id, err)
				}
				return
			}
			checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, "malformed token")
			if cause := errs.From(err).Cause; cause == nil || !strings.Contains(cause.Error(), tc.want) {
				t.Errorf("cause %v lacks %q", cause, tc.want)
			}
		})
	}
}

// TestWrongIssuerAudienceLogged: the public message stays generic, the
// logged cause says what came and what was expected, quoted (control
// characters escaped) and cut to maxLoggedValue characters.
func TestWrongIssuerAudienceLogged(t *testing.T) {
	srv := standardServer(t)
	v := newTestVerifier(t, jwksAuth(srv.URL), srv.Client())
	long := strings.Repeat("i", 300)
	tests := map[string]struct {
		claims      jwt.MapClaims
		msg         string
		wantInCause []string
		notInCause  []string
	}{
		"issuer": {
			claims: with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), msg: "invalid issuer",
			wantInCause: []string{`iss is "https://evil.example.com"`, fmt.Sprintf("want %q", testIssuer)},
		},
		"issuer with a newline": {
			claims: with(func(c jwt.MapClaims) { c["iss"] = "https://a\nINFO forged line" }), msg: "invalid issuer",
			wantInCause: []string{`iss is "https://a\nINFO forged line"`}, notInCause: []string{"a\nINFO"},
		},
		"issuer too long": {
			claims: with(func(c jwt.MapClaims) { c["iss"] = long }), msg: "invalid issuer",
			wantInCause: []string{`"` + long[:maxLoggedValue] + `"…`}, notInCause: []string{long[:maxLoggedValue+1]},
		},
		"issuer not a string": {
			claims: with(func(c jwt.MapClaims) { c["iss"] = 7 }), msg: "malformed token",
		},
		"audience": {
			claims: with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), msg: "invalid audience",
			wantInCause: []string{`aud is ["a", "b"]`, fmt.Sprintf("want one of [%q, \"other-audience\"]", testAudience)},
		},
		"many audiences": {
			claims: with(func(c jwt.MapClaims) { c["aud"] = []string{"1", "2", "3", "4", "5", "6", "7"} }), msg: "invalid audience",
			wantInCause: []string{`aud is ["1", "2", "3", "4", "5", … (7 in all)]`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), "Bearer "+sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, tc.claims))
			checkErr(t, err, errs.KindUnauthenticated, errs.CodeInvalidToken, tc.msg)
			var e *errs.Error
			errors.As(err, &e)
			cause := fmt.Sprint(e.Cause)
			for _, want := range tc.wantInCause {
				if !strings.Contains(cause, want) {
					t.Errorf("cause %q lacks %q", cause, want)
				}
			}
			for _, bad := range tc.notInCause {
				if strings.Contains(cause, bad) {
					t.Errorf("cause %q holds %q", cause, bad)
				}
			}
			if strings.Contains(e.Message, "evil") || strings.Contains(e.Message, testIssuer) {
				t.Errorf("public message %q names an issuer", e.Message)
			}
		})
	}
}
