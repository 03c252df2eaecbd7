package sampleapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/internal/testenv"
)

func TestMintToken(t *testing.T) {
	var got MintRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/idp/token" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var raw map[string]any
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &raw)
		_ = json.Unmarshal(body, &got)
		switch got.Tenant {
		case "1":
			if _, isString := raw["tenant"].(string); !isString {
				http.Error(w, `{"code":"invalid_request","message":"tenant must be a string"}`, http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "minted.jwt.value", "expires_at": "2030-01-01T00:00:00Z"})
		case "empty":
			_ = json.NewEncoder(w).Encode(map[string]string{"expires_at": "2030-01-01T00:00:00Z"})
		default:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"code": "forbidden", "message": "loopback only"})
		}
	}))
	defer srv.Close()
	for name, tc := range map[string]struct {
		tenant, want, wantErr string
	}{
		"minted":  {tenant: "1", want: "minted.jwt.value"},
		"refused": {tenant: "2", wantErr: "status 403 forbidden loopback only"},
		"noToken": {tenant: "empty", wantErr: "answer carries no token"},
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := MintToken(context.Background(), srv.Client(), srv.URL+"/", MintRequest{Tenant: tc.tenant, Subject: "s", Audience: "tvm-broker"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("MintToken = %q, %v; want error containing %q", tok, err, tc.wantErr)
				}
				return
			}
			if err != nil || tok != tc.want {
				t.Fatalf("MintToken = %q, %v; want %q", tok, err, tc.want)
			}
			if diff := cmp.Diff(MintRequest{Tenant: "1", Subject: "s", Audience: "tvm-broker"}, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		if _, err := MintToken(context.Background(), srv.Client(), "http://127.0.0.1:1", MintRequest{Tenant: "1"}); err == nil {
			t.Fatal("MintToken succeeded against a closed port")
		}
	})
}

func TestTokenSourceFilePerTenant(t *testing.T) {
	dir := t.TempDir()
	for _, tenant := range []string{"1", "2"} {
		if err := os.WriteFile(filepath.Join(dir, "tenant-"+tenant+".jwt"), []byte("jwt-of-"+tenant+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := DefaultConfig()
	c.TokenFile = filepath.Join(dir, "tenant-{tenant}.jwt")
	for _, tenant := range []string{"1", "2"} {
		tok, err := TokenSource(c, tenant).Token(context.Background())
		if err != nil || tok != "jwt-of-"+tenant {
			t.Errorf("tenant %s: token %q, %v", tenant, tok, err)
		}
	}
	if _, err := TokenSource(c, "3").Token(context.Background()); err == nil {
		t.Error("token for a tenant without a file")
	}
}

// fakeAWS answers STS (the shared testenv.STS) and DynamoDB Query on one
// endpoint, recording which access key signed each call. DynamoDB denies
// no-grant sessions: those its STS issued (the app assumes only the no-grant
// role itself) and fakeStack's static no-grant key.
type fakeAWS struct {
	sts testenv.STS

	mu    sync.Mutex
	calls []string // "<service>:<action>:<access key id>[:<role arn>]"
}

// newFakeAWS returns a fake whose GetCallerIdentity answers callerARN
// ("" = the local admin user).
func newFakeAWS(callerARN string) *fakeAWS {
	f := &fakeAWS{}
	f.sts.CallerARN = callerARN
	if callerARN == "" {
		f.sts.CallerARN = "arn:aws:iam::123456789012:user/admin"
	}
	return f
}

var credentialRE = regexp.MustCompile(`Credential=([^/]+)/[0-9]+/([^/]+)/([^/]+)/aws4_request`)

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		http.Error(w, "unsigned", http.StatusForbidden)
		return
	}
	keyID, region, service := m[1], m[2], m[3]
	body, _ := io.ReadAll(r.Body)
	record := func(s string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, s)
	}
	switch service {
	case "dynamodb":
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		record(fmt.Sprintf("dynamodb:%s:%s:%s", op, region, keyID))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if keyID == noGrantKey || f.sts.IssuedKey(keyID) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/tvm-no-grant/tvm-sample-nogrant is not authorized to perform: dynamodb:Query"}`)
			return
		}
		_, _ = io.WriteString(w, `{"Count":1,"ScannedCount":1,"Items":[{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"},"PK1":{"S":"Tenant#1"},"SK1":{"S":"Item#1"}}]}`)
	case "sts":
		form, _ := url.ParseQuery(string(body))
		call := "sts:" + form.Get("Action") + ":" + keyID
		if form.Get("Action") == "AssumeRole" {
			call += ":" + form.Get("RoleArn")
		}
		record(call)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.sts.ServeHTTP(w, r)
	default:
		http.Error(w, "unknown service", http.StatusBadRequest)
	}
}

