package sts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/policies/stsrules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	acct       = "123456789012"
	readRole   = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	brokerKey  = "AKIATVMBROKER0000001"
	brokerSec  = "tvmLocalBrokerSecretKey000000000000000001"
	adminKey   = "AKIATVMADMIN00000001"
	adminSec   = "tvmLocalAdminSecretKey0000000000000000001"
	chainRole  = "arn:aws:iam::123456789012:role/chain-target"
	chainer    = "arn:aws:iam::123456789012:role/chainer"
	shortRole  = "arn:aws:iam::123456789012:role/short"
	tenantRead = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],` +
		`"Resource":["arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo","arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo/index/*"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
)

// extraRoles adds a role whose trust admits tvm-tenant-read sessions (role
// chaining) and a role with a one-hour MaxSessionDuration.
const extraRoles = `
      - name: chainer
        max_session_duration: 12h
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/broker"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}'
        policies:
          - name: chain
            document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"arn:aws:iam::123456789012:role/chain-target"}]}'
      - name: chain-target
        max_session_duration: 12h
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/chainer"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}'
        policies: []
      - name: short
        max_session_duration: 1h
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/broker"},"Action":"sts:AssumeRole"}]}'
        policies: []
`

type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type env struct {
	srv   *httptest.Server
	store *identity.Store
	clock *clock
	logs  *testenv.SyncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := identity.ParseConfig([]byte(strings.Replace(string(identity.DefaultYAML), "    roles:\n", "    roles:\n"+strings.TrimPrefix(extraRoles, "\n"), 1)))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	store, err := identity.New(cfg, identity.Options{Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, clock: c, logs: &testenv.SyncBuffer{}}
	h, err := New(Options{Store: store, Region: "us-east-1", Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) client(key, secret, token string) *sts.Client {
	return sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, token),
		HTTPClient:       e.srv.Client(),
		RetryMaxAttempts: 1,
	})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode()
}

func TestGetCallerIdentity(t *testing.T) {
	e := newEnv(t)
	out, err := e.client(brokerKey, brokerSec, "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Arn) != "arn:aws:iam::123456789012:user/broker" || aws.ToString(out.Account) != acct ||
		!strings.HasPrefix(aws.ToString(out.UserId), "AIDA") {
		t.Errorf("identity = %s %s %s", aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId))
	}
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.client(brokerKey, brokerSec, "").AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(readRole), RoleSessionName: aws.String("t-1-abc"), DurationSeconds: aws.Int32(900),
		Policy: aws.String(tenantRead), SourceIdentity: aws.String("alice"),
		Tags: []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String("1")}}, TransitiveTagKeys: []string{"tenant"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(aws.ToString(c.AccessKeyId)) || aws.ToString(c.SessionToken) == "" {
		t.Errorf("credentials %+v", c)
	}
	if d := time.Until(aws.ToTime(c.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expiration in %v", d)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-abc" {
		t.Errorf("arn %s", got)
	}
	if !regexp.MustCompile(`^AROA[A-Z2-7]{17}:t-1-abc$`).MatchString(aws.ToString(out.AssumedRoleUser.AssumedRoleId)) {
		t.Errorf("assumed role id %s", aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	}
	wantPacked := (len(tenantRead) + len("tenant1")) * 100
	wantPacked = (wantPacked + 2047) / 2048
	//lint:ignore SA1019 PackedPolicySize is what AWS and this server return.
	packed := aws.ToInt32(out.PackedPolicySize)
	if packed != int32(wantPacked) || aws.ToString(out.SourceIdentity) != "alice" {
		t.Errorf("packed %d (want %d), source identity %q", packed, wantPacked, aws.ToString(out.SourceIdentity))
	}

	// The session works and identifies as the assumed role.
	sess := e.client(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	who, err := sess.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(who.Arn) != aws.ToString(out.AssumedRoleUser.Arn) || aws.ToString(who.UserId) != aws.ToString(out.AssumedRoleUser.AssumedRoleId) {
		t.Errorf("caller identity %s %s", aws.ToString(who.Arn), aws.ToString(who.UserId))
	}

	// Role chaining: allowed by chain-target's trust, capped at one hour,
	// source identity and transitive tags carried over.
	first, err := e.client(brokerKey, brokerSec, "").AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(chainer), RoleSessionName: aws.String("first"), SourceIdentity: aws.String("alice"),
		Tags: []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String("1")}}, TransitiveTagKeys: []string{"tenant"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fc := first.Credentials
	chain := e.client(aws.ToString(fc.AccessKeyId), aws.ToString(fc.SecretAccessKey), aws.ToString(fc.SessionToken))
	if _, err := sess.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(chainRole), RoleSessionName: aws.String("chained")}); apiCode(t, err) != "AccessDenied" {
		t.Errorf("read session assuming a role: %v", err)
	}
	if _, err := chain.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(chainRole), RoleSessionName: aws.String("chained"),
		DurationSeconds: aws.Int32(3601)}); apiCode(t, err) != "ValidationError" {
		t.Errorf("chained 3601s: %v", err)
	}
	chained, err := chain.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(chainRole), RoleSessionName: aws.String("chained")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(chained.SourceIdentity) != "alice" {
		t.Errorf("chained source identity %q", aws.ToString(chained.SourceIdentity))
	}
	cs, ok := e.store.Lookup(aws.ToString(chained.Credentials.AccessKeyId))
	if !ok || !cs.Session.Chained || len(cs.Session.Tags) != 1 || cs.Session.Tags[0] != (identity.Tag{Key: "tenant", Value: "1"}) {
		t.Errorf("chained session %+v", cs.Session)
	}
	if d := cs.Session.Expiration.Sub(cs.Session.IssuedAt); d != time.Hour {
		t.Errorf("chained default duration %v", d)
	}

	// An expired session is told so.
	e.clock.Advance(16 * time.Minute)
	// Sign at the server's (advanced) clock so that the clock-skew check passes.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte("Action=GetCallerIdentity&Version=2011-06-15"))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken)}, req, hex.EncodeToString(sum[:]), "sts", "us-east-1", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>ExpiredToken</Code>") {
		t.Errorf("expired session: %d %s", resp.StatusCode, body)
	}

	logs := e.logs.String()
	for _, secret := range []string{aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), brokerSec} {
		if strings.Contains(logs, secret) {
			t.Error("a secret was logged")
		}
	}
	if !strings.Contains(logs, `"action":"sts:SetSourceIdentity","decision":"Allow"`) {
		t.Errorf("no decision line for sts:SetSourceIdentity in logs:\n%s", logs)
	}
}

