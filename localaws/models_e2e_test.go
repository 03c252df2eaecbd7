package localaws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/tvmkit/tvm/internal/testenv"
)

const (
	abacRole    = "arn:aws:iam::123456789012:role/tvm-tenant-abac"
	siloRole    = "arn:aws:iam::123456789012:role/tvm-tenant-silo"
	tablePrefix = "arn:aws:dynamodb:us-east-1:123456789012:table/"
)

// createTable creates a table of the demo's shape (PK/SK, GSI gsi on
// PK1/SK1) and writes items {PK, SK, PK1}, as admin.
func createTable(t testing.TB, st *stack, name string, items ...[3]string) {
	t.Helper()
	ctx := context.Background()
	admin := st.dynamo(adminKey, adminSecret, "")
	attr := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	ks := func(h, r string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: aws.String(h), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String(r), KeyType: ddbtypes.KeyTypeRange}}
	}
	_, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("PK"), attr("SK"), attr("PK1"), attr("SK1")},
		KeySchema:            ks("PK", "SK"),
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String("gsi"), KeySchema: ks("PK1", "SK1"),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}},
	})
	if err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(admin, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("table %s never became ACTIVE: %v", name, err)
	}
	for _, it := range items {
		item := key(it[0], it[1])
		item["PK1"], item["SK1"] = str(it[2]), str(it[1])
		if _, err := admin.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
			t.Fatalf("PutItem %v: %v", it, err)
		}
	}
}

// siloPolicy is what a silo template renders for one tenant's table: the
// whole table (Scan and DescribeTable included) and its indexes, nothing
// else.
func siloPolicy(table string) string {
	arn := tablePrefix + table
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantTable","Effect":"Allow",` +
		`"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan","dynamodb:DescribeTable"],` +
		`"Resource":["` + arn + `","` + arn + `/index/*"]}]}`
}

