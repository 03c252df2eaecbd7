package dynamo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/google/go-cmp/cmp"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/policies/iam"
)

const (
	adminKey   = "AKIATVMADMIN00000001"
	tenant1Key = "ASIATENANT1000000001"
	noGrantKey = "ASIANOGRANT000000001"
	// Sessions denied dynamodb:ListTables explicitly, by the role's policy
	// or by the session policy.
	roleDenyKey    = "ASIAROLEDENY00000001"
	sessionDenyKey = "ASIASESSIONDENY00001"
	tenant1ARN     = "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1-ab12"
)

func mustParse(t testing.TB, name, doc string) *iam.Policy {
	t.Helper()
	p, err := iam.Parse(name, []byte(doc))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return p
}

// The role policy of tvm-tenant-read (layout.md) and the session policy the
// broker renders for tenant 1.
const (
	readRolePolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadTable","Effect":"Allow",
		"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan","dynamodb:ConditionCheckItem","dynamodb:DescribeTable"],
		"Resource":["arn:aws:dynamodb:*:123456789012:table/tvm-demo","arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"]}]}`
	tenant1SessionPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"TenantItems","Effect":"Allow",
		"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:ConditionCheckItem"],
		"Resource":["arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo","arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo/index/*"],
		"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	adminPolicy          = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	denyListTablesPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"dynamodb:ListTables","Resource":"*"}]}`
)

// fakeAuth authenticates by access key id alone (taken from the SigV4
// Authorization header); signature verification is the localaws package's.
type fakeAuth struct {
	callers map[string]*Caller
}

func newFakeAuth(t testing.TB) *fakeAuth {
	sess := func(arn string, identity, session []*iam.Policy) *iam.Session {
		return &iam.Session{Principal: arn, Identity: identity, SessionPolicies: session}
	}
	return &fakeAuth{callers: map[string]*Caller{
		adminKey: {ARN: "arn:aws:iam::123456789012:user/admin", Account: testAccount,
			Session: &iam.Session{Principal: "arn:aws:iam::123456789012:user/admin", UserName: "admin",
				Identity: []*iam.Policy{mustParse(t, "admin", adminPolicy)}}},
		tenant1Key: {ARN: tenant1ARN, Account: testAccount,
			Session: &iam.Session{Principal: tenant1ARN, PrincipalARN: "arn:aws:iam::123456789012:role/tvm-tenant-read",
				Identity:        []*iam.Policy{mustParse(t, "role policy ReadTable", readRolePolicy)},
				SessionPolicies: []*iam.Policy{mustParse(t, "session policy", tenant1SessionPolicy)}}},
		noGrantKey: {ARN: "arn:aws:sts::123456789012:assumed-role/tvm-no-grant/s", Account: testAccount,
			Session: sess("arn:aws:sts::123456789012:assumed-role/tvm-no-grant/s", []*iam.Policy{}, nil)},
		roleDenyKey: {ARN: "arn:aws:sts::123456789012:assumed-role/deny/s", Account: testAccount,
			Session: sess("arn:aws:sts::123456789012:assumed-role/deny/s",
				[]*iam.Policy{mustParse(t, "admin", adminPolicy), mustParse(t, "deny", denyListTablesPolicy)},
				[]*iam.Policy{mustParse(t, "session admin", adminPolicy)})},
		sessionDenyKey: {ARN: "arn:aws:sts::123456789012:assumed-role/deny/s", Account: testAccount,
			Session: sess("arn:aws:sts::123456789012:assumed-role/deny/s",
				[]*iam.Policy{mustParse(t, "admin", adminPolicy)},
				[]*iam.Policy{mustParse(t, "session admin", adminPolicy), mustParse(t, "session deny", denyListTablesPolicy)})},
	}}
}

