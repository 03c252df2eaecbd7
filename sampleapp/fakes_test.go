package sampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/client"
	"github.com/tvmkit/tvm/internal/testenv"
)

// fakeStack is the shared dev IdP (testenv.IdP), a fake broker (httptest,
// through the real client package) that vends for the tenant of a token
// the IdP minted for the app, and a DynamoDB that enforces a model of the
// broker's LeadingKeys session policy by the access key id of the caller.
type fakeStack struct {
	srv *httptest.Server
	idp *testenv.IdP

	mu           sync.Mutex
	brokerStatus int  // 0 = vend normally
	acceptAny    bool // broker vends even for tenant "*"
	leaky        bool // DynamoDB ignores LeadingKeys (a broken policy)
	ddbErr       error
	noGrantErr   error
	vends        int
}

const (
	adminKey   = "AKIATVMADMIN00000001"
	noGrantKey = "ASIANOGRANTSESSION01"
)

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func newFakeStack(t *testing.T) *fakeStack {
	t.Helper()
	fs := &fakeStack{idp: testenv.StartIdP(t, nil)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials", fs.broker)
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeStack) broker(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	status, acceptAny := fs.brokerStatus, fs.acceptAny
	fs.vends++
	fs.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	if status != 0 {
		fail(status, "upstream_unavailable", "STS unavailable")
		return
	}
	// The app asks the IdP for tokens of its own subject and the broker's audience.
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := fs.idp.Verify(token)
	if err != nil || claims["sub"] != DefaultSubject || claims["aud"] != DefaultAudience {
		fail(401, "invalid_token", "token rejected")
		return
	}
	tenant, _ := claims["tenant_id"].(string)
	if !tenantRE.MatchString(tenant) && !acceptAny {
		fail(401, "invalid_tenant", "tenant claim fails the tenant pattern")
		return
	}
	profile := r.URL.Query().Get("profile")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"Version": 1, "AccessKeyId": "ASIA:" + profile + ":" + tenant, "SecretAccessKey": "s", "SessionToken": "t",
		"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	})
}

func (fs *fakeStack) config() Config {
	c := DefaultConfig()
	c.BrokerURL, c.IdPURL, c.Endpoint = fs.srv.URL, fs.idp.URL, fs.srv.URL
	return c
}

// env returns an Env over the fakes; vended credentials go through the real
// client and MintToken.
func (fs *fakeStack) env() *Env {
	c := fs.config()
	return &Env{
		Config: c,
		Own:    credentials(adminKey),
		NoGrant: func(context.Context) (aws.CredentialsProvider, error) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if fs.noGrantErr != nil {
				return nil, fs.noGrantErr
			}
			return credentials(noGrantKey), nil
		},
		Vend: func(tenant, profile string) aws.CredentialsProvider {
			return client.Cached(client.New(c.BrokerURL, TokenSource(c, tenant), func(o *client.Options) {
				o.Profile = profile
				o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
			}))
		},
		DynamoDB: func(p aws.CredentialsProvider) ReadAPI {
			return &fakeDDB{stack: fs, creds: p, table: c.Table, index: c.Index}
		},
	}
}

func credentials(keyID string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "s", SessionToken: "t"}, nil
	})
}

type fakeDDB struct {
	stack        *fakeStack
	creds        aws.CredentialsProvider
	table, index string
}

func denied(action string) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException",
		Message: "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t is not authorized to perform: dynamodb:" + action}
}

// authorize models identity policy ∩ session policy: admin may do anything,
// the no-grant role nothing, a vended read session key-bound reads of its
// tenant's leading key.
func (f *fakeDDB) authorize(ctx context.Context, action string, leadingKeys []string) error {
	c, err := f.creds.Retrieve(ctx)
	if err != nil {
		return err
	}
	f.stack.mu.Lock()
	leaky, ddbErr := f.stack.leaky, f.stack.ddbErr
	f.stack.mu.Unlock()
	if ddbErr != nil {
		return ddbErr
	}
	switch {
	case c.AccessKeyID == adminKey:
		return nil
	case c.AccessKeyID == noGrantKey:
		return denied(action)
	}
	parts := strings.Split(c.AccessKeyID, ":")
	if len(parts) != 3 || parts[1] != DefaultProfile {
		return denied(action)
	}
	if leaky {
		return nil
	}
	if len(leadingKeys) == 0 {
		return denied(action) // the Null guard
	}
	for _, k := range leadingKeys {
		if k != LeadingKey(parts[2]) {
			return denied(action)
		}
	}
	return nil
}

func (f *fakeDDB) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if aws.ToString(in.TableName) != f.table || aws.ToString(in.KeyConditionExpression) != "#pk = :pk" {
		return nil, fmt.Errorf("unexpected query %+v", in)
	}
	attr := in.ExpressionAttributeNames["#pk"]
	if (in.IndexName == nil) != (attr == "PK") || (in.IndexName != nil && (aws.ToString(in.IndexName) != f.index || attr != "PK1")) {
		return nil, fmt.Errorf("query key %q does not fit index %v", attr, in.IndexName)
	}
	pk := in.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS).Value
	if err := f.authorize(ctx, "Query", []string{pk}); err != nil {
		return nil, err
	}
	out := &dynamodb.QueryOutput{}
	for _, it := range SeedItems {
		if (attr == "PK" && it.PK == pk) || (attr == "PK1" && it.PK1 == pk) {
			out.Items = append(out.Items, av(it))
		}
	}
	return out, nil
}

func (f *fakeDDB) Scan(ctx context.Context, _ *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if err := f.authorize(ctx, "Scan", nil); err != nil {
		return nil, err
	}
	out := &dynamodb.ScanOutput{}
	for _, it := range SeedItems {
		out.Items = append(out.Items, av(it))
	}
	return out, nil
}

func (f *fakeDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	pk, sk := keyOf(in.Key)
	if err := f.authorize(ctx, "GetItem", []string{pk}); err != nil {
		return nil, err
	}
	for _, it := range SeedItems {
		if it.PK == pk && it.SK == sk {
			return &dynamodb.GetItemOutput{Item: av(it)}, nil
		}
	}
	return &dynamodb.GetItemOutput{}, nil
}

func (f *fakeDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	var pks []string
	ka := in.RequestItems[f.table]
	for _, k := range ka.Keys {
		pk, _ := keyOf(k)
		pks = append(pks, pk)
	}
	if err := f.authorize(ctx, "BatchGetItem", pks); err != nil {
		return nil, err
	}
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for _, k := range ka.Keys {
		pk, sk := keyOf(k)
		for _, it := range SeedItems {
			if it.PK == pk && it.SK == sk {
				out.Responses[f.table] = append(out.Responses[f.table], av(it))
			}
		}
	}
	return out, nil
}

func keyOf(k map[string]types.AttributeValue) (string, string) {
	return k["PK"].(*types.AttributeValueMemberS).Value, k["SK"].(*types.AttributeValueMemberS).Value
}

func av(it Item) map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	return map[string]types.AttributeValue{"PK": s(it.PK), "SK": s(it.SK), "PK1": s(it.PK1), "SK1": s(it.SK1)}
}

var errNoGrantAssume = errors.New("operation error STS: AssumeRole, AccessDenied: not authorized to perform sts:AssumeRole")

func (fs *fakeStack) vendCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.vends
}
