package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/sampleapp"
)

// TestSampleAppVerify is the one-command demo as a test: the real local AWS,
// broker and sample app as separate processes, on both backends. The sample
// app's verify must print its table and exit 0 (every row as expected).
func TestSampleAppVerify(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			s := startStack(t, backend(t))
			for i := range 2 { // seeding twice leaves the same three items
				if out, code := run(t, s.adminEnv(), "tvm-sample", "seed", "--endpoint", s.localURL); code != 0 {
					t.Fatalf("seed #%d: exit %d\n%s", i+1, code, out)
				}
			}
			out, code := run(t, s.adminEnv(), "tvm-sample", "verify",
				"--endpoint", s.localURL, "--broker", s.brokerURL, "--idp", s.localURL)
			if code != 0 {
				t.Fatalf("verify: exit %d\n%s", code, out)
			}
			for _, want := range []string{"Item#3", "LeadingKeys", "AccessDeniedException"} {
				if !strings.Contains(out, want) {
					t.Errorf("verify output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(strings.ToUpper(out), "MISMATCH") {
				t.Errorf("verify reported a mismatch:\n%s", out)
			}
			// The denials the sample app provoked were decided by the local AWS,
			// which logs one line per decision.
			if !strings.Contains(s.local.out.String(), "Deny") && !strings.Contains(s.local.out.String(), "deny") {
				t.Errorf("local AWS logged no denial decision")
			}
		})
	}
}

// mintToken asks the local AWS's dev identity provider for a JWT, through
// the sample app's own client of it.
func mintToken(t *testing.T, idp, tenant, subject string) string {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	token, err := sampleapp.MintToken(context.Background(), hc, idp, sampleapp.MintRequest{
		Tenant: tenant, Subject: subject, Audience: "tvm-broker", TTLSeconds: 900,
	})
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return token
}

// queryCount runs the table (or GSI) query for a tenant's partition.
func queryCount(ctx context.Context, c *dynamodb.Client, tenant string, gsi bool) (int, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String("tvm-demo"),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": "PK"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "Tenant#" + tenant}},
	}
	if gsi {
		in.IndexName = aws.String("gsi")
		in.ExpressionAttributeNames["#pk"] = "PK1"
	}
	out, err := c.Query(ctx, in)
	if err != nil {
		return 0, err
	}
	return len(out.Items), nil
}

func wantAccessDenied(t *testing.T, err error) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("want AccessDeniedException, got %v", err)
	}
}

// checkIsolation queries through cfg's credentials (vended for tenant 1).
func checkIsolation(t *testing.T, cfg aws.Config, endpoint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	for _, tc := range []struct {
		name   string
		tenant string
		gsi    bool
		want   int // -1: denied
	}{
		{"own table", "1", false, 1},
		{"own gsi", "1", true, 2},
		{"other table", "2", false, -1},
		{"other gsi", "2", true, -1},
	} {
		n, err := queryCount(ctx, c, tc.tenant, tc.gsi)
		if tc.want < 0 {
			wantAccessDenied(t, err)
			continue
		}
		if err != nil || n != tc.want {
			t.Errorf("%s: got %d items, err %v; want %d", tc.name, n, err, tc.want)
		}
	}
}

// seed runs `tvm-sample seed` against the stack.
func (s *stack) seed(t *testing.T) {
	t.Helper()
	if out, code := run(t, s.adminEnv(), "tvm-sample", "seed", "--endpoint", s.localURL); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, out)
	}
}

// TestSDKContainerCredentials drives the broker through the AWS SDK's own
// container-credentials provider: no code of ours on the client side, only
// AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
func TestSDKContainerCredentials(t *testing.T) {
	s := startStack(t, "")
	s.seed(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	// The SDK refuses a token with a trailing newline: write it bare.
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, s.localURL, "1", "svc-orders")), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     s.brokerURL + "/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_CONFIG_FILE":                        filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED":              "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("container credentials: %v\nbroker:\n%s", err, s.broker.out.String())
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || !creds.CanExpire || creds.SessionToken == "" {
		t.Fatalf("unexpected credentials: key %q can-expire %v", creds.AccessKeyID, creds.CanExpire)
	}
	checkIsolation(t, cfg, s.localURL)
}

// TestCredentialProcess drives the broker through tvm-creds configured as a
// credential_process in an AWS config file, exactly as the README documents.
func TestCredentialProcess(t *testing.T) {
	s := startStack(t, "")
	s.seed(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, s.localURL, "1", "svc-reports")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awsConfig := filepath.Join(dir, "config")
	line := fmt.Sprintf("[profile tenant1]\nregion = %s\ncredential_process = %s --broker %s --token-file %s\n",
		region, filepath.Join(binaries(t), "tvm-creds"), s.brokerURL, tokenFile)
	if err := os.WriteFile(awsConfig, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithSharedConfigFiles([]string{awsConfig}),
		config.WithSharedCredentialsFiles([]string{filepath.Join(dir, "none")}),
		config.WithSharedConfigProfile("tenant1"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("credential_process: %v\nbroker:\n%s", err, s.broker.out.String())
	}
	if !creds.CanExpire || creds.Expires.Before(time.Now().Add(5*time.Minute)) {
		t.Fatalf("credential_process credentials expire %v (can expire %v)", creds.Expires, creds.CanExpire)
	}
	checkIsolation(t, cfg, s.localURL)
}
