package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

const (
	stsTestKeyID  = "AKIATESTENVSTS000001"
	stsTestSecret = "testenvStsSecretKey000000000000000000001"
)

// stsClient returns a real SDK client for the fake at url, signing with
// keyID in region, with the SDK's retries off.
func stsClient(t *testing.T, url, keyID, region string) *sts.Client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return sts.New(sts.Options{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, stsTestSecret, ""),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	})
}

func TestFakeSTSAssumeRole(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fake := &STS{KeyID: stsTestKeyID, Region: "us-east-1", Clock: func() time.Time { return now }}
	client := stsClient(t, StartSTS(t, fake), stsTestKeyID, "us-east-1")
	ctx := context.Background()
	in := &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::210987654321:role/path/tvm-read"), RoleSessionName: aws.String("t-1-read"),
		DurationSeconds: aws.Int32(900), Policy: aws.String(`{"Version":"2012-10-17"}`),
	}
	first, err := client.AssumeRole(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := client.AssumeRole(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	issued := fake.Issued()
	if len(issued) != 2 || issued[0] == issued[1] {
		t.Fatalf("issued %+v, want two distinct sets", issued)
	}
	for i, out := range []*sts.AssumeRoleOutput{first, second} {
		c := out.Credentials
		got := IssuedCredentials{aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), aws.ToTime(c.Expiration)}
		if diff := cmp.Diff(issued[i], got); diff != "" {
			t.Errorf("answer %d differs from the record (-record +answer):\n%s", i, diff)
		}
		if !got.Expiration.Equal(now.Add(15*time.Minute)) || !strings.Contains(got.SecretAccessKey, SecretMarker) || !strings.Contains(got.SessionToken, SecretMarker) {
			t.Errorf("credentials %+v: want expiry now+900s and the secret marker", got)
		}
		if !fake.IssuedKey(got.AccessKeyID) {
			t.Errorf("IssuedKey(%s) = false", got.AccessKeyID)
		}
		if arn := aws.ToString(out.AssumedRoleUser.Arn); arn != "arn:aws:sts::210987654321:assumed-role/tvm-read/t-1-read" {
			t.Errorf("AssumedRoleUser.Arn = %s", arn)
		}
	}
	calls := fake.Calls()
	if len(calls) != 2 || calls[0].Form.Get("Policy") != `{"Version":"2012-10-17"}` || calls[1].RequestID == calls[0].RequestID {
		t.Errorf("calls = %+v", calls)
	}
	if v := fake.Violations(); len(v) != 0 {
		t.Errorf("violations of a real SDK client: %q", v)
	}
	if fake.IssuedKey(stsTestKeyID) {
		t.Error("IssuedKey is true for the caller's own key")
	}
}

func TestFakeSTSErrorsAndCaller(t *testing.T) {
	fake := &STS{CallerARN: "arn:aws:iam::123456789012:user/admin", Fail: func(n int, form url.Values) string {
		if strings.HasSuffix(form.Get("RoleArn"), "/denied") {
			return "AccessDenied"
		}
		if n == 2 {
			return "Throttling"
		}
		return ""
	}}
	client := stsClient(t, StartSTS(t, fake), stsTestKeyID, "eu-west-1")
	ctx := context.Background()
	who, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != fake.CallerARN || aws.ToString(who.Account) != "123456789012" {
		t.Fatalf("GetCallerIdentity = %+v, %v", who, err)
	}
	for _, tc := range []struct{ role, code string }{{"arn:aws:iam::123456789012:role/ok", "Throttling"}, {"arn:aws:iam::123456789012:role/denied", "AccessDenied"}} {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("s")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Errorf("AssumeRole(%s) error = %v, want %s", tc.role, err, tc.code)
		}
	}
	calls := fake.Calls()
	if got := []string{calls[0].ErrorCode, calls[1].ErrorCode, calls[2].ErrorCode}; !cmp.Equal(got, []string{"", "Throttling", "AccessDenied"}) {
		t.Errorf("error codes = %q", got)
	}
	if len(fake.Issued()) != 0 {
		t.Error("credentials issued by failed calls")
	}
	if calls[0].KeyID != stsTestKeyID || calls[0].Region != "eu-west-1" || calls[0].Service != "sts" {
		t.Errorf("scope = %s/%s/%s", calls[0].KeyID, calls[0].Region, calls[0].Service)
	}
}