func TestAssumeRoleErrors(t *testing.T) {
	e := newEnv(t)
	broker := e.client(brokerKey, brokerSec, "")
	tags := func(n int) []ststypes.Tag {
		var out []ststypes.Tag
		for i := range n {
			out = append(out, ststypes.Tag{Key: aws.String("k" + strconv.Itoa(i)), Value: aws.String("v")})
		}
		return out
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/` +
		strings.Repeat("x", 2000) + `"}]}`
	base := func(mod func(in *sts.AssumeRoleInput)) *sts.AssumeRoleInput {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("session")}
		mod(in)
		return in
	}
	cases := map[string]struct {
		client *sts.Client
		in     *sts.AssumeRoleInput
		code   string
		status int
		msg    string
	}{
		"session name too short": {broker, base(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("a") }), "ValidationError", 400,
			"1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		"session name bad chars": {broker, base(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("a b") }), "ValidationError", 400, ""},
		"session name too long":  {broker, base(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String(strings.Repeat("a", 65)) }), "ValidationError", 400, ""},
		"duration too short":     {broker, base(func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) }), "ValidationError", 400, ""},
		"duration too long":      {broker, base(func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(43201) }), "ValidationError", 400, ""},
		"duration over role max": {broker, base(func(in *sts.AssumeRoleInput) {
			in.RoleArn = aws.String(shortRole)
			in.DurationSeconds = aws.Int32(3601)
		}),
			"ValidationError", 400, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		"short role arn":     {broker, base(func(in *sts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::1:r") }), "ValidationError", 400, ""},
		"bad external id":    {broker, base(func(in *sts.AssumeRoleInput) { in.ExternalId = aws.String("a b") }), "ValidationError", 400, ""},
		"reserved source id": {broker, base(func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("aws:me") }), "ValidationError", 400, ""},
		"too many tags":      {broker, base(func(in *sts.AssumeRoleInput) { in.Tags = tags(51) }), "ValidationError", 400, ""},
		"bad tag key": {broker, base(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("a!"), Value: aws.String("v")}}
		}), "ValidationError", 400, ""},
		"long tag value": {broker, base(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("a"), Value: aws.String(strings.Repeat("v", 257))}}
		}), "ValidationError", 400, ""},
		"duplicate tag keys": {broker, base(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("A"), Value: aws.String("2")}}
		}), "InvalidParameterValue", 400, ""},
		"reserved tag key": {broker, base(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}
		}), "InvalidParameterValue", 400, ""},
		"stray transitive": {broker, base(func(in *sts.AssumeRoleInput) { in.TransitiveTagKeys = []string{"nope"} }), "InvalidParameterValue", 400, ""},
		"policy bad char":  {broker, base(func(in *sts.AssumeRoleInput) { in.Policy = aws.String("{\"a\":\"\u0100\"}") }), "ValidationError", 400, ""},
		"oversized policy": {broker, base(func(in *sts.AssumeRoleInput) { in.Policy = aws.String(big) }), "ValidationError", 400, ""},
		"tags overflow":    {broker, base(func(in *sts.AssumeRoleInput) { in.Tags = bigTags() }), "PackedPolicyTooLarge", 400, ""},
		"malformed policy": {broker, base(func(in *sts.AssumeRoleInput) {
			in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`)
		}), "MalformedPolicyDocument", 400, ""},
		"not json policy": {broker, base(func(in *sts.AssumeRoleInput) { in.Policy = aws.String(`{`) }), "MalformedPolicyDocument", 400, ""},
		"policy arns": {broker, base(func(in *sts.AssumeRoleInput) {
			in.PolicyArns = []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}}
		}), "ValidationError", 400, ""},
		"mfa code": {broker, base(func(in *sts.AssumeRoleInput) {
			in.SerialNumber, in.TokenCode = aws.String("arn:aws:iam::123456789012:mfa/broker"), aws.String("123456")
		}), "AccessDenied", 403, "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."},
		"mfa serial only": {broker, base(func(in *sts.AssumeRoleInput) { in.SerialNumber = aws.String("arn:aws:iam::123456789012:mfa/broker") }),
			"AccessDenied", 403, "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."},
		"mfa code only": {broker, base(func(in *sts.AssumeRoleInput) { in.TokenCode = aws.String("123456") }),
			"AccessDenied", 403, "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."},
		"provided contexts": {broker, base(func(in *sts.AssumeRoleInput) {
			in.ProvidedContexts = []ststypes.ProvidedContext{{ProviderArn: aws.String("arn:aws:iam::aws:contextProvider/IdentityCenter"), ContextAssertion: aws.String("bogus-assertion")}}
		}), "ValidationError", 400, "ProvidedContexts (trusted context assertions) are not supported by tvm-local."},
		"unknown role":        {broker, base(func(in *sts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::123456789012:role/nope") }), "AccessDenied", 403, "User: arn:aws:iam::123456789012:user/broker is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/nope"},
		"trust denies admin":  {e.client(adminKey, adminSec, ""), base(func(in *sts.AssumeRoleInput) {}), "AccessDenied", 403, "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: sts:AssumeRole on resource: " + readRole},
		"forged secret":       {e.client(brokerKey, "forged", ""), base(func(in *sts.AssumeRoleInput) {}), "SignatureDoesNotMatch", 403, ""},
		"unknown key":         {e.client("AKIAUNKNOWN000000001", brokerSec, ""), base(func(in *sts.AssumeRoleInput) {}), "InvalidClientTokenId", 403, "The security token included in the request is invalid."},
		"token with user key": {e.client(brokerKey, brokerSec, "bogus"), base(func(in *sts.AssumeRoleInput) {}), "InvalidClientTokenId", 403, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.client.AssumeRole(context.Background(), c.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
				t.Fatalf("err = %v, want %s", err, c.code)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != c.status {
				t.Errorf("status %d, want %d", re.HTTPStatusCode(), c.status)
			}
			if c.msg != "" && ae.ErrorMessage() != c.msg {
				t.Errorf("message %q\nwant    %q", ae.ErrorMessage(), c.msg)
			}
		})
	}
}

func bigTags() []ststypes.Tag {
	var out []ststypes.Tag
	for i := range 10 {
		out = append(out, ststypes.Tag{Key: aws.String(strings.Repeat("k", 120) + strconv.Itoa(i)), Value: aws.String(strings.Repeat("v", 256))})
	}
	return out
}

// TestWireFormat checks the raw XML documents and the Query protocol over GET.
func TestWireFormat(t *testing.T) {
	e := newEnv(t)
	do := func(method, params string) (*http.Response, string) {
		var body io.Reader = http.NoBody
		u := e.srv.URL + "/"
		if method == http.MethodGet {
			u += "?" + params
			params = ""
		} else {
			body = strings.NewReader(params)
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
		sum := sha256.Sum256([]byte(params))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: brokerKey, SecretAccessKey: brokerSec},
			req, hex.EncodeToString(sum[:]), "sts", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do(http.MethodGet, "Action=AssumeRole&Version=2011-06-15&RoleSessionName=get-session&RoleArn="+url.QueryEscape(readRole)+"&Policy="+url.QueryEscape(tenantRead))
	if resp.StatusCode != 200 || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Fatalf("GET AssumeRole: %d %s", resp.StatusCode, body)
	}
	shape := regexp.MustCompile(`(?s)^<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\s*<AssumeRoleResult>\s*` +
		`<Credentials>\s*<SessionToken>[A-Za-z0-9+/=]{100,}</SessionToken>\s*<SecretAccessKey>[^<]{40}</SecretAccessKey>\s*` +
		`<Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</Expiration>\s*<AccessKeyId>ASIA[A-Z2-7]{16}</AccessKeyId>\s*</Credentials>\s*` +
		`<AssumedRoleUser>\s*<Arn>arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/get-session</Arn>\s*<AssumedRoleId>AROA[A-Z2-7]{17}:get-session</AssumedRoleId>\s*</AssumedRoleUser>\s*` +
		`<PackedPolicySize>\d+</PackedPolicySize>\s*<SessionTokenSize>\d+</SessionTokenSize>\s*<SessionTokenUtilization>\d+</SessionTokenUtilization>\s*</AssumeRoleResult>\s*<ResponseMetadata>\s*<RequestId>[0-9a-f-]{36}</RequestId>\s*</ResponseMetadata>\s*</AssumeRoleResponse>\s*$`)
	if !shape.MatchString(body) {
		t.Errorf("AssumeRole XML:\n%s", body)
	}
	resp, body = do(http.MethodPost, "Action=AssumeRole&Version=2011-06-15&RoleSessionName=x&RoleArn="+url.QueryEscape(readRole))
	errShape := regexp.MustCompile(`(?s)^<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\s*<Error>\s*<Type>Sender</Type>\s*` +
		`<Code>ValidationError</Code>\s*<Message>[^<]+</Message>\s*</Error>\s*<RequestId>([0-9a-f-]{36})</RequestId>\s*</ErrorResponse>\s*$`)
	m := errShape.FindStringSubmatch(body)
	if resp.StatusCode != 400 || m == nil || m[1] != resp.Header.Get("x-amzn-RequestId") {
		t.Errorf("error response %d:\n%s", resp.StatusCode, body)
	}
	protocol := map[string]struct {
		params string
		code   string
	}{
		"missing action":   {"Version=2011-06-15", "MissingAction"},
		"unknown action":   {"Action=GetSessionToken&Version=2011-06-15", "InvalidAction"},
		"missing version":  {"Action=AssumeRole", "MissingParameter"},
		"missing role arn": {"Action=AssumeRole&Version=2011-06-15&RoleSessionName=abc", "ValidationError"},
		"gap in tags":      {"Action=AssumeRole&Version=2011-06-15&RoleSessionName=abc&RoleArn=" + url.QueryEscape(readRole) + "&Tags.member.2.Key=a&Tags.member.2.Value=b", "ValidationError"},
	}
	for name, c := range protocol {
		t.Run(name, func(t *testing.T) {
			resp, body := do(http.MethodPost, c.params)
			if resp.StatusCode != 400 || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
				t.Errorf("%d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestIsRequest(t *testing.T) {
	cases := map[string]struct {
		method, target, ctype, query string
		want                         bool
	}{
		"form post":     {"POST", "", "application/x-www-form-urlencoded; charset=utf-8", "", true},
		"get action":    {"GET", "", "", "Action=GetCallerIdentity", true},
		"dynamodb":      {"POST", "DynamoDB_20120810.GetItem", "application/x-amz-json-1.0", "", false},
		"json post":     {"POST", "", "application/json", "", false},
		"plain get":     {"GET", "", "", "", false},
		"form with tgt": {"POST", "X.Y", "application/x-www-form-urlencoded", "", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/?"+c.query, nil)
			if c.target != "" {
				r.Header.Set("X-Amz-Target", c.target)
			}
			r.Header.Set("Content-Type", c.ctype)
			if got := IsRequest(r); got != c.want {
				t.Errorf("IsRequest = %v", got)
			}
		})
	}
}

func FuzzParseAssumeRole(f *testing.F) {
	f.Add("RoleArn=" + url.QueryEscape(readRole) + "&RoleSessionName=abc&DurationSeconds=900&Tags.member.1.Key=a&Tags.member.1.Value=b&TransitiveTagKeys.member.1=a")
	f.Add("RoleArn=x&RoleSessionName=&DurationSeconds=-1&Policy=%00")
	f.Add("Tags.member.0.Key=a&Tags.member.x.Key=b&PolicyArns.member.1.arn=c")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		in, e := parseAssumeRole(p)
		if e != nil {
			if e.Code == "" || e.Status == 0 {
				t.Fatalf("incomplete error %+v", e)
			}
			return
		}
		if len(in.sessionName) < 2 || len(in.roleARN) < 20 || in.duration < stsrules.MinDuration || in.duration > stsrules.MaxDuration || len(in.tags) > stsrules.MaxTags {
			t.Fatalf("invalid input accepted: %+v", in)
		}
		if _, err := json.Marshal(in.tags); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkAssumeRole(b *testing.B) {
	store, err := identity.New(identity.DefaultConfig(), identity.Options{MaxSessions: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := New(Options{Store: store, Region: "us-east-1"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(brokerKey, brokerSec, "")})
	in := &sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("bench"), Policy: aws.String(tenantRead)}
	for b.Loop() {
		if _, err := c.AssumeRole(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