// bridgePolicy is the pooled read template over one tenant's own table.
func bridgePolicy(table, tenant string) string {
	arn := tablePrefix + table
	return `{"Version":"2012-10-17","Statement":[{"Sid":"TenantItems","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],` +
		`"Resource":["` + arn + `","` + arn + `/index/*"],` +
		`"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#` + tenant + `"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
}

// TestIsolationModelRoles drives the built-in roles of the silo, bridge and
// ABAC models through the real STS and the enforcing DynamoDB gateway with
// the Go SDK, on both backends: the sessions a broker would obtain (a
// silo or bridge session policy, or only the tenant tag) and an ABAC
// session without the tag.
func TestIsolationModelRoles(t *testing.T) {
	t.Run("minidyn", func(t *testing.T) { runModels(t, startStack(t, "")) })
	t.Run("dynalite", func(t *testing.T) { runModels(t, startStack(t, testenv.Dynalite(t))) })
}

type modelCase struct {
	db     *dynamodb.Client
	call   func(ctx context.Context, db *dynamodb.Client) (int, error)
	want   int    // items, when allowed
	denied string // "" = allowed; else the end of the AccessDeniedException message
}

func queryOn(tbl, index, pkAttr, value string) func(context.Context, *dynamodb.Client) (int, error) {
	return func(ctx context.Context, db *dynamodb.Client) (int, error) {
		in := queryInput(index, pkAttr, value)
		in.TableName = aws.String(tbl)
		out, err := db.Query(ctx, in)
		return countOf(out, err, func(o *dynamodb.QueryOutput) int { return len(o.Items) })
	}
}

func scanOn(tbl string) func(context.Context, *dynamodb.Client) (int, error) {
	return func(ctx context.Context, db *dynamodb.Client) (int, error) {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tbl)})
		return countOf(out, err, func(o *dynamodb.ScanOutput) int { return len(o.Items) })
	}
}

func runModels(t *testing.T, st *stack) {
	ctx := context.Background()
	seed(t, st)
	createTable(t, st, "tvm-demo-1", [3]string{"Tenant#1", "Item#1", "Tenant#1"}, [3]string{"Tenant#1", "Item#2", "Tenant#1"},
		[3]string{"Tenant#12", "Item#9", "Tenant#12"})
	createTable(t, st, "tvm-demo-12", [3]string{"Tenant#12", "Item#1", "Tenant#12"})

	assumeTagged := func(client *sts.Client, role, session, policy string, tags ...ststypes.Tag) *dynamodb.Client {
		t.Helper()
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(900), Tags: tags}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		out, err := client.AssumeRole(ctx, in)
		if err != nil {
			t.Fatalf("AssumeRole %s: %v", role, err)
		}
		return sessionClient(st, out)
	}
	broker, admin := st.sts(brokerKey, brokerSecret), st.sts(adminKey, adminSecret)
	tenantTag := ststypes.Tag{Key: aws.String("tenant"), Value: aws.String("1")}
	abac1 := assumeTagged(broker, abacRole, "t-1-abac", "", tenantTag)
	untagged := assumeTagged(admin, abacRole, "no-tag", "")
	silo1 := assumeTagged(broker, siloRole, "t-1-silo", siloPolicy("tvm-demo-1"))
	bridge1 := assumeTagged(broker, siloRole, "t-1-bridge", bridgePolicy("tvm-demo-1", "1"))

	noRole := func(a string) string { return "because no identity-based policy allows the dynamodb:" + a + " action" }
	noSession := func(a string) string { return "because no session policy allows the dynamodb:" + a + " action" }
	cases := map[string]modelCase{
		"abac: own partition on the table":     {db: abac1, call: queryOn(table, "", "PK", "Tenant#1"), want: 1},
		"abac: own partition on the GSI":       {db: abac1, call: queryOn(table, "gsi", "PK1", "Tenant#1"), want: 2},
		"abac: other tenant's partition":       {db: abac1, call: queryOn(table, "", "PK", "Tenant#2"), denied: noRole("Query")},
		"abac: other tenant's partition (GSI)": {db: abac1, call: queryOn(table, "gsi", "PK1", "Tenant#2"), denied: noRole("Query")},
		"abac: tenant 12's partition":          {db: abac1, call: queryOn(table, "", "PK", "Tenant#12"), denied: noRole("Query")},
		"abac: scan":                           {db: abac1, call: scanOn(table), denied: noRole("Scan")},
		"abac: session without the tag":        {db: untagged, call: queryOn(table, "", "PK", "Tenant#1"), denied: noRole("Query")},
		"silo: own table query":                {db: silo1, call: queryOn("tvm-demo-1", "", "PK", "Tenant#1"), want: 2},
		"silo: own table scan":                 {db: silo1, call: scanOn("tvm-demo-1"), want: 3},
		"silo: tenant 12's table":              {db: silo1, call: scanOn("tvm-demo-12"), denied: noSession("Scan")},
		"silo: tenant 12's table query":        {db: silo1, call: queryOn("tvm-demo-12", "", "PK", "Tenant#12"), denied: noSession("Query")},
		"silo: the pooled table":               {db: silo1, call: scanOn(table), denied: noRole("Scan")},
		"bridge: own partition in own table":   {db: bridge1, call: queryOn("tvm-demo-1", "", "PK", "Tenant#1"), want: 2},
		"bridge: foreign key in own table":     {db: bridge1, call: queryOn("tvm-demo-1", "", "PK", "Tenant#12"), denied: noSession("Query")},
		"bridge: own key in tenant 12's table": {db: bridge1, call: queryOn("tvm-demo-12", "", "PK", "Tenant#1"), denied: noSession("Query")},
		"bridge: scan of own table":            {db: bridge1, call: scanOn("tvm-demo-1"), denied: noSession("Scan")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := c.call(ctx, c.db)
			if c.denied == "" {
				if err != nil || n != c.want {
					t.Fatalf("got %d items, err %v; want %d", n, err, c.want)
				}
				return
			}
			code, msg := errCode(err)
			if code != "AccessDeniedException" || !strings.HasSuffix(msg, c.denied) {
				t.Fatalf("got %d items, %s %q; want AccessDeniedException ending %q", n, code, msg, c.denied)
			}
		})
	}
}