func TestFakeSTSViolations(t *testing.T) {
	fake := &STS{KeyID: stsTestKeyID, Region: "us-east-1"}
	base := StartSTS(t, fake)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	tests := map[string]struct {
		method, path, contentType, authorization, body string
		want                                           string
	}{
		"GET":           {http.MethodGet, "/", "", "", "", "GET /"},
		"JSON body":     {http.MethodPost, "/", "application/json", "", `{}`, "Content-Type"},
		"unsigned":      {http.MethodPost, "/", "application/x-www-form-urlencoded", "", "Action=AssumeRole&Version=2011-06-15", "not a SigV4 signature"},
		"other key":     {http.MethodPost, "/", "application/x-www-form-urlencoded", sigHeader("AKIAOTHER00000000001", "us-east-1", "sts"), "Action=AssumeRole&Version=2011-06-15", "signed with key"},
		"other region":  {http.MethodPost, "/", "application/x-www-form-urlencoded", sigHeader(stsTestKeyID, "eu-west-1", "sts"), "Action=AssumeRole&Version=2011-06-15", "region"},
		"other service": {http.MethodPost, "/", "application/x-www-form-urlencoded", sigHeader(stsTestKeyID, "us-east-1", "dynamodb"), "Action=AssumeRole&Version=2011-06-15", "for sts"},
		"no version":    {http.MethodPost, "/", "application/x-www-form-urlencoded", sigHeader(stsTestKeyID, "us-east-1", "sts"), "Action=AssumeRole", "Version"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(fake.Violations())
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Authorization", tc.authorization)
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			v := fake.Violations()[before:]
			if len(v) == 0 || !strings.Contains(strings.Join(v, "; "), tc.want) {
				t.Errorf("violations %q, want one mentioning %q", v, tc.want)
			}
		})
	}
}

func sigHeader(keyID, region, service string) string {
	return "AWS4-HMAC-SHA256 Credential=" + keyID + "/20260102/" + region + "/" + service +
		"/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
}

func TestIdPTokens(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := StartIdP(t, func() time.Time { return now })
	tok := p.Token(t, jwt.MapClaims{"tenant_id": "acme", "jti": nil, "scope": "tvm"})
	claims, err := p.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := jwt.MapClaims{"iss": p.URL, "aud": "tvm-broker", "sub": DefaultSubject, "tenant_id": "acme", "scope": "tvm",
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(DefaultTokenTTL).Unix())}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(p.ForeignToken(t, other, nil)); err == nil {
		t.Error("Verify accepted a token signed by another key")
	}
	if _, err := p.Verify(p.Token(t, jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})); err == nil {
		t.Error("Verify accepted an expired token")
	}
}

func TestIdPServesTheDevProvider(t *testing.T) {
	p := StartIdP(t, nil)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	// The mint endpoint is the dev provider's: its tokens verify.
	res, err := hc.Post(p.URL+"/idp/token", "application/json", bytes.NewReader([]byte(`{"tenant":"7","subject":"bob"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var minted struct{ Token string }
	err = json.NewDecoder(res.Body).Decode(&minted)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("mint: %d %v", res.StatusCode, err)
	}
	claims, err := p.Verify(minted.Token)
	if err != nil || claims["tenant_id"] != "7" || claims["sub"] != "bob" || claims["iss"] != p.URL {
		t.Fatalf("minted claims %v, %v", claims, err)
	}
	// The JWK Set file holds the provider's key.
	data, err := os.ReadFile(p.JWKSFile(t))
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(data, &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != p.KeyID() {
		t.Errorf("JWK Set file %s: %v", data, err)
	}
}