func (a *fakeAuth) Authenticate(r *http.Request, _ []byte) (*Caller, error) {
	h := r.Header.Get("Authorization")
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return nil, &APIError{Status: 400, Code: "MissingAuthenticationTokenException", Message: "Request is missing Authentication Token"}
	}
	key, _, _ := strings.Cut(rest, "/")
	if key == "BROKENAUTH" {
		return nil, errors.New("identity store unavailable")
	}
	c, ok := a.callers[key]
	if !ok {
		return nil, &APIError{Status: 400, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	return c, nil
}

type testStack struct {
	srv  *httptest.Server
	gw   *Gateway
	logs *testenv.SyncBuffer
}

func newTestStack(t testing.TB, backend http.Handler) *testStack {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	gw, err := NewGateway(GatewayOptions{
		Backend: backend,
		Auth:    newFakeAuth(t),
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &testStack{srv: srv, gw: gw, logs: logs}
}

// client returns a real SDK client for key; sdkLogs collects what the SDK logs.
func (s *testStack) client(key string, sdkLogs *testenv.SyncBuffer) *dynamodb.Client {
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(key, "secret-not-checked-here", "session-token"),
		HTTPClient:  s.srv.Client(),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	if sdkLogs != nil {
		cfg.Logger = logging.NewStandardLogger(sdkLogs)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.srv.URL) })
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// seedDemo creates tvm-demo as layout.md describes it and waits for it with
// the SDK's table-exists waiter, which needs the TableStatus gap fix.
func seedDemo(t testing.TB, ctx context.Context, admin *dynamodb.Client) {
	t.Helper()
	_, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("tvm-demo"),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("PK1"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK1"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("gsi"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("PK1"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("SK1"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	waiter := dynamodb.NewTableExistsWaiter(admin, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("tvm-demo")}, 5*time.Second); err != nil {
		t.Fatalf("table-exists waiter: %v", err)
	}
	for _, it := range [][4]string{
		{"Tenant#1", "Item#1", "Tenant#1", "Item#1"},
		{"Tenant#2", "Item#2", "Tenant#2", "Item#2"},
		{"Tenant#2", "Item#3", "Tenant#1", "Item#3"},
	} {
		_, err := admin.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tvm-demo"),
			Item: map[string]types.AttributeValue{"PK": s(it[0]), "SK": s(it[1]), "PK1": s(it[2]), "SK1": s(it[3])}})
		if err != nil {
			t.Fatalf("PutItem %v: %v", it, err)
		}
	}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": s(pk), "SK": s(sk)}
}

