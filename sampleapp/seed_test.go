package sampleapp

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

type fakeSeedAPI struct {
	mu          sync.Mutex
	exists      bool
	creating    int // DescribeTable answers CREATING this many times after a create
	describes   int
	created     []*dynamodb.CreateTableInput
	items       map[string]Item
	describeErr error
	createErr   error
	lost        string // key ("PK/SK") of a write acknowledged but not stored
	gets        int
}

func (f *fakeSeedAPI) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	if !f.exists {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	status := types.TableStatusActive
	if f.creating > 0 {
		f.creating--
		status = types.TableStatusCreating
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableName: in.TableName, TableStatus: status}}, nil
}

func (f *fakeSeedAPI) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exists = true
	if f.createErr != nil {
		return nil, f.createErr
	}
	f.created = append(f.created, in)
	f.creating = 2
	return &dynamodb.CreateTableOutput{}, nil
}

func (f *fakeSeedAPI) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var it Item
	if err := attributevalue.UnmarshalMap(in.Item, &it); err != nil {
		return nil, err
	}
	if f.items == nil {
		f.items = map[string]Item{}
	}
	if it.String() != f.lost {
		f.items[it.String()] = it
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeSeedAPI) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if !aws.ToBool(in.ConsistentRead) {
		return nil, errors.New("read back without ConsistentRead")
	}
	pk, sk := keyOf(in.Key)
	it, ok := f.items[pk+"/"+sk]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: av(it)}, nil
}

var fastWait = SeedOptions{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}

func seedItemMap() map[string]Item {
	m := map[string]Item{}
	for _, it := range SeedItems {
		m[it.String()] = it
	}
	return m
}

func TestSeedIdempotent(t *testing.T) {
	api := &fakeSeedAPI{}
	var out bytes.Buffer
	for range 2 {
		if err := Seed(context.Background(), api, "tvm-demo", "gsi", &out, fastWait); err != nil {
			t.Fatalf("Seed: %v", err)
		}
	}
	if len(api.created) != 1 {
		t.Fatalf("CreateTable calls = %d, want 1", len(api.created))
	}
	if diff := cmp.Diff(seedItemMap(), api.items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if api.gets != 2*len(SeedItems) {
		t.Errorf("GetItem calls = %d, want %d (every item read back on every run)", api.gets, 2*len(SeedItems))
	}
	for _, want := range []string{"table tvm-demo created", "table tvm-demo exists", "item Tenant#2/Item#3 (gsi Tenant#1) written", "3 items read back"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	in := api.created[0]
	type key struct{ Name, Type string }
	keys := func(ks []types.KeySchemaElement) []key {
		var k []key
		for _, e := range ks {
			k = append(k, key{aws.ToString(e.AttributeName), string(e.KeyType)})
		}
		return k
	}
	if diff := cmp.Diff([]key{{"PK", "HASH"}, {"SK", "RANGE"}}, keys(in.KeySchema)); diff != "" {
		t.Errorf("table key (-want +got):\n%s", diff)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GSIs = %d, want 1", len(in.GlobalSecondaryIndexes))
	}
	gsi := in.GlobalSecondaryIndexes[0]
	if diff := cmp.Diff([]key{{"PK1", "HASH"}, {"SK1", "RANGE"}}, keys(gsi.KeySchema)); diff != "" {
		t.Errorf("GSI key (-want +got):\n%s", diff)
	}
	if aws.ToString(gsi.IndexName) != "gsi" || gsi.Projection.ProjectionType != types.ProjectionTypeAll || in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("GSI %s projection %s billing %s", aws.ToString(gsi.IndexName), gsi.Projection.ProjectionType, in.BillingMode)
	}
	attrs := map[string]types.ScalarAttributeType{}
	for _, a := range in.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	want := map[string]types.ScalarAttributeType{"PK": "S", "SK": "S", "PK1": "S", "SK1": "S"}
	if !maps.Equal(want, attrs) {
		t.Errorf("attribute definitions = %v", attrs)
	}
}

func TestSeedErrors(t *testing.T) {
	accessDenied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}
	for name, tc := range map[string]struct {
		api       *fakeSeedAPI
		wantErr   string
		wantItems bool
	}{
		"describeDenied": {api: &fakeSeedAPI{describeErr: accessDenied}, wantErr: "describing table tvm-demo"},
		"createDenied":   {api: &fakeSeedAPI{createErr: accessDenied}, wantErr: "creating table tvm-demo"},
		// Another seeder created it first: wait for it and write the items.
		"createRace": {api: &fakeSeedAPI{createErr: &types.ResourceInUseException{Message: aws.String("in use")}}, wantItems: true},
	} {
		t.Run(name, func(t *testing.T) {
			err := Seed(context.Background(), tc.api, "tvm-demo", "gsi", &bytes.Buffer{}, fastWait)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Seed = %v, want error containing %q", err, tc.wantErr)
				}
				var ae smithy.APIError
				if !errors.As(err, &ae) {
					t.Errorf("AWS error not wrapped: %v", err)
				}
			} else if err != nil {
				t.Fatalf("Seed: %v", err)
			}
			if got := len(tc.api.items) == len(SeedItems); got != tc.wantItems {
				t.Errorf("items written = %v, want %v", tc.api.items, tc.wantItems)
			}
		})
	}
}