// issuedKey returns the access key id of the fake STS's first session.
func (f *fakeAWS) issuedKey(t *testing.T) string {
	t.Helper()
	return f.issuedKeyN(t, 0)
}

// issuedKeyN returns the access key id of the fake STS's session number n
// (from 0).
func (f *fakeAWS) issuedKeyN(t *testing.T, n int) string {
	t.Helper()
	issued := f.sts.Issued()
	if len(issued) <= n {
		t.Fatalf("the fake STS issued %d credentials, not %d", len(issued), n+1)
	}
	return issued[n].AccessKeyID
}

// TestNewEnvWiring runs NewEnv's real SDK clients against a fake AWS
// endpoint, the fake dev IdP and the fake broker: each identity must reach
// DynamoDB with its own credentials.
// setAdminEnv makes the SDK default chain find the local admin's keys and
// nothing else.
func setAdminEnv(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", adminKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "tvmLocalAdminSecretKey0000000000000000001")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

func TestNewEnvWiring(t *testing.T) {
	setAdminEnv(t)
	fake := newFakeAWS("")
	awsSrv := httptest.NewServer(fake)
	defer awsSrv.Close()
	stack := newFakeStack(t)

	c := DefaultConfig()
	c.Endpoint, c.BrokerURL, c.IdPURL = awsSrv.URL, stack.srv.URL, stack.idp.URL
	env, err := NewEnv(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	results := map[string]Result{
		"own":         env.Query(ctx, Identity{Profile: "read"}, "1", false),
		"noGrant":     env.Query(ctx, Identity{Profile: "nogrant"}, "1", true),
		"vended":      env.Query(ctx, Identity{Tenant: "2", Profile: "read"}, "1", false),
		"vendedAgain": env.Query(ctx, Identity{Tenant: "2", Profile: "read"}, "1", false),
		"wildcard":    env.Query(ctx, Identity{Tenant: "*", Profile: "read"}, "1", false),
		"abacNoTag":   env.Query(ctx, Identity{Role: "tvm-tenant-abac"}, "1", false),
		"roleByARN":   env.Query(ctx, Identity{Role: "arn:aws:iam::210987654321:role/elsewhere"}, "1", false),
	}
	summaries := map[string]string{}
	for k, r := range results {
		summaries[k] = r.Summary()
	}
	wantSummaries := map[string]string{
		"own": "allowed, 1 item", "noGrant": "denied (AccessDeniedException)", "vended": "allowed, 1 item",
		"vendedAgain": "allowed, 1 item", "wildcard": "refused (401 invalid_tenant)",
		"abacNoTag": "denied (AccessDeniedException)", "roleByARN": "denied (AccessDeniedException)",
	}
	if diff := cmp.Diff(wantSummaries, summaries); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	wantCalls := []string{
		"dynamodb:Query:us-east-1:" + adminKey,
		"sts:GetCallerIdentity:" + adminKey,
		"sts:AssumeRole:" + adminKey + ":arn:aws:iam::123456789012:role/tvm-no-grant",
		"dynamodb:Query:us-east-1:" + fake.issuedKey(t),
		"dynamodb:Query:us-east-1:ASIA:read:2",
		"dynamodb:Query:us-east-1:ASIA:read:2",
		// A role by name needs the caller's account once; a role by ARN none.
		"sts:AssumeRole:" + adminKey + ":arn:aws:iam::123456789012:role/tvm-tenant-abac",
		"dynamodb:Query:us-east-1:" + fake.issuedKeyN(t, 1),
		"sts:AssumeRole:" + adminKey + ":arn:aws:iam::210987654321:role/elsewhere",
		"dynamodb:Query:us-east-1:" + fake.issuedKeyN(t, 2),
	}
	if diff := cmp.Diff(wantCalls, fake.calls); diff != "" {
		t.Errorf("AWS calls (-want +got):\n%s", diff)
	}
	// Vended credentials are cached: one broker call for tenant 2, one for *.
	if n := stack.vendCount(); n != 2 {
		t.Errorf("broker calls = %d, want 2", n)
	}
}

// TestNoGrantRoleDerived: without --no-grant-role the app assumes
// role/tvm-no-grant in the caller's account and partition, so the default
// also works outside the aws partition.
func TestNoGrantRoleDerived(t *testing.T) {
	setAdminEnv(t)
	for name, tc := range map[string]struct {
		caller, configured, want string
	}{
		"aws":        {caller: "arn:aws:iam::123456789012:user/admin", want: "arn:aws:iam::123456789012:role/tvm-no-grant"},
		"china":      {caller: "arn:aws-cn:sts::123456789012:assumed-role/ops/alice", want: "arn:aws-cn:iam::123456789012:role/tvm-no-grant"},
		"govCloud":   {caller: "arn:aws-us-gov:iam::123456789012:user/admin", want: "arn:aws-us-gov:iam::123456789012:role/tvm-no-grant"},
		"configured": {caller: "arn:aws:iam::123456789012:user/admin", configured: "arn:aws:iam::210987654321:role/demo-no-grant", want: "arn:aws:iam::210987654321:role/demo-no-grant"},
	} {
		t.Run(name, func(t *testing.T) {
			fake := newFakeAWS(tc.caller)
			awsSrv := httptest.NewServer(fake)
			defer awsSrv.Close()
			c := DefaultConfig()
			c.Endpoint, c.NoGrantRoleARN = awsSrv.URL, tc.configured
			env, err := NewEnv(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			p, err := env.AssumeRole(context.Background(), c.noGrantRole())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Retrieve(context.Background()); err != nil {
				t.Fatal(err)
			}
			var assumed []string
			for _, call := range fake.calls {
				if role, ok := strings.CutPrefix(call, "sts:AssumeRole:"+adminKey+":"); ok {
					assumed = append(assumed, role)
				}
			}
			if diff := cmp.Diff([]string{tc.want}, assumed); diff != "" {
				t.Errorf("AssumeRole RoleArn (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAWSConfigEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	t.Setenv("AWS_ACCESS_KEY_ID", adminKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for name, tc := range map[string]struct {
		endpoint string
		want     *string
	}{
		"realAWS": {endpoint: "", want: nil},
		"local":   {endpoint: "http://127.0.0.1:9999", want: ptr("http://127.0.0.1:9999")},
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			c.Endpoint, c.Region = tc.endpoint, "eu-central-1"
			cfg, err := c.AWSConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cfg.BaseEndpoint); diff != "" || cfg.Region != "eu-central-1" {
				t.Errorf("BaseEndpoint (-want +got):\n%s region %s", diff, cfg.Region)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestDeniedOnlyFromDynamoDB runs real DynamoDB clients: an
// AccessDeniedException that DynamoDB answers is a denial; the same code from
// a credential provider's own AWS call during the DynamoDB operation (an STS
// or SSO refresh) is a failure to get credentials and can never pass a row
// that expects a denial.
func TestDeniedOnlyFromDynamoDB(t *testing.T) {
	awsSrv := httptest.NewServer(newFakeAWS(""))
	defer awsSrv.Close()
	refreshDenied := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, &smithy.OperationError{ServiceID: "SSO", OperationName: "GetRoleCredentials",
			Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "session expired"}}
	})
	for name, tc := range map[string]struct {
		creds aws.CredentialsProvider
		want  Outcome
	}{
		"dynamoDBDenies":    {creds: credentials(noGrantKey), want: Denied},
		"credentialsDenied": {creds: refreshDenied, want: Failed},
	} {
		t.Run(name, func(t *testing.T) {
			api := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(awsSrv.URL), Credentials: tc.creds})
			_, err := queryOp("1", false)(context.Background(), api, DefaultConfig())
			if err == nil {
				t.Fatal("Query succeeded")
			}
			r := awsFailure(err)
			if r.Outcome != tc.want || r.Code != "AccessDeniedException" {
				t.Errorf("awsFailure = %+v, want outcome %s", r, tc.want)
			}
		})
	}
}