func sks(items []map[string]types.AttributeValue) []string {
	var out []string
	for _, it := range items {
		if v, ok := it["SK"].(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out
}

// runIsolationSuite runs the tenant-isolation scenario of issue 3 through a
// gateway in front of backend.
func runIsolationSuite(t *testing.T, backend http.Handler) {
	ctx := t.Context()
	st := newTestStack(t, backend)
	sdkLogs := &testenv.SyncBuffer{}
	admin := st.client(adminKey, sdkLogs)
	seedDemo(t, ctx, admin)
	tenant := st.client(tenant1Key, sdkLogs)
	table := aws.String("tvm-demo")

	t.Run("allowed", func(t *testing.T) {
		got, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("Tenant#1", "Item#1")})
		if err != nil {
			t.Fatalf("own GetItem: %v", err)
		}
		if sks([]map[string]types.AttributeValue{got.Item}) == nil {
			t.Errorf("own GetItem returned no item")
		}
		q, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("#pk = :t"),
			ExpressionAttributeNames:  map[string]string{"#pk": "PK"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("Tenant#1")}})
		if err != nil {
			t.Fatalf("own Query: %v", err)
		}
		if diff := cmp.Diff([]string{"Item#1"}, sks(q.Items)); diff != "" {
			t.Errorf("own Query (-want +got):\n%s", diff)
		}
		if q.ScannedCount != q.Count {
			t.Errorf("ScannedCount = %d, Count = %d", q.ScannedCount, q.Count)
		}
		// The seed's subtle point: Item#3 belongs to tenant 2 in the table
		// but its GSI key names tenant 1, so tenant 1 sees it via the index.
		g, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("gsi"),
			KeyConditionExpression:    aws.String("PK1 = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("Tenant#1")}})
		if err != nil {
			t.Fatalf("own GSI Query: %v", err)
		}
		if diff := cmp.Diff([]string{"Item#1", "Item#3"}, sks(g.Items)); diff != "" {
			t.Errorf("own GSI Query (-want +got):\n%s", diff)
		}
		lq, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("gsi"),
			KeyConditions: map[string]types.Condition{
				"PK1": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{s("Tenant#1")}},
				"SK1": {ComparisonOperator: types.ComparisonOperatorBeginsWith, AttributeValueList: []types.AttributeValue{s("Item#3")}},
			}})
		if err != nil {
			t.Fatalf("own legacy KeyConditions Query: %v", err)
		}
		if diff := cmp.Diff([]string{"Item#3"}, sks(lq.Items)); diff != "" {
			t.Errorf("own legacy KeyConditions Query (-want +got):\n%s", diff)
		}
		b, err := tenant.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			"tvm-demo": {Keys: []map[string]types.AttributeValue{key("Tenant#1", "Item#1"), key("Tenant#1", "nope")}}}})
		if err != nil {
			t.Fatalf("own BatchGetItem: %v", err)
		}
		if diff := cmp.Diff([]string{"Item#1"}, sks(b.Responses["tvm-demo"])); diff != "" {
			t.Errorf("own BatchGetItem (-want +got):\n%s", diff)
		}
		if b.UnprocessedKeys == nil || len(b.UnprocessedKeys) != 0 {
			t.Errorf("UnprocessedKeys = %#v, want an empty map", b.UnprocessedKeys)
		}
	})

	denied := map[string]struct {
		call func() error
		want string
	}{
		"other tenant GetItem": {
			call: func() error {
				_, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("Tenant#2", "Item#2")})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:GetItem on resource: " + demoARN +
				" because no session policy allows the dynamodb:GetItem action",
		},
		"other tenant Query": {
			call: func() error {
				_, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditionExpression: aws.String("PK = :t"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("Tenant#2")}})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:Query on resource: " + demoARN +
				" because no session policy allows the dynamodb:Query action",
		},
		"other tenant GSI Query": {
			call: func() error {
				_, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, IndexName: aws.String("gsi"),
					KeyConditionExpression:    aws.String("PK1 = :t"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("Tenant#2")}})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:Query on resource: " + demoARN +
				"/index/gsi because no session policy allows the dynamodb:Query action",
		},
		"other tenant legacy KeyConditions Query": {
			call: func() error {
				_, err := tenant.Query(ctx, &dynamodb.QueryInput{TableName: table, KeyConditions: map[string]types.Condition{
					"PK": {ComparisonOperator: types.ComparisonOperatorEq, AttributeValueList: []types.AttributeValue{s("Tenant#2")}}}})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:Query on resource: " + demoARN +
				" because no session policy allows the dynamodb:Query action",
		},
		"mixed BatchGetItem": {
			call: func() error {
				_, err := tenant.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
					"tvm-demo": {Keys: []map[string]types.AttributeValue{key("Tenant#1", "Item#1"), key("Tenant#2", "Item#2")}}}})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:BatchGetItem on resource: " + demoARN +
				" because no session policy allows the dynamodb:BatchGetItem action",
		},
		"Scan": {
			call: func() error {
				_, err := tenant.Scan(ctx, &dynamodb.ScanInput{TableName: table})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:Scan on resource: " + demoARN +
				" because no session policy allows the dynamodb:Scan action",
		},
		"BatchWriteItem": {
			call: func() error {
				_, err := tenant.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
					"tvm-demo": {{PutRequest: &types.PutRequest{Item: key("Tenant#1", "x")}}, {DeleteRequest: &types.DeleteRequest{Key: key("Tenant#2", "Item#2")}}}}})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:BatchWriteItem on resource: " + demoARN +
				" because no identity-based policy allows the dynamodb:BatchWriteItem action",
		},
		"DeleteTable": {
			call: func() error {
				_, err := tenant.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: table})
				return err
			},
			want: "User: " + tenant1ARN + " is not authorized to perform: dynamodb:DeleteTable on resource: " + demoARN +
				" because no identity-based policy allows the dynamodb:DeleteTable action",
		},
	}
	for name, tc := range denied {
		t.Run("denied "+name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want AccessDeniedException", err)
			}
			if ae.ErrorCode() != CodeAccessDenied || ae.ErrorMessage() != tc.want {
				t.Errorf("error = %s: %q\nwant %s: %q", ae.ErrorCode(), ae.ErrorMessage(), CodeAccessDenied, tc.want)
			}
		})
	}

	t.Run("data unchanged by denied writes", func(t *testing.T) {
		got, err := admin.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key("Tenant#2", "Item#2")})
		if err != nil || got.Item == nil {
			t.Fatalf("admin GetItem = %v, %v; the denied BatchWriteItem must not have run", got, err)
		}
	})

	t.Run("decision log", func(t *testing.T) {
		logs := st.logs.String()
		for _, want := range []string{
			`"principal":"` + tenant1ARN + `"`,
			`"action":"dynamodb:Query","resource":"` + demoARN + `/index/gsi","leading_keys":["Tenant#2"],"decision":"ImplicitDeny"`,
			`"leading_keys":["Tenant#1","Tenant#2"]`,
			`"decision":"Allow"`,
			`"sid":"TenantItems"`,
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("decision log lacks %s:\n%s", want, logs)
			}
		}
		for _, secret := range []string{"secret-not-checked-here", "session-token"} {
			if strings.Contains(logs, secret) {
				t.Errorf("decision log contains a secret %q", secret)
			}
		}
	})

	t.Run("no SDK warnings", func(t *testing.T) {
		if l := sdkLogs.String(); l != "" {
			t.Errorf("the SDK logged:\n%s", l)
		}
	})
}