// TestSeedReadsBack: a write DynamoDB acknowledged but that is not in the
// table afterwards fails the seed, and a stale item is replaced whole.
func TestSeedReadsBack(t *testing.T) {
	lost := &fakeSeedAPI{exists: true, lost: SeedItems[1].String()}
	err := Seed(context.Background(), lost, "tvm-demo", "gsi", &bytes.Buffer{}, fastWait)
	if err == nil || !strings.Contains(err.Error(), "reading back Tenant#2/Item#2: not found") {
		t.Fatalf("Seed = %v, want a read-back error for Tenant#2/Item#2", err)
	}

	stale := &fakeSeedAPI{exists: true, items: map[string]Item{
		"Tenant#2/Item#3": {PK: "Tenant#2", SK: "Item#3", PK1: "Tenant#2", SK1: "old"},
	}}
	if err := Seed(context.Background(), stale, "tvm-demo", "gsi", &bytes.Buffer{}, fastWait); err != nil {
		t.Fatalf("Seed over a stale item: %v", err)
	}
	if diff := cmp.Diff(seedItemMap(), stale.items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestSeedWaitCancelled(t *testing.T) {
	api := &fakeSeedAPI{}
	api.creating = 1 << 30
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api.exists = true
	go func() {
		for ctx.Err() == nil {
			api.mu.Lock()
			n := api.describes
			api.mu.Unlock()
			if n >= 3 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := Seed(ctx, api, "tvm-demo", "gsi", &bytes.Buffer{}, fastWait)
	if err == nil || !strings.Contains(err.Error(), "waiting for table") {
		t.Fatalf("Seed = %v, want a wait error", err)
	}
	if len(api.items) != 0 {
		t.Errorf("items written to a table that never became ACTIVE")
	}
}

// tablesSeedAPI dispatches each call to the fake table it names.
type tablesSeedAPI struct {
	mu     sync.Mutex
	tables map[string]*fakeSeedAPI
}

func (f *tablesSeedAPI) table(name *string) *fakeSeedAPI {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tables == nil {
		f.tables = map[string]*fakeSeedAPI{}
	}
	t, ok := f.tables[aws.ToString(name)]
	if !ok {
		t = &fakeSeedAPI{}
		f.tables[aws.ToString(name)] = t
	}
	return t
}

func (f *tablesSeedAPI) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return f.table(in.TableName).DescribeTable(ctx, in, o...)
}

func (f *tablesSeedAPI) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return f.table(in.TableName).CreateTable(ctx, in, o...)
}

func (f *tablesSeedAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return f.table(in.TableName).PutItem(ctx, in, o...)
}

func (f *tablesSeedAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return f.table(in.TableName).GetItem(ctx, in, o...)
}

// TestSeedAll: the pooled table gets the seed's items and each tenant's
// own table its SiloItems (tenant 12's stray row in tenant 1's table
// included), idempotently, each table created once with the demo's shape.
func TestSeedAll(t *testing.T) {
	api := &tablesSeedAPI{}
	c := DefaultConfig()
	var out bytes.Buffer
	for range 2 {
		if err := SeedAll(context.Background(), api, c, &out, fastWait); err != nil {
			t.Fatalf("SeedAll: %v", err)
		}
	}
	want := map[string][]Item{"tvm-demo": SeedItems, "tvm-demo-1": SiloItems["1"], "tvm-demo-12": SiloItems["12"], "tvm-demo-2": SiloItems["2"]}
	if len(api.tables) != len(want) {
		t.Errorf("tables %v, want %v", slices.Sorted(maps.Keys(api.tables)), slices.Sorted(maps.Keys(want)))
	}
	for name, items := range want {
		tbl := api.tables[name]
		if tbl == nil {
			t.Errorf("table %s not seeded", name)
			continue
		}
		m := map[string]Item{}
		for _, it := range items {
			m[it.String()] = it
		}
		if diff := cmp.Diff(m, tbl.items); diff != "" {
			t.Errorf("%s items (-want +got):\n%s", name, diff)
		}
		if len(tbl.created) != 1 || aws.ToString(tbl.created[0].GlobalSecondaryIndexes[0].IndexName) != "gsi" {
			t.Errorf("%s: created %d times", name, len(tbl.created))
		}
	}
	if got := SiloItems["1"][2]; got.PK != "Tenant#12" {
		t.Errorf("tenant 1's table lacks tenant 12's stray row: %v", got)
	}
	for _, line := range []string{"table tvm-demo-12 created", "item Tenant#12/Item#9 (gsi Tenant#12) written", "1 item read back"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}
