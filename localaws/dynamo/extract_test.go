package dynamo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	demoARN     = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
)

// demoSchemas is the demo table of layout.md plus an LSI, and a table with
// a numeric partition key and no sort key.
var demoSchemas = map[string]*TableSchema{
	"tvm-demo": {
		KeySchema: KeySchema{PartitionKey: "PK", SortKey: "SK"},
		Indexes: map[string]KeySchema{
			"gsi": {PartitionKey: "PK1", SortKey: "SK1"},
			"lsi": {PartitionKey: "PK", SortKey: "LSK"},
		},
	},
	"numbers": {KeySchema: KeySchema{PartitionKey: "id"}},
	"blobs":   {KeySchema: KeySchema{PartitionKey: "bin"}},
}

func demoLookup(table string) (*TableSchema, error) { return demoSchemas[table], nil }

// kv builds a context map from key, values... pairs; a nil slice is skipped.
func kv(pairs ...any) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i].(string)] = pairs[i+1].([]string)
	}
	return m
}

func vs(v ...string) []string { return v }

func TestExtract(t *testing.T) {
	read := func(lk ...string) map[string][]string {
		return kv(KeyLeadingKeys, lk, KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"))
	}
	tests := map[string]struct {
		op   string
		body string
		want []Check
	}{
		"GetItem": {
			op:   "GetItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"}}}`,
			want: []Check{{"dynamodb:GetItem", demoARN, read("Tenant#1")}},
		},
		"GetItem key order and extra members do not matter": {
			op:   "GetItem",
			body: ` { "ConsistentRead" : true, "Key" : {"SK":{"S":"Item#1"}, "PK":{"S":"Tenant#1"}}, "TableName" : "tvm-demo" } `,
			want: []Check{{"dynamodb:GetItem", demoARN, read("Tenant#1")}},
		},
		"GetItem projection expression": {
			op: "GetItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"}},` +
				`"ProjectionExpression":"#p, SK ,info.nested[0], #p, tags[1]","ExpressionAttributeNames":{"#p":"PK"},"ReturnConsumedCapacity":"TOTAL"}`,
			want: []Check{{"dynamodb:GetItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeySelect, vs("SPECIFIC_ATTRIBUTES"),
				KeyAttributes, vs("PK", "SK", "info", "tags"), KeyReturnConsumedCapacity, vs("TOTAL"))}},
		},
		"GetItem AttributesToGet": {
			op:   "GetItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"Item#1"}},"AttributesToGet":["PK","data"]}`,
			want: []Check{{"dynamodb:GetItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeySelect, vs("SPECIFIC_ATTRIBUTES"),
				KeyAttributes, vs("PK", "data"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"GetItem numeric key is the number's text": {
			op:   "GetItem",
			body: `{"TableName":"numbers","Key":{"id":{"N":"-12.50"}}}`,
			want: []Check{{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/numbers", read("-12.50")}},
		},
		"GetItem binary key is base64 text": {
			op:   "GetItem",
			body: `{"TableName":"blobs","Key":{"bin":{"B":"VGVuYW50IzE="}}}`,
			want: []Check{{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/blobs", read("VGVuYW50IzE=")}},
		},
		"GetItem unknown table carries no LeadingKeys": {
			op:   "GetItem",
			body: `{"TableName":"nope","Key":{"PK":{"S":"Tenant#1"}}}`,
			want: []Check{{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/nope",
				kv(KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"PutItem": {
			op:   "PutItem",
			body: `{"TableName":"tvm-demo","Item":{"PK":{"S":"Tenant#2"},"SK":{"S":"x"},"data":{"M":{"a":{"S":"b"}}}},"ReturnValues":"ALL_OLD"}`,
			want: []Check{{"dynamodb:PutItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#2"), KeyAttributes, vs("PK", "SK", "data"),
				KeyReturnValues, vs("ALL_OLD"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"UpdateItem": {
			op: "UpdateItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"x"}},"UpdateExpression":"SET #a = :v",` +
				`"ExpressionAttributeNames":{"#a":"a"},"ExpressionAttributeValues":{":v":{"S":"1"}}}`,
			want: []Check{{"dynamodb:UpdateItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeyReturnValues, vs("NONE"),
				KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"UpdateItem legacy AttributeUpdates": {
			op:   "UpdateItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"x"}},"AttributeUpdates":{"b":{"Action":"DELETE"},"a":{"Value":{"S":"1"}}},"ReturnValues":"UPDATED_NEW"}`,
			want: []Check{{"dynamodb:UpdateItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeyAttributes, vs("a", "b"),
				KeyReturnValues, vs("UPDATED_NEW"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"DeleteItem": {
			op:   "DeleteItem",
			body: `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#2"},"SK":{"S":"x"}}}`,
			want: []Check{{"dynamodb:DeleteItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#2"), KeyReturnValues, vs("NONE"),
				KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"Query table": {
			op:   "Query",
			body: `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :pk","ExpressionAttributeValues":{":pk":{"S":"Tenant#1"}}}`,
			want: []Check{{"dynamodb:Query", demoARN, read("Tenant#1")}},
		},
		"Query GSI uses the index partition key and the index ARN": {
			// The seed's Item#3: table PK Tenant#2, PK1 Tenant#1. Through the
			// index it is tenant 1's: LeadingKeys holds the index key value.
			op:   "Query",
			body: `{"TableName":"tvm-demo","IndexName":"gsi","KeyConditionExpression":"PK1 = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}}}`,
			want: []Check{{"dynamodb:Query", demoARN + "/index/gsi", read("Tenant#1")}},
		},
		"Query LSI uses the table partition key": {
			op:   "Query",
			body: `{"TableName":"tvm-demo","IndexName":"lsi","KeyConditionExpression":"PK = :v AND LSK > :s","ExpressionAttributeValues":{":v":{"S":"Tenant#1"},":s":{"S":"a"}}}`,
			want: []Check{{"dynamodb:Query", demoARN + "/index/lsi", read("Tenant#1")}},
		},
		"Query unknown index carries no LeadingKeys": {
			op:   "Query",
			body: `{"TableName":"tvm-demo","IndexName":"nope","KeyConditionExpression":"PK1 = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}}}`,
			want: []Check{{"dynamodb:Query", demoARN + "/index/nope", kv(KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"Query placeholders whitespace parentheses begins_with": {
			op: "Query",
			body: `{"TableName":"tvm-demo","KeyConditionExpression":"  ( #k=:v )\n\tAND\t(begins_with ( #s , :p ))",` +
				`"ExpressionAttributeNames":{"#k":"PK","#s":"SK"},"ExpressionAttributeValues":{":v":{"S":"Tenant#1"},":p":{"S":"Item"}}}`,
			want: []Check{{"dynamodb:Query", demoARN, read("Tenant#1")}},
		},
		"Query sort condition first with BETWEEN": {
			op: "Query",
			body: `{"TableName":"tvm-demo","KeyConditionExpression":"SK between :a and :b and PK = :v",` +
				`"ExpressionAttributeValues":{":v":{"S":"Tenant#1"},":a":{"S":"a"},":b":{"S":"z"}}}`,
			want: []Check{{"dynamodb:Query", demoARN, read("Tenant#1")}},
		},
		"Query value on the left": {
			op:   "Query",
			body: `{"TableName":"tvm-demo","KeyConditionExpression":":v = PK AND :s <= SK","ExpressionAttributeValues":{":v":{"S":"Tenant#1"},":s":{"S":"a"}}}`,
			want: []Check{{"dynamodb:Query", demoARN, read("Tenant#1")}},
		},
		"Query legacy KeyConditions": {
			op: "Query",
			body: `{"TableName":"tvm-demo","KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"Tenant#1"}]},` +
				`"SK":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"Item"}]}}}`,
			want: []Check{{"dynamodb:Query", demoARN, read("Tenant#1")}},
		},
		"Query legacy KeyConditions on GSI": {
			op:   "Query",
			body: `{"TableName":"tvm-demo","IndexName":"gsi","KeyConditions":{"PK1":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"Tenant#1"}]}}}`,
			want: []Check{{"dynamodb:Query", demoARN + "/index/gsi", read("Tenant#1")}},
		},
		"Query Select and projection": {
			op: "Query",
			body: `{"TableName":"tvm-demo","Select":"COUNT","KeyConditionExpression":"PK = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}},` +
				`"ReturnConsumedCapacity":"INDEXES"}`,
			want: []Check{{"dynamodb:Query", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeySelect, vs("COUNT"), KeyReturnConsumedCapacity, vs("INDEXES"))}},
		},
		"Scan has no LeadingKeys": {
			op:   "Scan",
			body: `{"TableName":"tvm-demo"}`,
			want: []Check{{"dynamodb:Scan", demoARN, kv(KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"Scan index with projection": {
			op:   "Scan",
			body: `{"TableName":"tvm-demo","IndexName":"gsi","ProjectionExpression":"PK1"}`,
			want: []Check{{"dynamodb:Scan", demoARN + "/index/gsi", kv(KeySelect, vs("SPECIFIC_ATTRIBUTES"), KeyAttributes, vs("PK1"),
				KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"BatchGetItem mixed tenants, one check per table": {
			op: "BatchGetItem",
			body: `{"RequestItems":{"tvm-demo":{"Keys":[{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}},{"PK":{"S":"Tenant#2"},"SK":{"S":"b"}},{"PK":{"S":"Tenant#1"},"SK":{"S":"c"}}]},` +
				`"numbers":{"Keys":[{"id":{"N":"7"}}],"ProjectionExpression":"id"}}}`,
			want: []Check{
				{"dynamodb:BatchGetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/numbers", kv(KeyLeadingKeys, vs("7"),
					KeySelect, vs("SPECIFIC_ATTRIBUTES"), KeyAttributes, vs("id"), KeyReturnConsumedCapacity, vs("NONE"))},
				{"dynamodb:BatchGetItem", demoARN, read("Tenant#1", "Tenant#2")},
			},
		},
		"BatchWriteItem puts and deletes": {
			op: "BatchWriteItem",
			body: `{"RequestItems":{"tvm-demo":[{"PutRequest":{"Item":{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}}}},` +
				`{"DeleteRequest":{"Key":{"PK":{"S":"Tenant#3"},"SK":{"S":"b"}}}}]}}`,
			want: []Check{{"dynamodb:BatchWriteItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1", "Tenant#3"), KeyReturnConsumedCapacity, vs("NONE"))}},
		},
		"TransactWriteItems: one check per member": {
			op: "TransactWriteItems",
			body: `{"TransactItems":[` +
				`{"Put":{"TableName":"tvm-demo","Item":{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}}}},` +
				`{"Update":{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#2"},"SK":{"S":"a"}},"UpdateExpression":"SET a = :a","ExpressionAttributeValues":{":a":{"S":"x"}}}},` +
				`{"Delete":{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#3"},"SK":{"S":"a"}}}},` +
				`{"ConditionCheck":{"TableName":"numbers","Key":{"id":{"N":"1"}},"ConditionExpression":"attribute_exists(id)"}}]}`,
			want: []Check{
				{"dynamodb:PutItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeyReturnValues, vs("NONE"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactWriteItems"))},
				{"dynamodb:UpdateItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#2"), KeyReturnValues, vs("NONE"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactWriteItems"))},
				{"dynamodb:DeleteItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#3"), KeyReturnValues, vs("NONE"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactWriteItems"))},
				{"dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/numbers", kv(KeyLeadingKeys, vs("1"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactWriteItems"))},
			},
		},
		"TransactGetItems": {
			op:   "TransactGetItems",
			body: `{"TransactItems":[{"Get":{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}}}},{"Get":{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#2"},"SK":{"S":"a"}}}}]}`,
			want: []Check{
				{"dynamodb:GetItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#1"), KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactGetItems"))},
				{"dynamodb:GetItem", demoARN, kv(KeyLeadingKeys, vs("Tenant#2"), KeySelect, vs("ALL_ATTRIBUTES"), KeyReturnConsumedCapacity, vs("NONE"), KeyEnclosingOperation, vs("TransactGetItems"))},
			},
		},
		"CreateTable": {
			op:   "CreateTable",
			body: `{"TableName":"new-table","KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}]}`,
			want: []Check{{"dynamodb:CreateTable", "arn:aws:dynamodb:us-east-1:123456789012:table/new-table", map[string][]string{}}},
		},
		"DescribeTable": {
			op:   "DescribeTable",
			body: `{"TableName":"tvm-demo"}`,
			want: []Check{{"dynamodb:DescribeTable", demoARN, map[string][]string{}}},
		},
		"DeleteTable": {
			op:   "DeleteTable",
			body: `{"TableName":"tvm-demo"}`,
			want: []Check{{"dynamodb:DeleteTable", demoARN, map[string][]string{}}},
		},
		"UpdateTable": {
			op:   "UpdateTable",
			body: `{"TableName":"tvm-demo","BillingMode":"PAY_PER_REQUEST"}`,
			want: []Check{{"dynamodb:UpdateTable", demoARN, map[string][]string{}}},
		},
		"ListTables": {
			op:   "ListTables",
			body: `{}`,
			want: []Check{{"dynamodb:ListTables", "*", map[string][]string{}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Extract(tc.op, []byte(tc.body), testRegion, testAccount, demoLookup)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractCreateTableNeedsNoSchema(t *testing.T) {
	failing := func(string) (*TableSchema, error) {
		t.Fatal("lookup called for CreateTable")
		return nil, nil
	}
	if _, err := Extract("CreateTable", []byte(`{"TableName":"brand-new"}`), testRegion, testAccount, failing); err != nil {
		t.Fatal(err)
	}
}

func TestExtractErrors(t *testing.T) {
	tests := map[string]struct {
		op, body string
		code     string
		message  string // "" = any
	}{
		"unknown operation":           {"Frobnicate", `{}`, CodeUnknownOperation, ""},
		"PartiQL is not authorized":   {"ExecuteStatement", `{"Statement":"SELECT * FROM t"}`, CodeUnknownOperation, ""},
		"malformed JSON":              {"GetItem", `{"TableName":`, CodeSerialization, ""},
		"not an object":               {"GetItem", `[1]`, CodeSerialization, ""},
		"trailing data":               {"GetItem", `{"TableName":"tvm-demo"} {}`, CodeSerialization, ""},
		"TableName not a string":      {"GetItem", `{"TableName":12,"Key":{}}`, CodeSerialization, ""},
		"duplicate member":            {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"}},"Key":{"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"members differing in case":   {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"}},"key":{"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"member in another case":      {"GetItem", `{"TableName":"tvm-demo","key":{"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"Kelvin sign folds to k":      {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"}},"` + "\u212A" + `ey":{"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"Kelvin sign alone":           {"GetItem", `{"TableName":"tvm-demo","` + "\u212A" + `ey":{"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"IndexName in another case":   {"Query", `{"TableName":"tvm-demo","indexName":"gsi","KeyConditionExpression":"PK = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}}}`, CodeSerialization, ""},
		"attribute value type case":   {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1","s":"Tenant#2"}}}`, CodeSerialization, ""},
		"duplicate key attribute":     {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"PK":{"S":"Tenant#2"}}}`, CodeSerialization, ""},
		"missing TableName":           {"GetItem", `{"Key":{"PK":{"S":"Tenant#1"}}}`, CodeValidation, ""},
		"table name with a slash":     {"GetItem", `{"TableName":"tvm-demo/index/gsi","Key":{"PK":{"S":"Tenant#1"}}}`, CodeValidation, ""},
		"table name with a wildcard":  {"Scan", `{"TableName":"tvm-*"}`, CodeValidation, ""},
		"index name with a slash":     {"Query", `{"TableName":"tvm-demo","IndexName":"a/b","KeyConditionExpression":"PK = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"missing Key":                 {"GetItem", `{"TableName":"tvm-demo"}`, CodeValidation, ""},
		"missing partition key":       {"GetItem", `{"TableName":"tvm-demo","Key":{"SK":{"S":"x"}}}`, CodeValidation, "The provided key element does not match the schema"},
		"partition key wrong case":    {"GetItem", `{"TableName":"tvm-demo","Key":{"pk":{"S":"Tenant#1"},"SK":{"S":"x"}}}`, CodeValidation, "The provided key element does not match the schema"},
		"key with two types":          {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1","N":"1"}}}`, CodeValidation, ""},
		"key of a non-key type":       {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"L":[]}}}`, CodeValidation, ""},
		"empty string key":            {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":""}}}`, CodeValidation, ""},
		"bad base64 key":              {"GetItem", `{"TableName":"blobs","Key":{"bin":{"B":"***"}}}`, CodeSerialization, ""},
		"PutItem without pk":          {"PutItem", `{"TableName":"tvm-demo","Item":{"SK":{"S":"x"}}}`, CodeValidation, ""},
		"Query without key condition": {"Query", `{"TableName":"tvm-demo"}`, CodeValidation, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."},
		"Query both key conditions": {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v","ExpressionAttributeValues":{":v":{"S":"x"}},` +
			`"KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"y"}]}}}`, CodeValidation, ""},
		"Query pk inequality":                          {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK > :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, "Query key condition not supported"},
		"Query pk begins_with":                         {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"begins_with(PK, :v)","ExpressionAttributeValues":{":v":{"S":"Tenant"}}}`, CodeValidation, "Query key condition not supported"},
		"Query pk BETWEEN":                             {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK BETWEEN :a AND :b","ExpressionAttributeValues":{":a":{"S":"A"},":b":{"S":"Z"}}}`, CodeValidation, "Query key condition not supported"},
		"Query sort key only":                          {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"SK = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, "Query condition missed key schema element: PK"},
		"Query key name is case-sensitive":             {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"pk = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, "Query key condition not supported"},
		"Query table key on GSI":                       {"Query", `{"TableName":"tvm-demo","IndexName":"gsi","KeyConditionExpression":"PK = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#2"}}}`, CodeValidation, "Query key condition not supported"},
		"Query non-key attribute":                      {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v AND data = :d","ExpressionAttributeValues":{":v":{"S":"x"},":d":{"S":"y"}}}`, CodeValidation, "Query key condition not supported"},
		"Query two pk conditions":                      {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :a AND PK = :b","ExpressionAttributeValues":{":a":{"S":"Tenant#1"},":b":{"S":"Tenant#2"}}}`, CodeValidation, "KeyConditionExpressions must only contain one condition per key"},
		"Query pk via name and placeholder twice":      {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"#p = :a AND PK = :b","ExpressionAttributeNames":{"#p":"PK"},"ExpressionAttributeValues":{":a":{"S":"Tenant#1"},":b":{"S":"Tenant#2"}}}`, CodeValidation, "KeyConditionExpressions must only contain one condition per key"},
		"Query OR":                                     {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :a OR PK = :b","ExpressionAttributeValues":{":a":{"S":"Tenant#1"},":b":{"S":"Tenant#2"}}}`, CodeValidation, "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"},
		"Query NOT":                                    {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"NOT PK = :a","ExpressionAttributeValues":{":a":{"S":"Tenant#1"}}}`, CodeValidation, ""},
		"Query IN":                                     {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK IN (:a, :b)","ExpressionAttributeValues":{":a":{"S":"Tenant#1"},":b":{"S":"Tenant#2"}}}`, CodeValidation, ""},
		"Query undefined value":                        {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v"}`, CodeValidation, "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"},
		"Query undefined value unknown table":          {"Query", `{"TableName":"nope","KeyConditionExpression":"PK = :v"}`, CodeValidation, ""},
		"Query undefined name":                         {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"#k = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query unbalanced paren":                       {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"(PK = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query value = value":                          {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":":v = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query <>":                                     {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK <> :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query nested path":                            {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK.x = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query three conditions":                       {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v AND SK > :a AND SK < :b","ExpressionAttributeValues":{":v":{"S":"x"},":a":{"S":"a"},":b":{"S":"b"}}}`, CodeValidation, ""},
		"Query empty expression":                       {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"   "}`, CodeValidation, ""},
		"Query Begins_With":                            {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v AND Begins_With(SK, :v)","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query other function":                         {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v AND contains(SK, :v)","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"Query reserved word as name":                  {"Query", `{"TableName":"tvm-demo","KeyConditionExpression":"and = :v","ExpressionAttributeValues":{":v":{"S":"x"}}}`, CodeValidation, ""},
		"legacy pk BEGINS_WITH":                        {"Query", `{"TableName":"tvm-demo","KeyConditions":{"PK":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"Tenant"}]}}}`, CodeValidation, "Query key condition not supported"},
		"legacy pk two values":                         {"Query", `{"TableName":"tvm-demo","KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"Tenant#1"},{"S":"Tenant#2"}]}}}`, CodeValidation, ""},
		"legacy sort key only":                         {"Query", `{"TableName":"tvm-demo","KeyConditions":{"SK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"a"}]}}}`, CodeValidation, "Query condition missed key schema element: PK"},
		"legacy operator case":                         {"Query", `{"TableName":"tvm-demo","KeyConditions":{"PK":{"comparisonOperator":"EQ","AttributeValueList":[{"S":"a"}]}}}`, CodeSerialization, ""},
		"BatchGetItem empty":                           {"BatchGetItem", `{"RequestItems":{}}`, CodeValidation, ""},
		"BatchGetItem no keys":                         {"BatchGetItem", `{"RequestItems":{"tvm-demo":{"Keys":[]}}}`, CodeValidation, ""},
		"BatchGetItem key without pk":                  {"BatchGetItem", `{"RequestItems":{"tvm-demo":{"Keys":[{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}},{"SK":{"S":"b"}}]}}}`, CodeValidation, ""},
		"BatchGetItem bad table name":                  {"BatchGetItem", `{"RequestItems":{"a:b":{"Keys":[{"PK":{"S":"x"}}]}}}`, CodeValidation, ""},
		"BatchWriteItem put and delete in one request": {"BatchWriteItem", `{"RequestItems":{"tvm-demo":[{"PutRequest":{"Item":{"PK":{"S":"a"}}},"DeleteRequest":{"Key":{"PK":{"S":"b"}}}}]}}`, CodeValidation, ""},
		"BatchWriteItem empty request":                 {"BatchWriteItem", `{"RequestItems":{"tvm-demo":[{}]}}`, CodeValidation, ""},
		"TransactWriteItems two actions in a member":   {"TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"tvm-demo","Item":{"PK":{"S":"a"}}},"Delete":{"TableName":"tvm-demo","Key":{"PK":{"S":"b"}}}}]}`, CodeValidation, ""},
		"TransactWriteItems unknown member":            {"TransactWriteItems", `{"TransactItems":[{"Frob":{}}]}`, CodeValidation, ""},
		"TransactGetItems empty":                       {"TransactGetItems", `{"TransactItems":[]}`, CodeValidation, ""},
		"projection undefined name":                    {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"x"}},"ProjectionExpression":"#a"}`, CodeValidation, ""},
		"projection empty element":                     {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"x"}},"ProjectionExpression":"a,,b"}`, CodeValidation, ""},
		"projection and AttributesToGet":               {"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"x"}},"ProjectionExpression":"a","AttributesToGet":["a"]}`, CodeValidation, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Extract(tc.op, []byte(tc.body), testRegion, testAccount, demoLookup)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Extract error = %v, want an *APIError %s", err, tc.code)
			}
			if apiErr.Code != tc.code || apiErr.Status != 400 {
				t.Errorf("error = %d %s (%s), want 400 %s", apiErr.Status, apiErr.Code, apiErr.Message, tc.code)
			}
			if tc.message != "" && apiErr.Message != tc.message {
				t.Errorf("message = %q, want %q", apiErr.Message, tc.message)
			}
		})
	}
}

func TestExtractLookupError(t *testing.T) {
	boom := &APIError{Status: 500, Code: CodeInternalServer, Message: "Internal server error"}
	_, err := Extract("GetItem", []byte(`{"TableName":"tvm-demo","Key":{"PK":{"S":"x"}}}`), testRegion, testAccount,
		func(string) (*TableSchema, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the lookup's error", err)
	}
}

func TestOperations(t *testing.T) {
	want := []string{"BatchGetItem", "BatchWriteItem", "CreateTable", "DeleteItem", "DeleteTable", "DescribeLimits",
		"DescribeTable", "DescribeTimeToLive", "GetItem", "ListTables", "PutItem", "Query", "Scan",
		"TransactGetItems", "TransactWriteItems", "UpdateItem", "UpdateTable", "UpdateTimeToLive"}
	if diff := cmp.Diff(want, Operations()); diff != "" {
		t.Errorf("Operations (-want +got):\n%s", diff)
	}
}

// FuzzExtract checks that Extract never panics and always answers either
// checks or an *APIError.
func FuzzExtract(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"GetItem", `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}}}`},
		{"Query", `{"TableName":"tvm-demo","IndexName":"gsi","KeyConditionExpression":"PK1 = :v","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}}}`},
		{"Query", `{"TableName":"tvm-demo","KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"x"}]}}}`},
		{"BatchGetItem", `{"RequestItems":{"tvm-demo":{"Keys":[{"PK":{"S":"a"}}],"ProjectionExpression":"#a.b[1]","ExpressionAttributeNames":{"#a":"x"}}}}`},
		{"BatchWriteItem", `{"RequestItems":{"tvm-demo":[{"DeleteRequest":{"Key":{"PK":{"B":"AAEC"}}}}]}}`},
		{"TransactWriteItems", `{"TransactItems":[{"ConditionCheck":{"TableName":"numbers","Key":{"id":{"N":"1"}}}}]}`},
		{"Scan", `{"TableName":"tvm-demo","Select":"COUNT"}`},
		{"PutItem", `{"TableName":"tvm-demo","Item":null}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body)
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		checks, err := Extract(op, []byte(body), testRegion, testAccount, demoLookup)
		if err != nil {
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			return
		}
		if len(checks) == 0 {
			t.Fatalf("no checks and no error for %s %s", op, body)
		}
		for _, c := range checks {
			if c.Action == "" || c.Resource == "" || c.Context == nil {
				t.Fatalf("incomplete check %+v", c)
			}
		}
	})
}

// namePattern is DynamoDB's documented pattern for table and index names,
// the reference isName must agree with.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func FuzzIsName(f *testing.F) {
	for _, s := range []string{"", "ab", "abc", "tvm-demo", "a.b_c-D9", "a/b", "tvm-*", "a:b", "é12", strings.Repeat("a", 255), strings.Repeat("a", 256), "abc\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isName(s), namePattern.MatchString(s); got != want {
			t.Fatalf("isName(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

// TestDedupe: dedupe (projected names, leading keys) keeps the first of
// each value, in order. It searched its output for every value, so one
// request of a few megabytes (200k projected names, far below
// DefaultMaxBodyBytes) kept a core busy for minutes before authorization;
// BenchmarkDedupe measures it (no test asserts a time; such lists are now
// also bounded by DynamoDB's limits: TestExtractItemLimits).
func TestDedupe(t *testing.T) {
	for name, tc := range map[string]struct{ in, want []string }{
		"empty":         {nil, nil},
		"no repeats":    {[]string{"a", "b"}, []string{"a", "b"}},
		"repeats":       {[]string{"b", "a", "b", "c", "a"}, []string{"b", "a", "c"}},
		"case differs":  {[]string{"A", "a"}, []string{"A", "a"}},
		"empty strings": {[]string{"", "", "x"}, []string{"", "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := dedupe(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("dedupe(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// BenchmarkDedupe: 2n values, each twice; ns/op grows linearly with n.
func BenchmarkDedupe(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		in := make([]string, 0, 2*n)
		for i := range n {
			in = append(in, fmt.Sprintf("a%d", i))
		}
		in = append(in, in...)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if out := dedupe(slices.Clone(in)); len(out) != n {
					b.Fatalf("kept %d of %d", len(out), n)
				}
			}
		})
	}
}

// TestExtractItemLimits holds batches, transactions, AttributesToGet and
// expressions to DynamoDB's limits, refused before they are split: the
// gateway parsed every item of any number first, so a 15 MB BatchGetItem
// of empty keys cost it about 2 GB of allocations (over 1 GB live), and a
// 15 MB AttributesToGet about 800 MB, before authorization.
func TestExtractItemLimits(t *testing.T) {
	repeat := func(n int, format string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(format, i)
		}
		return strings.Join(parts, ",")
	}
	getKeys := func(n int) string {
		return `{"RequestItems":{"tvm-demo":{"Keys":[` + repeat(n, `{"PK":{"S":"T%d"},"SK":{"S":"a"}}`) + `]}}}`
	}
	writes := func(n int) string {
		return `{"RequestItems":{"tvm-demo":[` + repeat(n, `{"DeleteRequest":{"Key":{"PK":{"S":"T%d"},"SK":{"S":"a"}}}}`) + `]}}`
	}
	transact := func(n int) string {
		return `{"TransactItems":[` + repeat(n, `{"Get":{"TableName":"tvm-demo","Key":{"PK":{"S":"T%d"},"SK":{"S":"a"}}}}`) + `]}`
	}
	getKey := `{"TableName":"tvm-demo","Key":{"PK":{"S":"Tenant#1"},"SK":{"S":"a"}},`
	getAttrs := func(n int) string { return getKey + `"AttributesToGet":[` + repeat(n, `"a%d"`) + `]}` }
	getProj := func(size int) string { // names a0,a1,... padded with spaces to size bytes
		p := repeat(100, "a%d")
		return getKey + `"ProjectionExpression":"` + p + strings.Repeat(" ", size-len(p)) + `"}`
	}
	manyTables := func(n int, item string) string {
		return `{"RequestItems":{` + repeat(n, `"t%03d":`+item) + `}}`
	}
	for _, c := range []struct {
		name, op, body, wantErr string
	}{
		{"BatchGetItem 100 keys", "BatchGetItem", getKeys(100), ""},
		{"BatchGetItem 101 keys", "BatchGetItem", getKeys(101), "Too many items requested for the BatchGetItem call"},
		{"BatchGetItem 1M empty keys", "BatchGetItem", `{"RequestItems":{"tvm-demo":{"Keys":[` + strings.Repeat(`{},`, 1<<20) + `{}]}}}`,
			"Too many items requested for the BatchGetItem call"},
		{"BatchGetItem 101 tables", "BatchGetItem", manyTables(101, `{"Keys":[{"PK":{"S":"a"}}]}`), "Too many items requested for the BatchGetItem call"},
		{"BatchGetItem 60 + 41 keys", "BatchGetItem", `{"RequestItems":{"tvm-demo":{"Keys":[` + repeat(60, `{"PK":{"S":"T%d"},"SK":{"S":"a"}}`) +
			`]},"zzz":{"Keys":[` + repeat(41, `{"id":{"N":"%d"}}`) + `]}}}`, "Too many items requested for the BatchGetItem call"},
		{"BatchWriteItem 25 writes", "BatchWriteItem", writes(25), ""},
		{"BatchWriteItem 26 writes", "BatchWriteItem", writes(26), "Too many items requested for the BatchWriteItem call"},
		{"BatchWriteItem 26 tables", "BatchWriteItem", manyTables(26, `[{"DeleteRequest":{"Key":{"PK":{"S":"a"}}}}]`),
			"Too many items requested for the BatchWriteItem call"},
		{"TransactGetItems 100 items", "TransactGetItems", transact(100), ""},
		{"TransactGetItems 101 items", "TransactGetItems", transact(101), "Member must have length less than or equal to 100"},
		{"AttributesToGet 255 names", "GetItem", getAttrs(255), ""},
		{"AttributesToGet 256 names", "GetItem", getAttrs(256), "Member must have length less than or equal to 255"},
		{"AttributesToGet 1M names", "GetItem", getAttrs(1 << 20), "Member must have length less than or equal to 255"},
		{"ProjectionExpression 4 KB", "GetItem", getProj(4096), ""},
		{"ProjectionExpression over 4 KB", "GetItem", getProj(4097), "Expression size has exceeded the maximum allowed size; expression size: 4097"},
		{"KeyConditionExpression over 4 KB", "Query", `{"TableName":"tvm-demo","KeyConditionExpression":"PK = :v` + strings.Repeat(" ", 4096) +
			`","ExpressionAttributeValues":{":v":{"S":"Tenant#1"}}}`, "Invalid KeyConditionExpression: Expression size has exceeded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Extract(c.op, []byte(c.body), testRegion, testAccount, demoLookup)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Extract: %v", err)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != CodeValidation || !strings.Contains(apiErr.Message, c.wantErr) {
				t.Fatalf("Extract error = %v, want ValidationException %q", err, c.wantErr)
			}
		})
	}
}
