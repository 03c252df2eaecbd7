package localaws

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/faults"
	"github.com/tvmkit/tvm/localaws/identity"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	brokerKey    = "AKIATVMBROKER0000001"
	brokerSecret = "tvmLocalBrokerSecretKey000000000000000001"
	adminKey     = "AKIATVMADMIN00000001"
	adminSecret  = "tvmLocalAdminSecretKey0000000000000000001"
	readRole     = "arn:aws:iam::123456789012:role/tvm-tenant-read"
	rwRole       = "arn:aws:iam::123456789012:role/tvm-tenant-readwrite"
	noGrantRole  = "arn:aws:iam::123456789012:role/tvm-no-grant"
	shortRole    = "arn:aws:iam::123456789012:role/tvm-short"
	tableARN     = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	table        = "tvm-demo"
)

// tenantPolicy is the broker's read template rendered for one tenant: the
// LeadingKeys condition with the Null guard, on the table and its indexes.
func tenantPolicy(tenant string, actions ...string) string {
	quoted := make([]string, len(actions))
	for i, a := range actions {
		quoted[i] = `"dynamodb:` + a + `"`
	}
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantItems","Effect":"Allow","Action":[` + strings.Join(quoted, ",") + `],` +
		`"Resource":["` + tableARN + `","` + tableARN + `/index/*"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#` + tenant + `"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
}

// testClock is the server's clock; clients sign with it too.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// clockSigner signs requests at the test clock's time.
type clockSigner struct{ clock *testClock }

func (s clockSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) error {
	return v4.NewSigner().SignHTTP(ctx, creds, r, payloadHash, service, region, s.clock.Now(), optFns...)
}

type stack struct {
	url   string
	srv   *Server
	clock *testClock
	logs  *testenv.SyncBuffer
	cfg   aws.Config
}

// testConfigYAML is the built-in configuration plus a role whose
// MaxSessionDuration is one hour.
func testConfigYAML() []byte {
	return []byte(strings.Replace(string(identity.DefaultYAML), "    roles:\n", `    roles:
      - name: tvm-short
        max_session_duration: 1h
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/broker"},"Action":"sts:AssumeRole"}]}'
        policies: []
`, 1))
}

func startStack(t testing.TB, backendURL string) *stack {
	t.Helper()
	return startStackYAML(t, backendURL, string(testConfigYAML()))
}

// startStackYAML starts a stack whose principals are the given YAML.
func startStackYAML(t testing.TB, backendURL, yaml string) *stack {
	t.Helper()
	return startStackFaults(t, backendURL, yaml, nil)
}

// startStackFaults starts a stack whose principals are the given YAML,
// injecting inj's faults (nil: none).
func startStackFaults(t testing.TB, backendURL, yaml string, inj *faults.Injector) *stack {
	t.Helper()
	idcfg, err := identity.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	st := &stack{url: "http://" + hs.Listener.Addr().String(), clock: &testClock{}, logs: &testenv.SyncBuffer{}}
	st.srv, err = New(Config{
		Identity: idcfg, Issuer: st.url, BackendURL: backendURL, Clock: st.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(st.logs, nil)), Faults: inj,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = st.srv
	hs.Start()
	t.Cleanup(hs.Close)

	// Point the SDK at the stack through AWS_ENDPOINT_URL, as users do, and
	// keep it away from any local AWS configuration.
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", st.url)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_PROFILE", "")
	st.cfg, err = config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithRetryMaxAttempts(1), config.WithHTTPClient(hs.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *stack) dynamo(key, secret, token string) *dynamodb.Client {
	return dynamodb.NewFromConfig(st.cfg, func(o *dynamodb.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		o.HTTPSignerV4 = clockSigner{st.clock}
	})
}

func (st *stack) sts(key, secret string) *sts.Client {
	return st.stsSession(key, secret, "")
}

// stsSession is an STS client signing with temporary credentials.
func (st *stack) stsSession(key, secret, token string) *sts.Client {
	return sts.NewFromConfig(st.cfg, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		o.HTTPSignerV4 = clockSigner{st.clock}
	})
}

func str(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"PK": str(pk), "SK": str(sk)}
}

// seed creates the demo table and its items as admin.
func seed(t testing.TB, st *stack) {
	t.Helper()
	ctx := context.Background()
	admin := st.dynamo(adminKey, adminSecret, "")
	_, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("PK1"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK1"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String("gsi"),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("PK1"), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String("SK1"), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	w := dynamodb.NewTableExistsWaiter(admin, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		t.Fatalf("table never became ACTIVE: %v", err)
	}
	for _, it := range [][3]string{{"Tenant#1", "Item#1", "Tenant#1"}, {"Tenant#2", "Item#2", "Tenant#2"}, {"Tenant#2", "Item#3", "Tenant#1"}} {
		item := key(it[0], it[1])
		item["PK1"], item["SK1"] = str(it[2]), str(it[1])
		if _, err := admin.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("PutItem %v: %v", it, err)
		}
	}
}

func assume(t testing.TB, st *stack, role, session, policy string) *sts.AssumeRoleOutput {
	t.Helper()
	in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(900)}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	out, err := st.sts(brokerKey, brokerSecret).AssumeRole(context.Background(), in)
	if err != nil {
		t.Fatalf("AssumeRole %s: %v", role, err)
	}
	return out
}

func sessionClient(st *stack, out *sts.AssumeRoleOutput) *dynamodb.Client {
	c := out.Credentials
	return st.dynamo(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
}

func errCode(err error) (code, msg string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	if err != nil {
		return "<" + err.Error() + ">", ""
	}
	return "", ""
}

func queryInput(index, pkAttr, value string) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": pkAttr},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": str(value)},
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	return in
}

func TestEndToEnd(t *testing.T) {
	t.Run("minidyn", func(t *testing.T) { runSuite(t, startStack(t, "")) })
	t.Run("dynalite", func(t *testing.T) { runSuite(t, startStack(t, testenv.Dynalite(t))) })
}

func runSuite(t *testing.T, st *stack) {
	ctx := context.Background()
	seed(t, st)
	read := assume(t, st, readRole, "t-1-e2e", tenantPolicy("1", "GetItem", "BatchGetItem", "Query"))
	tenant := sessionClient(st, read)
	who := "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-e2e is not authorized to perform: "

	t.Run("allowed", func(t *testing.T) {
		cases := map[string]struct {
			call func() (int, error)
			want int
		}{
			"query own tenant on table": {func() (int, error) {
				out, err := tenant.Query(ctx, queryInput("", "PK", "Tenant#1"))
				return countOf(out, err, func(o *dynamodb.QueryOutput) int { return len(o.Items) })
			}, 1},
			"query own tenant on gsi": {func() (int, error) {
				out, err := tenant.Query(ctx, queryInput("gsi", "PK1", "Tenant#1"))
				return countOf(out, err, func(o *dynamodb.QueryOutput) int { return len(o.Items) })
			}, 2}, // Item#1 and Tenant#2's Item#3, whose index key names tenant 1
			"get own item": {func() (int, error) {
				out, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")})
				return countOf(out, err, func(o *dynamodb.GetItemOutput) int { return min(len(o.Item), 1) })
			}, 1},
			"batch get own items": {func() (int, error) {
				out, err := tenant.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
					table: {Keys: []map[string]ddbtypes.AttributeValue{key("Tenant#1", "Item#1")}}}})
				return countOf(out, err, func(o *dynamodb.BatchGetItemOutput) int { return len(o.Responses[table]) })
			}, 1},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				n, err := c.call()
				if err != nil || n != c.want {
					t.Fatalf("got %d items, err %v; want %d", n, err, c.want)
				}
			})
		}
	})

	t.Run("denied", func(t *testing.T) {
		cases := map[string]struct {
			call func() error
			msg  string
		}{
			"query other tenant on table": {func() error { _, err := tenant.Query(ctx, queryInput("", "PK", "Tenant#2")); return err },
				who + "dynamodb:Query on resource: " + tableARN + " because no session policy allows the dynamodb:Query action"},
			"query other tenant on gsi": {func() error { _, err := tenant.Query(ctx, queryInput("gsi", "PK1", "Tenant#2")); return err },
				who + "dynamodb:Query on resource: " + tableARN + "/index/gsi because no session policy allows the dynamodb:Query action"},
			"get other tenant's item": {func() error {
				_, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#2", "Item#2")})
				return err
			}, who + "dynamodb:GetItem on resource: " + tableARN + " because no session policy allows the dynamodb:GetItem action"},
			"mixed-tenant batch get": {func() error {
				_, err := tenant.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
					table: {Keys: []map[string]ddbtypes.AttributeValue{key("Tenant#1", "Item#1"), key("Tenant#2", "Item#2")}}}})
				return err
			}, who + "dynamodb:BatchGetItem on resource: " + tableARN + " because no session policy allows the dynamodb:BatchGetItem action"},
			"batch write": {func() error {
				_, err := tenant.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{
					table: {{PutRequest: &ddbtypes.PutRequest{Item: key("Tenant#1", "Item#9")}}}}})
				return err
			}, who + "dynamodb:BatchWriteItem on resource: " + tableARN + " because no identity-based policy allows the dynamodb:BatchWriteItem action"},
			"scan": {func() error {
				_, err := tenant.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
				return err
			},
				who + "dynamodb:Scan on resource: " + tableARN + " because no session policy allows the dynamodb:Scan action"},
			"scan gsi": {func() error {
				_, err := tenant.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), IndexName: aws.String("gsi")})
				return err
			}, who + "dynamodb:Scan on resource: " + tableARN + "/index/gsi because no session policy allows the dynamodb:Scan action"},
			"delete table": {func() error {
				_, err := tenant.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
				return err
			},
				who + "dynamodb:DeleteTable on resource: " + tableARN + " because no identity-based policy allows the dynamodb:DeleteTable action"},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				code, msg := errCode(c.call())
				if code != "AccessDeniedException" || msg != c.msg {
					t.Fatalf("got %s %q\nwant AccessDeniedException %q", code, msg, c.msg)
				}
			})
		}
	})

	t.Run("read-write session", func(t *testing.T) {
		rw := sessionClient(st, assume(t, st, rwRole, "t-1-rw", tenantPolicy("1", "GetItem", "PutItem", "BatchWriteItem")))
		put := func(items ...map[string]ddbtypes.AttributeValue) error {
			var reqs []ddbtypes.WriteRequest
			for _, it := range items {
				reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: it}})
			}
			_, err := rw.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{table: reqs}})
			return err
		}
		if err := put(key("Tenant#1", "Item#10")); err != nil {
			t.Errorf("own-tenant BatchWriteItem: %v", err)
		}
		if code, _ := errCode(put(key("Tenant#1", "Item#11"), key("Tenant#2", "Item#12"))); code != "AccessDeniedException" {
			t.Errorf("mixed-tenant BatchWriteItem: %s", code)
		}
		out, err := st.dynamo(adminKey, adminSecret, "").GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#2", "Item#12")})
		if err != nil || len(out.Item) != 0 {
			t.Errorf("denied batch wrote an item: %v %v", out, err)
		}
	})

	t.Run("no-grant role with a broad session policy", func(t *testing.T) {
		broad := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}`
		c := sessionClient(st, assume(t, st, noGrantRole, "t-1-nogrant", broad))
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")})
		want := "User: arn:aws:sts::123456789012:assumed-role/tvm-no-grant/t-1-nogrant is not authorized to perform: dynamodb:GetItem on resource: " +
			tableARN + " because no identity-based policy allows the dynamodb:GetItem action"
		if code, msg := errCode(err); code != "AccessDeniedException" || msg != want {
			t.Errorf("got %s %q", code, msg)
		}
	})

	t.Run("authentication failures", func(t *testing.T) {
		c := read.Credentials
		id, secret, token := aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
		get := func(cl *dynamodb.Client) error {
			_, err := cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")})
			return err
		}
		cases := map[string]struct {
			client *dynamodb.Client
			code   string
			msg    string
		}{
			"forged secret": {st.dynamo(id, "forged"+secret[6:], token), "InvalidSignatureException",
				"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
			"bogus token":         {st.dynamo(id, secret, "bogus"), "UnrecognizedClientException", "The security token included in the request is invalid."},
			"missing token":       {st.dynamo(id, secret, ""), "UnrecognizedClientException", "The security token included in the request is invalid."},
			"unknown key":         {st.dynamo("ASIAUNKNOWNUNKNOWN00", secret, token), "UnrecognizedClientException", "The security token included in the request is invalid."},
			"user key with token": {st.dynamo(adminKey, adminSecret, token), "UnrecognizedClientException", "The security token included in the request is invalid."},
		}
		for name, k := range cases {
			t.Run(name, func(t *testing.T) {
				if code, msg := errCode(get(k.client)); code != k.code || msg != k.msg {
					t.Errorf("got %s %q, want %s %q", code, msg, k.code, k.msg)
				}
			})
		}
		req, _ := http.NewRequest(http.MethodPost, st.url, strings.NewReader(`{"TableName":"tvm-demo"}`))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "MissingAuthenticationTokenException") {
			t.Errorf("unsigned DynamoDB request: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("sts errors", func(t *testing.T) {
		broker := st.sts(brokerKey, brokerSecret)
		big := tenantPolicy("1", "GetItem") + strings.Repeat(" ", 2048)
		cases := map[string]struct {
			in   *sts.AssumeRoleInput
			code string
		}{
			"oversized policy": {&sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("s1"), Policy: aws.String(big)}, "ValidationError"},
			"malformed policy": {&sts.AssumeRoleInput{RoleArn: aws.String(readRole), RoleSessionName: aws.String("s1"),
				Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}`)}, "MalformedPolicyDocument"},
			"duration over role max": {&sts.AssumeRoleInput{RoleArn: aws.String(shortRole), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(7200)}, "ValidationError"},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				if code, msg := errCode(mustFail(broker.AssumeRole(ctx, c.in))); code != c.code {
					t.Errorf("got %s %q, want %s", code, msg, c.code)
				}
			})
		}
	})

	// Last: the session expires (the clock moves past its 15 minutes).
	t.Run("expired session", func(t *testing.T) {
		st.clock.Advance(16 * time.Minute)
		_, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")})
		if code, msg := errCode(err); code != "ExpiredTokenException" || msg != "The security token included in the request is expired" {
			t.Errorf("got %s %q", code, msg)
		}
	})

	logs := st.logs.String()
	for _, secret := range []string{aws.ToString(read.Credentials.SecretAccessKey), aws.ToString(read.Credentials.SessionToken), brokerSecret, adminSecret} {
		if strings.Contains(logs, secret) {
			t.Error("a secret or session token was logged")
		}
	}
	if !strings.Contains(logs, `"action":"sts:AssumeRole"`) {
		t.Errorf("no STS decision logged:\n%s", logs)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func mustFail[T any](_ T, err error) error {
	if err == nil {
		return errors.New("call succeeded")
	}
	return err
}

func countOf[T any](out *T, err error, n func(*T) int) (int, error) {
	if err != nil {
		return 0, err
	}
	return n(out), nil
}

// BenchmarkGetItemThroughGateway measures an allowed tenant GetItem through
// SigV4 verification, authorization and the in-process minidyn backend.
func BenchmarkGetItemThroughGateway(b *testing.B) {
	st := startStack(b, "")
	seed(b, st)
	c := sessionClient(st, assume(b, st, readRole, "bench", tenantPolicy("1", "GetItem")))
	in := &dynamodb.GetItemInput{TableName: aws.String(table), Key: key("Tenant#1", "Item#1")}
	for b.Loop() {
		if _, err := c.GetItem(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}
