package sampleapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/client"
	"github.com/tvmkit/tvm/internal/paginate"
	ddbtarget "github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/tenant"
)

// ReadAPI is the subset of *dynamodb.Client the experiments call.
type ReadAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Env is what the experiments run against. Every field is required.
type Env struct {
	Config Config
	// Own is the app's own identity (the SDK default chain; the local stack's
	// admin user), which the grant role's experiments use without vended
	// credentials.
	Own aws.CredentialsProvider
	// AssumeRole returns the app's own identity acting as a role, with no
	// session policy and no session tags: the no-grant role (the seed's
	// noGrant Lambda) and the ABAC role without its tag. role is a role
	// name in the caller's account or a role ARN.
	AssumeRole func(ctx context.Context, role string) (aws.CredentialsProvider, error)
	// Vend returns broker-vended credentials for tenant under a broker profile.
	Vend func(tenant, profile string) aws.CredentialsProvider
	// DynamoDB returns a DynamoDB client signing with p.
	DynamoDB func(p aws.CredentialsProvider) ReadAPI
	// S3, when set, returns an S3 client signing with p, and Verify runs
	// the S3 experiments (verify_s3.go) on Config.Bucket too.
	S3 func(p aws.CredentialsProvider) S3API
	// VendFresh returns broker-vended credentials without a client-side
	// cache (the block rows need the broker's answer now).
	VendFresh func(tenant, profile string) aws.CredentialsProvider
	// Block, when set, adds tenant to the broker's block list (blocked) or
	// removes it, and Verify runs the block rows (verify_ops.go).
	Block func(ctx context.Context, tenant string, blocked bool) error
	// Revoke, when set, revokes tenant's sessions as the operator (apply)
	// or removes the revocation, and Verify runs the revoke rows.
	Revoke func(ctx context.Context, tenant string, apply bool) error
}

// Identity says whose credentials an experiment uses.
type Identity struct {
	// Tenant whose token is exchanged at the broker; "" = no vended
	// credentials: the app's own identity.
	Tenant string
	// Profile is the broker profile. Without vended credentials, the no-grant
	// profile selects the no-grant role; any other the app's own identity.
	Profile string
	// Role, without Tenant, is a role the app assumes itself (no session
	// policy, no tags; Env.AssumeRole); Profile is then ignored.
	Role string
}

// String describes the identity for a table row.
func (id Identity) String() string {
	switch {
	case id.Tenant != "":
		return fmt.Sprintf("vended tenant %s (%s)", id.Tenant, id.Profile)
	case id.Role != "":
		return "app identity as " + id.Role + " (no tags)"
	}
	return "app identity (" + id.Profile + ")"
}

// Item is one seed item.
type Item struct {
	PK, SK, PK1, SK1 string
}

// String is "PK/SK".
func (it Item) String() string { return it.PK + "/" + it.SK }

// Outcome classifies what happened.
type Outcome string

// Outcomes.
const (
	Allowed Outcome = "allowed"
	// Denied is DynamoDB's AccessDeniedException, nothing else.
	Denied Outcome = "denied"
	// Refused is a broker refusal (any error answer of the broker).
	Refused Outcome = "refused"
	// Failed is any other error: credentials unobtainable, broker
	// unreachable, another AWS error.
	Failed Outcome = "error"
	// Done is an operator action that succeeded (verify_ops.go).
	Done Outcome = "done"
)

// Result is the outcome of one call.
type Result struct {
	Outcome Outcome
	Items   []Item // when Allowed
	Code    string // AWS error code or broker code
	Message string // AWS or broker message, or the error text
}

// Summary is a one-line rendering, e.g. "allowed, 2 items" or
// "denied (AccessDeniedException)".
func (r Result) Summary() string {
	switch r.Outcome {
	case Allowed:
		return "allowed, " + plural(len(r.Items), "item")
	case Failed:
		if r.Code != "" {
			return "error (" + r.Code + ")"
		}
		return "error"
	case Done:
		return "done"
	}
	return fmt.Sprintf("%s (%s)", r.Outcome, r.Code)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// op is one DynamoDB call whose result is a list of items.
type op func(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error)

// run obtains the identity's credentials and runs f with them, classifying
// the outcome. Credentials are obtained first, so a failure to get them is
// never mistaken for a DynamoDB denial. A nil f only obtains the credentials:
// getting them counts as Allowed (with no items).
func (e *Env) run(ctx context.Context, id Identity, f op) Result {
	p, err := e.credentials(ctx, id)
	if err == nil {
		_, err = p.Retrieve(ctx)
	}
	if err != nil {
		return credentialsFailure(err)
	}
	if f == nil {
		return Result{Outcome: Allowed}
	}
	items, err := f(ctx, e.DynamoDB(p), e.Config)
	if err != nil {
		return awsFailure(err)
	}
	return Result{Outcome: Allowed, Items: items}
}

func (e *Env) credentials(ctx context.Context, id Identity) (aws.CredentialsProvider, error) {
	switch {
	case id.Tenant != "":
		return e.Vend(id.Tenant, id.Profile), nil
	case id.Role != "":
		return e.AssumeRole(ctx, id.Role)
	case id.Profile == e.Config.NoGrantProfile:
		return e.AssumeRole(ctx, e.Config.noGrantRole())
	default:
		return e.Own, nil
	}
}

// credentialsFailure classifies an error obtaining credentials.
func credentialsFailure(err error) Result {
	var (
		ite *client.InvalidTokenError
		fe  *client.ForbiddenError
		be  *client.BrokerError
	)
	switch {
	case errors.As(err, &ite):
		return Result{Outcome: Refused, Code: "401 " + ite.Code, Message: ite.Message}
	case errors.As(err, &fe):
		return Result{Outcome: Refused, Code: "403 " + fe.Code, Message: fe.Message}
	case errors.As(err, &be):
		return Result{Outcome: Refused, Code: fmt.Sprintf("%d %s", be.Status, be.Code), Message: be.Message}
	}
	r := Result{Outcome: Failed, Message: "obtaining credentials: " + err.Error()}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		r.Code = ae.ErrorCode()
	}
	return r
}