func TestGatewayMinidyn(t *testing.T) {
	runIsolationSuite(t, NewMinidynBackend())
}

// rawCall posts body to the gateway as the caller with key id akid.
func rawCall(t *testing.T, url, akid, target, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentTypeJSON10)
	if akid != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	return resp, b
}

func TestGatewayErrors(t *testing.T) {
	st := newTestStack(t, NewMinidynBackend())
	tests := map[string]struct {
		akid, target, body string
		status             int
		typ, message       string
	}{
		"no credentials": {"", TargetPrefix + "ListTables", `{}`, 400,
			"com.amazon.coral.service#MissingAuthenticationTokenException", "Request is missing Authentication Token"},
		"unknown key": {"AKIAUNKNOWN", TargetPrefix + "ListTables", `{}`, 400,
			"com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid."},
		"authenticator failure fails closed": {"BROKENAUTH", TargetPrefix + "ListTables", `{}`, 500,
			"com.amazon.coral.service#InternalServerError", "Internal server error"},
		"no target":      {adminKey, "", `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		"other service":  {adminKey, "AmazonSSM.GetParameter", `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		"unknown op":     {adminKey, TargetPrefix + "Frobnicate", `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		"malformed JSON": {adminKey, TargetPrefix + "GetItem", `{"TableName":`, 400, "com.amazon.coral.service#SerializationException", ""},
		"validation": {adminKey, TargetPrefix + "GetItem", `{"TableName":"xyz"}`, 400, "com.amazon.coral.validate#ValidationException",
			"1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null"},
		"no grant": {noGrantKey, TargetPrefix + "ListTables", `{}`, 400, "com.amazon.coral.service#AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/tvm-no-grant/s is not authorized to perform: dynamodb:ListTables on resource: * because no identity-based policy allows the dynamodb:ListTables action"},
		"explicit deny in the role policy": {roleDenyKey, TargetPrefix + "ListTables", `{}`, 400, "com.amazon.coral.service#AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/deny/s is not authorized to perform: dynamodb:ListTables on resource: * with an explicit deny in an identity-based policy"},
		"explicit deny in the session policy": {sessionDenyKey, TargetPrefix + "ListTables", `{}`, 400, "com.amazon.coral.service#AccessDeniedException",
			"User: arn:aws:sts::123456789012:assumed-role/deny/s is not authorized to perform: dynamodb:ListTables on resource: * with an explicit deny in a session policy"},
		"too large": {adminKey, TargetPrefix + "ListTables", `{"x":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, 413,
			"com.amazon.coral.service#RequestEntityTooLarge", "Request size exceeded 16777216 bytes"},
		"backend unsupported op": {adminKey, TargetPrefix + "DescribeTimeToLive", `{"TableName":"tvm-demo"}`, 400,
			"com.amazon.coral.service#UnknownOperationException", "the minidyn backend does not support DescribeTimeToLive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := rawCall(t, st.srv.URL, tc.akid, tc.target, tc.body)
			var got struct {
				Type    string `json:"__type"`
				Message string `json:"Message"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if resp.StatusCode != tc.status || got.Type != tc.typ || (tc.message != "" && got.Message != tc.message) {
				t.Errorf("got %d %s %q\nwant %d %s %q", resp.StatusCode, got.Type, got.Message, tc.status, tc.typ, tc.message)
			}
			checkHeaders(t, resp, body)
		})
	}
}

// TestGatewayRefusesRepeatedTarget checks that a request naming two
// operations is refused: the gateway would authorize the first while a
// backend may execute another (dynalite, through Node, joins repeated
// headers; minidyn reads the first).
func TestGatewayRefusesRepeatedTarget(t *testing.T) {
	st := newTestStack(t, NewMinidynBackend())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, st.srv.URL, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("X-Amz-Target", TargetPrefix+"ListTables")
	req.Header.Add("X-Amz-Target", TargetPrefix+"DeleteTable")
	req.Header.Set("Content-Type", contentTypeJSON10)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+adminKey+"/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "#UnknownOperationException") {
		t.Errorf("got %d %s, want 400 UnknownOperationException", resp.StatusCode, body)
	}
	checkHeaders(t, resp, body)
}

// checkHeaders asserts the headers every DynamoDB response carries.
func checkHeaders(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeJSON10 {
		t.Errorf("Content-Type = %q", ct)
	}
	if id := resp.Header.Get("x-amzn-RequestId"); len(id) != requestIDLength {
		t.Errorf("x-amzn-RequestId = %q", id)
	}
	if got, want := resp.Header.Get("x-amz-crc32"), strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10); got != want {
		t.Errorf("x-amz-crc32 = %q, want %q", got, want)
	}
}

func TestGatewayGapFixes(t *testing.T) {
	ctx := t.Context()
	st := newTestStack(t, NewMinidynBackend())
	admin := st.client(adminKey, nil)
	seedDemo(t, ctx, admin) // includes the table-exists waiter

	d, err := admin.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("tvm-demo")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.TableStatus != types.TableStatusActive || aws.ToString(d.Table.TableArn) != demoARN {
		t.Errorf("TableStatus %q TableArn %q", d.Table.TableStatus, aws.ToString(d.Table.TableArn))
	}
	if len(d.Table.GlobalSecondaryIndexes) != 1 || aws.ToString(d.Table.GlobalSecondaryIndexes[0].IndexArn) != demoARN+"/index/gsi" ||
		d.Table.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive {
		t.Errorf("GSI description %+v", d.Table.GlobalSecondaryIndexes)
	}

	l, err := admin.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"tvm-demo"}, l.TableNames); diff != "" {
		t.Errorf("ListTables (-want +got):\n%s", diff)
	}

	p, err := admin.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("tvm-demo"), Item: key("Tenant#9", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Attributes != nil {
		t.Errorf("PutItem with ReturnValues NONE returned %v", p.Attributes)
	}

	q, err := admin.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("tvm-demo"), KeyConditionExpression: aws.String("PK = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("Tenant#404")}})
	if err != nil {
		t.Fatal(err)
	}
	if q.Items == nil || q.Count != 0 || q.ScannedCount != 0 {
		t.Errorf("empty Query: Items %v Count %d ScannedCount %d", q.Items, q.Count, q.ScannedCount)
	}
	sc, err := admin.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("tvm-demo")})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Count != 4 || sc.ScannedCount != 4 {
		t.Errorf("Scan Count %d ScannedCount %d, want 4 and 4", sc.Count, sc.ScannedCount)
	}
	w, err := admin.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"tvm-demo": {{DeleteRequest: &types.DeleteRequest{Key: key("Tenant#9", "x")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if w.UnprocessedItems == nil || len(w.UnprocessedItems) != 0 {
		t.Errorf("UnprocessedItems = %#v, want an empty map", w.UnprocessedItems)
	}

	resp, body := rawCall(t, st.srv.URL, adminKey, TargetPrefix+"DescribeTable", `{"TableName":"tvm-demo"}`)
	checkHeaders(t, resp, body)
	if bytes.Contains(body, []byte("null")) {
		t.Errorf("DescribeTable still has null members: %s", body)
	}
}

func TestGatewaySchemaCacheInvalidation(t *testing.T) {
	ctx := t.Context()
	st := newTestStack(t, NewMinidynBackend())
	admin := st.client(adminKey, nil)
	create := func(pk string) {
		t.Helper()
		_, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("flip"),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(pk), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(pk string) error {
		_, err := admin.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("flip"), Key: map[string]types.AttributeValue{pk: s("v")}})
		return err
	}
	create("a")
	if err := get("a"); err != nil {
		t.Fatalf("GetItem on schema a: %v", err)
	}
	if _, err := admin.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("flip")}); err != nil {
		t.Fatal(err)
	}
	create("b")
	if err := get("b"); err != nil {
		t.Fatalf("GetItem on schema b after re-creation (stale schema cache?): %v", err)
	}
	if err := get("a"); err == nil {
		t.Fatal("GetItem with the old key schema succeeded")
	}
	if !strings.Contains(st.logs.String(), `"leading_keys":["v"]`) {
		t.Errorf("no decision with leading key v:\n%s", st.logs.String())
	}
}

// recordingBackend records the headers the backend receives.
type recordingBackend struct {
	next    http.Handler
	mu      sync.Mutex
	headers []http.Header
}

func (b *recordingBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.headers = append(b.headers, r.Header.Clone())
	b.mu.Unlock()
	b.next.ServeHTTP(w, r)
}

func TestGatewayKeepsCredentialsFromBackend(t *testing.T) {
	rec := &recordingBackend{next: NewMinidynBackend()}
	st := newTestStack(t, rec)
	if _, err := st.client(adminKey, nil).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.headers) == 0 {
		t.Fatal("backend saw no request")
	}
	for _, h := range rec.headers {
		for _, name := range hopHeaders {
			if v := h.Get(name); v != "" {
				t.Errorf("backend received %s: %q", name, v)
			}
		}
	}
}

func TestNewGatewayValidation(t *testing.T) {
	tests := map[string]GatewayOptions{
		"no backend":        {Auth: &fakeAuth{}},
		"no authenticator":  {Backend: NewMinidynBackend()},
		"negative max body": {Backend: NewMinidynBackend(), Auth: &fakeAuth{}, MaxBodyBytes: -1},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewGateway(opts); err == nil {
				t.Error("NewGateway succeeded")
			}
		})
	}
}

func TestGatewayConcurrent(t *testing.T) {
	ctx := t.Context()
	st := newTestStack(t, NewMinidynBackend())
	seedDemo(t, ctx, st.client(adminKey, nil))
	tenant := st.client(tenant1Key, nil)
	admin := st.client(adminKey, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Go(func() {
			_, err := tenant.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("tvm-demo"), Key: key("Tenant#1", "Item#1")})
			errs <- err
		})
		wg.Go(func() {
			name := fmt.Sprintf("t-%02d", i)
			_, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(name),
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
				KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
				BillingMode:          types.BillingModePayPerRequest})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestClipAll(t *testing.T) {
	long := strings.Repeat("é", maxEchoedValue+1)
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none is an empty list", nil, []string{}},
		{"short values unchanged", []string{"Tenant#1", strings.Repeat("x", maxEchoedValue)}, []string{"Tenant#1", strings.Repeat("x", maxEchoedValue)}},
		{"a long value cut", []string{"a", long}, []string{"a", strings.Repeat("é", maxEchoedValue) + "..."}},
		{"long in bytes, short in characters", []string{strings.Repeat("é", maxEchoedValue)}, []string{strings.Repeat("é", maxEchoedValue)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := clipAll(in)
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("clipAll = %q, want %q", got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("clipAll changed its input to %q", in)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	large := `{"a":"` + strings.Repeat("x", preallocBody) + `"}`
	tests := []struct {
		name     string
		body     string
		declared int64 // Content-Length; -1 unknown (chunked)
		max      int64
		want     string
		wantErr  bool
	}{
		{"declared length", `{"a":1}`, 7, 100, `{"a":1}`, false},
		{"unknown length", `{"a":1}`, -1, 100, `{"a":1}`, false},
		{"shorter than declared", `{"a":1}`, 9, 100, "", true},
		{"declared above the limit", `{"a":1}`, 7, 5, "", true},
		{"unknown length above the limit", `{"a":1}`, -1, 5, "", true},
		{"declared above the preallocation", large, int64(len(large)), 1 << 20, large, false},
		{"declared above the preallocation, shorter", large, int64(len(large)) + 1, 1 << 20, "", true},
		{"declared above the preallocation and the limit", large, int64(len(large)), preallocBody, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.ContentLength = tc.declared
			got, err := readBody(httptest.NewRecorder(), r, tc.max)
			if (err != nil) != tc.wantErr || err == nil && string(got) != tc.want {
				t.Errorf("readBody = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestBackendRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("ignored"))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA")
	r.Header.Set("X-Amz-Security-Token", "token")
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header["x-amz-security-token"] = []string{"not canonical"} // a handler may be given one
	r.Header.Set("X-Amz-Target", TargetPrefix+"GetItem")
	before := r.Header.Clone()
	out := backendRequest(r, []byte(`{"TableName":"t"}`))
	for k := range out.Header {
		if c := http.CanonicalHeaderKey(k); slices.Contains(hopHeaders, c) {
			t.Errorf("the backend sees %s", k)
		}
	}
	if out.Header.Get("X-Amz-Target") != TargetPrefix+"GetItem" {
		t.Errorf("X-Amz-Target = %q", out.Header.Get("X-Amz-Target"))
	}
	if b, _ := io.ReadAll(out.Body); string(b) != `{"TableName":"t"}` || out.ContentLength != int64(len(b)) || out.RequestURI != "" {
		t.Errorf("body %q, ContentLength %d, RequestURI %q", b, out.ContentLength, out.RequestURI)
	}
	if !reflect.DeepEqual(r.Header, before) {
		t.Errorf("the client's request headers changed: %v", r.Header)
	}
}
