package sampleapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tvmkit/tvm/localaws"
)

// standInBroker answers GET /v1/credentials as the broker would for the
// profiles of examples/broker.yaml, without the broker: it verifies the
// dev IdP's token, takes the tenant, and calls the local STS as the broker's
// principal with the session policy the profile's template renders (written
// out here) or, for the ABAC profile, only the tenant tag. It lets the
// sample app's rows run against the real local AWS independently of the
// broker's code.
type standInBroker struct {
	stsURL string
	key    any // the IdP's public key
}

var standInTenant = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

const acct = "arn:aws:dynamodb:us-east-1:123456789012:table/"

// readPolicy is the dynamodb-read template over one table; a silo policy
// grants the whole table.
func readPolicy(table, tenant string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantItems","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],` +
		`"Resource":["` + acct + table + `","` + acct + table + `/index/*"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["` + LeadingKey(tenant) + `"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
}

func siloPolicy(table string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantTable","Effect":"Allow",` +
		`"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan","dynamodb:DescribeTable"],` +
		`"Resource":["` + acct + table + `","` + acct + table + `/index/*"]}]}`
}

// s3Policy is the s3-read (or s3-readwrite) template over one bucket:
// objects under tenants/<tenant>/ and a listing pinned to that prefix.
func s3Policy(bucket, tenant, objectActions string) string {
	prefix := "tenants/" + tenant + "/"
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantObjects","Effect":"Allow","Action":[` + objectActions + `],` +
		`"Resource":["arn:aws:s3:::` + bucket + `/` + prefix + `*"]},` +
		`{"Sid":"TenantPrefixList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::` + bucket + `"],` +
		`"Condition":{"StringLike":{"s3:prefix":["` + prefix + `","` + prefix + `*"]}}}]}`
}

func (b *standInBroker) input(profile, tenant string) (*sts.AssumeRoleInput, bool) {
	const role = "arn:aws:iam::123456789012:role/"
	c := DefaultConfig()
	in := &sts.AssumeRoleInput{RoleSessionName: aws.String("t-" + tenant + "-" + profile), DurationSeconds: aws.Int32(900)}
	switch profile {
	case DefaultProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-tenant-read"), aws.String(readPolicy(c.Table, tenant))
	case DefaultNoGrantProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-no-grant"), aws.String(readPolicy(c.Table, tenant))
	case DefaultSiloProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-tenant-silo"), aws.String(siloPolicy(c.TenantTable(tenant)))
	case DefaultBridgeProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-tenant-silo"), aws.String(readPolicy(c.TenantTable(tenant), tenant))
	case DefaultABACProfile:
		in.RoleArn = aws.String(role + "tvm-tenant-abac")
		in.Tags = []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String(tenant)}}
	case DefaultS3ReadProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-tenant-s3"), aws.String(s3Policy(c.Bucket, tenant, `"s3:GetObject"`))
	case DefaultS3WriteProfile:
		in.RoleArn, in.Policy = aws.String(role+"tvm-tenant-s3"), aws.String(s3Policy(c.Bucket, tenant,
			`"s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"`))
	default:
		return nil, false
	}
	return in, true
}

func (b *standInBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": code})
	}
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return b.key, nil }, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		fail(http.StatusUnauthorized, "invalid_token")
		return
	}
	tenant, _ := tok.Claims.(jwt.MapClaims)["tenant_id"].(string)
	if !standInTenant.MatchString(tenant) {
		fail(http.StatusUnauthorized, "invalid_tenant")
		return
	}
	in, ok := b.input(r.URL.Query().Get("profile"), tenant)
	if !ok {
		fail(http.StatusNotFound, "profile_not_found")
		return
	}
	client := sts.New(sts.Options{Region: DefaultRegion, BaseEndpoint: aws.String(b.stsURL), RetryMaxAttempts: 1,
		Credentials: awscreds.NewStaticCredentialsProvider("AKIATVMBROKER0000001", "tvmLocalBrokerSecretKey000000000000000001", "")})
	out, err := client.AssumeRole(r.Context(), in)
	if err != nil {
		fail(http.StatusBadGateway, "upstream_access_denied")
		return
	}
	c := out.Credentials
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Version": 1, "AccessKeyId": aws.ToString(c.AccessKeyId),
		"SecretAccessKey": aws.ToString(c.SecretAccessKey), "SessionToken": aws.ToString(c.SessionToken),
		"Expiration": aws.ToTime(c.Expiration).UTC().Format("2006-01-02T15:04:05Z")})
}

// TestVerifyAgainstLocalAWS seeds the real local AWS (in process, minidyn)
// through the SDK and runs every verify row against it with the real SDK
// clients, the real dev IdP and the stand-in broker: the rows, the seeded
// tables and the built-in roles of the models fit together.
func TestVerifyAgainstLocalAWS(t *testing.T) {
	hs := httptest.NewUnstartedServer(nil)
	url := "http://" + hs.Listener.Addr().String()
	srv, err := localaws.New(localaws.Config{Issuer: url})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	broker := httptest.NewServer(&standInBroker{stsURL: url, key: srv.IDP().PublicKey()})
	t.Cleanup(broker.Close)
	t.Cleanup(func() { broker.Client().CloseIdleConnections(); hs.Client().CloseIdleConnections() })

	setAdminEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	c := DefaultConfig()
	c.Endpoint, c.IdPURL, c.BrokerURL = url, url, broker.URL
	c.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctx := context.Background()
	if err := SeedStack(ctx, c, io.Discard); err != nil {
		t.Fatalf("SeedStack: %v", err)
	}
	env, err := NewEnv(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	rep := env.Verify(ctx)
	if len(rep.Rows) != wantRows+wantS3Rows || !rep.OK {
		var b strings.Builder
		_ = rep.WriteTable(&b)
		t.Fatalf("%d rows, ok %v:\n%s", len(rep.Rows), rep.OK, b.String())
	}
	untagged := rep.Rows[wantRows-1] // the last isolation-model row
	if want := "assumed-role/tvm-tenant-abac/tvm-sample is not authorized to perform: dynamodb:Query"; !strings.Contains(untagged.Message, want) {
		t.Errorf("row %d message %q lacks %q", untagged.N, untagged.Message, want)
	}
}