// awsFailure classifies a DynamoDB error: only DynamoDB's own
// AccessDeniedException is a denial. An API error of an operation nested in
// the DynamoDB call (e.g. a credential provider refreshing through STS or
// SSO) is a failure to get credentials, whatever its code.
func awsFailure(err error) Result {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return Result{Outcome: Failed, Message: err.Error()}
	}
	r := Result{Outcome: Failed, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	if nestedOperation(err) {
		r.Message = "obtaining credentials: " + err.Error()
		return r
	}
	if ae.ErrorCode() == "AccessDeniedException" {
		r.Outcome = Denied
	}
	return r
}

// nestedOperation reports whether the outermost *smithy.OperationError in
// err wraps another one: the error then comes from a call made on behalf of
// the outer operation, not from the outer service's answer.
func nestedOperation(err error) bool {
	var outer *smithy.OperationError
	if !errors.As(err, &outer) {
		return false
	}
	var inner *smithy.OperationError
	return errors.As(outer.Err, &inner)
}

// defaultKeyFormat is the broker's default leading-key format.
var defaultKeyFormat = tenant.MustParseFormat(ddbtarget.DefaultLeadingKeyFormat)

// LeadingKey formats a tenant's partition-key value as the broker's default
// leading-key format does.
func LeadingKey(id string) string { return defaultKeyFormat.Expand(id) }

// queryOp queries one tenant's partition on the table or the GSI.
func queryOp(tenant string, gsi bool) op {
	return func(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error) {
		return queryTable(ctx, api, cfg.Table, cfg.Index, tenant, gsi)
	}
}

// queryTable queries one tenant's partition on table, or on its index
// (partition key PK1) when gsi is set.
func queryTable(ctx context.Context, api ReadAPI, table, index, tenant string, gsi bool) ([]Item, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": "PK"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: LeadingKey(tenant)}},
	}
	if gsi {
		in.IndexName = aws.String(index)
		in.ExpressionAttributeNames["#pk"] = "PK1"
	}
	return allItems(ctx, dynamodb.NewQueryPaginator(api, in), func(o *dynamodb.QueryOutput) []map[string]types.AttributeValue { return o.Items })
}

func scanOp(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error) {
	return scanTable(ctx, api, cfg.Table)
}

// scanTable reads the whole table, every page.
func scanTable(ctx context.Context, api ReadAPI, table string) ([]Item, error) {
	return allItems(ctx, dynamodb.NewScanPaginator(api, &dynamodb.ScanInput{TableName: aws.String(table)}),
		func(o *dynamodb.ScanOutput) []map[string]types.AttributeValue { return o.Items })
}

// allItems reads every page of pages and decodes the items listed.
func allItems[P any](ctx context.Context, pages paginate.Paginator[P, *dynamodb.Options], items func(P) []map[string]types.AttributeValue) ([]Item, error) {
	raw, err := paginate.All(ctx, pages, items)
	if err != nil {
		return nil, err
	}
	return decodeItems(raw)
}

func key(it Item) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: it.PK},
		"SK": &types.AttributeValueMemberS{Value: it.SK},
	}
}

func getItemOp(it Item) op {
	return func(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error) {
		out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(cfg.Table), Key: key(it)})
		if err != nil || out.Item == nil {
			return nil, err
		}
		return decodeItems([]map[string]types.AttributeValue{out.Item})
	}
}

func batchGetOp(items ...Item) op {
	return func(ctx context.Context, api ReadAPI, cfg Config) ([]Item, error) {
		keys := make([]map[string]types.AttributeValue, 0, len(items))
		for _, it := range items {
			keys = append(keys, key(it))
		}
		out, err := api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{cfg.Table: {Keys: keys}},
		})
		if err != nil {
			return nil, err
		}
		if len(out.UnprocessedKeys) > 0 {
			return nil, errors.New("BatchGetItem left keys unprocessed")
		}
		return decodeItems(out.Responses[cfg.Table])
	}
}

func decodeItems(avs []map[string]types.AttributeValue) ([]Item, error) {
	items := make([]Item, 0, len(avs))
	for _, av := range avs {
		var it Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, fmt.Errorf("decoding item: %w", err)
		}
		items = append(items, it)
	}
	return items, nil
}

// Query runs the seed's reader experiment: a Query of tenant's partition on
// the table (or the GSI) as id.
func (e *Env) Query(ctx context.Context, id Identity, tenant string, gsi bool) Result {
	return e.run(ctx, id, queryOp(tenant, gsi))
}
