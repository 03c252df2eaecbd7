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
// the IdP minted for the app, and a DynamoDB that enforces, by the access
// key id of the caller, a model of each profile's isolation: the
// LeadingKeys session policy of the pooled profiles (read, and abac-read
// whose role policy does the same with the session tag), the own table of
// silo-read, both for bridge-read.
type fakeStack struct {
	srv *httptest.Server
	idp *testenv.IdP

	mu           sync.Mutex
	brokerStatus int  // 0 = vend normally
	acceptAny    bool // broker vends even for tenant "*"
	leaky        bool // DynamoDB ignores LeadingKeys for read (a broken policy)
	siloPrefix   bool // silo-read reaches every table whose name starts with its own (table/tvm-demo-1*)
	bridgeNoKeys bool // bridge-read has no LeadingKeys condition (the silo template)
	roleTag      bool // the ABAC role carries tag tenant=1, standing in for a missing session tag
	ddbErr       error
	noGrantErr   error
	abacErr      error
	vends        int
	// blocked tenants are refused by the broker (403 tenant_blocked);
	// revoked[t] = n denies tenant t's credentials of vends 1..n.
	blocked map[string]bool
	revoked map[string]int
}

const (
	adminKey      = "AKIATVMADMIN00000001"
	noGrantKey    = "ASIANOGRANTSESSION01"
	abacNoTagKey  = "ASIAABACNOTAGSESSION"
	abacRoleTagID = "1" // the tenant of roleTag
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
	n := fs.vends
	blocked := fs.blocked
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
	if blocked[tenant] {
		fail(403, "tenant_blocked", "this tenant is blocked")
		return
	}
	profile := r.URL.Query().Get("profile")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"Version": 1, "AccessKeyId": "ASIA:" + profile + ":" + tenant, "SecretAccessKey": fmt.Sprintf("s-%d", n), "SessionToken": "t",
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
		AssumeRole: func(_ context.Context, role string) (aws.CredentialsProvider, error) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			switch role {
			case DefaultNoGrantRole:
				if fs.noGrantErr != nil {
					return nil, fs.noGrantErr
				}
				return credentials(noGrantKey), nil
			case DefaultABACRole:
				if fs.abacErr != nil {
					return nil, fs.abacErr
				}
				return credentials(abacNoTagKey), nil
			}
			return nil, fmt.Errorf("operation error STS: AssumeRole, AccessDenied: no role %s", role)
		},
		Vend: func(tenant, profile string) aws.CredentialsProvider {
			return client.Cached(client.New(c.BrokerURL, TokenSource(c, tenant), func(o *client.Options) {
				o.Profile = profile
				o.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
			}))
		},
		DynamoDB: func(p aws.CredentialsProvider) ReadAPI {
			return &fakeDDB{stack: fs, creds: p, cfg: c}
		},
	}
}

func credentials(keyID string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "s", SessionToken: "t"}, nil
	})
}

type fakeDDB struct {
	stack *fakeStack
	creds aws.CredentialsProvider
	cfg   Config
}

// items returns the items of a table: the pooled table holds SeedItems,
// each silo table its tenant's SiloItems.
func (f *fakeDDB) items(table string) ([]Item, error) {
	if table == f.cfg.Table {
		return SeedItems, nil
	}
	for _, t := range SiloTenants {
		if table == f.cfg.TenantTable(t) {
			return SiloItems[t], nil
		}
	}
	return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Requested resource not found: " + table}
}

func denied(action string) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException",
		Message: "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t is not authorized to perform: dynamodb:" + action}
}

