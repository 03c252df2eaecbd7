package sampleapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// SeedAPI is the subset of *dynamodb.Client that Seed calls.
type SeedAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// SeedItems are the seed's three items.
var SeedItems = []Item{
	{PK: "Tenant#1", SK: "Item#1", PK1: "Tenant#1", SK1: "Item#1"},
	{PK: "Tenant#2", SK: "Item#2", PK1: "Tenant#2", SK1: "Item#2"},
	{PK: "Tenant#2", SK: "Item#3", PK1: "Tenant#1", SK1: "Item#3"},
}

// SiloItems are the items of each tenant's own table (Config.TenantTable),
// by tenant: the silo and bridge models. Tenant 1's table also holds a row
// keyed for tenant 12 (a stray row, as a bug or a migration could leave):
// a silo session reads it with the rest of its table, a bridge session's
// LeadingKeys condition keeps it out. Tenants 1 and 12 are there because
// one id is a prefix of the other (tvm-demo-1, tvm-demo-12).
var SiloItems = map[string][]Item{
	"1": {
		{PK: "Tenant#1", SK: "Item#1", PK1: "Tenant#1", SK1: "Item#1"},
		{PK: "Tenant#1", SK: "Item#2", PK1: "Tenant#1", SK1: "Item#2"},
		{PK: "Tenant#12", SK: "Item#9", PK1: "Tenant#12", SK1: "Item#9"},
	},
	"12": {
		{PK: "Tenant#12", SK: "Item#1", PK1: "Tenant#12", SK1: "Item#1"},
		{PK: "Tenant#12", SK: "Item#2", PK1: "Tenant#12", SK1: "Item#2"},
	},
	"2": {
		{PK: "Tenant#2", SK: "Item#1", PK1: "Tenant#2", SK1: "Item#1"},
	},
}

// SiloTenants are the tenants with a table of their own, in seeding order.
var SiloTenants = []string{"1", "12", "2"}

// TableWait bounds the wait for a created table to become ACTIVE.
const TableWait = 2 * time.Minute

// SeedOptions tunes Seed; the zero value is the production setting.
type SeedOptions struct {
	// MinDelay and MaxDelay of the table-exists waiter (default 1s and 10s).
	MinDelay, MaxDelay time.Duration
}

// Seed seeds table with the seed's three items (SeedTable with SeedItems).
func Seed(ctx context.Context, api SeedAPI, table, index string, w io.Writer, opts SeedOptions) error {
	return SeedTable(ctx, api, table, index, SeedItems, w, opts)
}

// SeedAll seeds the pooled table of c with SeedItems and each silo table
// (c.TenantTable of every SiloTenants entry) with its SiloItems.
func SeedAll(ctx context.Context, api SeedAPI, c Config, w io.Writer, opts SeedOptions) error {
	if err := Seed(ctx, api, c.Table, c.Index, w, opts); err != nil {
		return err
	}
	for _, t := range SiloTenants {
		if err := SeedTable(ctx, api, c.TenantTable(t), c.Index, SiloItems[t], w, opts); err != nil {
			return err
		}
	}
	return nil
}

// SeedTable creates the table (PK/SK, GSI on PK1/SK1, projection ALL,
// on-demand) unless it exists, waits until it is ACTIVE (at most
// TableWait), writes items and reads each one back (strongly consistent):
// an item that is missing or differs afterwards is an error. Items are
// written whole by key, so running it again leaves the same items.
// Progress goes to w.
func SeedTable(ctx context.Context, api SeedAPI, table, index string, items []Item, w io.Writer, opts SeedOptions) error {
	if opts.MinDelay <= 0 {
		opts.MinDelay = time.Second
	}
	if opts.MaxDelay < opts.MinDelay {
		opts.MaxDelay = max(10*time.Second, opts.MinDelay)
	}
	_, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		fmt.Fprintf(w, "table %s exists\n", table)
	case errors.As(err, &notFound):
		_, err := api.CreateTable(ctx, createTableInput(table, index))
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			fmt.Fprintf(w, "table %s created\n", table)
		case errors.As(err, &inUse):
			fmt.Fprintf(w, "table %s is being created elsewhere\n", table)
		default:
			return fmt.Errorf("creating table %s: %w", table, err)
		}
	default:
		return fmt.Errorf("describing table %s: %w", table, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(api, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = opts.MinDelay, opts.MaxDelay
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, TableWait); err != nil {
		return fmt.Errorf("waiting for table %s: %w", table, err)
	}
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			return err
		}
		if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: av}); err != nil {
			return fmt.Errorf("writing %s: %w", it, err)
		}
		fmt.Fprintf(w, "item %s (%s %s) written\n", it, index, it.PK1)
	}
	for _, it := range items {
		out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(it), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("reading back %s: %w", it, err)
		}
		var got Item
		if out.Item == nil {
			return fmt.Errorf("reading back %s: not found", it)
		}
		if err := attributevalue.UnmarshalMap(out.Item, &got); err != nil || got != it {
			return fmt.Errorf("reading back %s: the table holds %+v, want %+v", it, got, it)
		}
	}
	fmt.Fprintf(w, "%s read back\n", plural(len(items), "item"))
	return nil
}

func createTableInput(table, index string) *dynamodb.CreateTableInput {
	s := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	ks := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{s("PK"), s("SK"), s("PK1"), s("SK1")},
		KeySchema:            ks("PK", "SK"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(index),
			KeySchema:  ks("PK1", "SK1"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// SeedStack seeds the pooled table and the silo tables of c (SeedAll), and
// the bucket unless c.Bucket is "", with the app's own identity (the SDK
// default chain).
func SeedStack(ctx context.Context, c Config, w io.Writer) error {
	if c.Table == "" || c.Index == "" || c.Region == "" || !strings.Contains(c.SiloTable, "{tenant}") {
		return errors.New("table, index, region and a silo table with {tenant} are required")
	}
	awsCfg, err := c.AWSConfig(ctx)
	if err != nil {
		return err
	}
	if err := SeedAll(ctx, dynamodb.NewFromConfig(awsCfg), c, w, SeedOptions{}); err != nil || c.Bucket == "" {
		return err
	}
	return SeedS3(ctx, s3.NewFromConfig(awsCfg, S3Options(c)), c.Bucket, c.Region, w)
}