// authorize models identity policy ∩ session policy on table: admin may
// do anything, the no-grant role nothing, the ABAC role without its tag
// nothing (unless roleTag), a vended session what its profile's model
// allows.
func (f *fakeDDB) authorize(ctx context.Context, action, table string, leadingKeys []string) error {
	c, err := f.creds.Retrieve(ctx)
	if err != nil {
		return err
	}
	fs := f.stack
	fs.mu.Lock()
	leaky, siloPrefix, bridgeNoKeys, roleTag, ddbErr := fs.leaky, fs.siloPrefix, fs.bridgeNoKeys, fs.roleTag, fs.ddbErr
	fs.mu.Unlock()
	if ddbErr != nil {
		return ddbErr
	}
	profile, tenant := "", ""
	switch parts := strings.Split(c.AccessKeyID, ":"); {
	case c.AccessKeyID == adminKey:
		return nil
	case c.AccessKeyID == abacNoTagKey && roleTag:
		profile, tenant = DefaultABACProfile, abacRoleTagID
	case len(parts) == 3:
		profile, tenant = parts[1], parts[2]
	default:
		return denied(action)
	}
	var issued int
	if _, err := fmt.Sscanf(c.SecretAccessKey, "s-%d", &issued); err == nil && issued <= fs.revokedBefore(tenant) {
		return denied(action) // a Deny on aws:TokenIssueTime
	}
	ownKeys := func() bool {
		for _, k := range leadingKeys {
			if k != LeadingKey(tenant) {
				return false
			}
		}
		return len(leadingKeys) > 0 // the Null guard
	}
	var ok bool
	switch profile {
	case DefaultProfile:
		ok = table == f.cfg.Table && (leaky || ownKeys())
	case DefaultABACProfile:
		ok = table == f.cfg.Table && action != "Scan" && ownKeys()
	case DefaultSiloProfile:
		own := f.cfg.TenantTable(tenant)
		ok = table == own || (siloPrefix && strings.HasPrefix(table, own))
	case DefaultBridgeProfile:
		ok = table == f.cfg.TenantTable(tenant) && (bridgeNoKeys || ownKeys())
	}
	if !ok {
		return denied(action)
	}
	return nil
}

func (f *fakeDDB) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	table := aws.ToString(in.TableName)
	items, err := f.items(table)
	if err != nil || aws.ToString(in.KeyConditionExpression) != "#pk = :pk" {
		return nil, fmt.Errorf("unexpected query %+v: %v", in, err)
	}
	attr := in.ExpressionAttributeNames["#pk"]
	if (in.IndexName == nil) != (attr == "PK") || (in.IndexName != nil && (aws.ToString(in.IndexName) != f.cfg.Index || attr != "PK1")) {
		return nil, fmt.Errorf("query key %q does not fit index %v", attr, in.IndexName)
	}
	pk := in.ExpressionAttributeValues[":pk"].(*types.AttributeValueMemberS).Value
	if err := f.authorize(ctx, "Query", table, []string{pk}); err != nil {
		return nil, err
	}
	out := &dynamodb.QueryOutput{}
	for _, it := range items {
		if (attr == "PK" && it.PK == pk) || (attr == "PK1" && it.PK1 == pk) {
			out.Items = append(out.Items, av(it))
		}
	}
	return out, nil
}

func (f *fakeDDB) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	table := aws.ToString(in.TableName)
	items, err := f.items(table)
	if err != nil {
		return nil, err
	}
	if err := f.authorize(ctx, "Scan", table, nil); err != nil {
		return nil, err
	}
	out := &dynamodb.ScanOutput{}
	for _, it := range items {
		out.Items = append(out.Items, av(it))
	}
	return out, nil
}

func (f *fakeDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	table := aws.ToString(in.TableName)
	items, err := f.items(table)
	if err != nil {
		return nil, err
	}
	pk, sk := keyOf(in.Key)
	if err := f.authorize(ctx, "GetItem", table, []string{pk}); err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.PK == pk && it.SK == sk {
			return &dynamodb.GetItemOutput{Item: av(it)}, nil
		}
	}
	return &dynamodb.GetItemOutput{}, nil
}

func (f *fakeDDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		items, err := f.items(table)
		if err != nil {
			return nil, err
		}
		var pks []string
		for _, k := range ka.Keys {
			pk, _ := keyOf(k)
			pks = append(pks, pk)
		}
		if err := f.authorize(ctx, "BatchGetItem", table, pks); err != nil {
			return nil, err
		}
		for _, k := range ka.Keys {
			pk, sk := keyOf(k)
			for _, it := range items {
				if it.PK == pk && it.SK == sk {
					out.Responses[table] = append(out.Responses[table], av(it))
				}
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

// revokedBefore returns the last vend revoked for tenant (0: none).
func (fs *fakeStack) revokedBefore(tenant string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.revoked[tenant]
}
