package dynamo

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFixResponse(t *testing.T) {
	tests := map[string]struct {
		op, req, resp string
		want          string // "" = unchanged
	}{
		"DescribeTable from minidyn": {
			op: "DescribeTable", req: `{"TableName":"t"}`,
			resp: `{"Table":{"TableName":"t","TableStatus":"","TableArn":null,"ItemCount":0,"KeySchema":[{"AttributeName":"PK","KeyType":"HASH"}],` +
				`"GlobalSecondaryIndexes":[{"IndexName":"g","IndexArn":null,"IndexStatus":"","Projection":{"NonKeyAttributes":null,"ProjectionType":"ALL"}}],` +
				`"LocalSecondaryIndexes":[{"IndexName":"l","IndexArn":null}]}}`,
			want: `{"Table":{"GlobalSecondaryIndexes":[{"IndexArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t/index/g","IndexName":"g","IndexStatus":"ACTIVE","Projection":{"ProjectionType":"ALL"}}],` +
				`"ItemCount":0,"KeySchema":[{"AttributeName":"PK","KeyType":"HASH"}],` +
				`"LocalSecondaryIndexes":[{"IndexArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t/index/l","IndexName":"l"}],` +
				`"TableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t","TableName":"t","TableStatus":"ACTIVE"}}`,
		},
		"DescribeTable from a faithful backend": {
			op: "DescribeTable", req: `{"TableName":"t"}`,
			resp: `{"Table":{"TableName":"t","TableStatus":"CREATING","TableArn":"arn:aws:dynamodb:eu-west-1:000000000000:table/t",` +
				`"GlobalSecondaryIndexes":[{"IndexName":"g","IndexArn":"arn:x","IndexStatus":"CREATING","Projection":{"ProjectionType":"ALL"}}]}}`,
		},
		"CreateTable": {
			op: "CreateTable", req: `{"TableName":"t"}`,
			resp: `{"TableDescription":{"TableName":"t"}}`,
			want: `{"TableDescription":{"TableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t","TableName":"t","TableStatus":"ACTIVE"}}`,
		},
		"DeleteTable": {
			op: "DeleteTable", req: `{"TableName":"t"}`,
			resp: `{"TableDescription":{"TableName":"t","TableStatus":""}}`,
			want: `{"TableDescription":{"TableArn":"arn:aws:dynamodb:us-east-1:123456789012:table/t","TableName":"t","TableStatus":"DELETING"}}`,
		},
		"empty Query": {
			op: "Query", req: `{}`, resp: `{}`,
			want: `{"Count":0,"Items":[],"ScannedCount":0}`,
		},
		"Query without ScannedCount": {
			op: "Query", req: `{}`, resp: `{"Items":[{"a":{"S":"<&>"}}],"Count":1}`,
			want: `{"Count":1,"Items":[{"a":{"S":"<&>"}}],"ScannedCount":1}`,
		},
		"faithful Scan": {
			op: "Scan", req: `{}`, resp: `{"Items":[],"Count":0,"ScannedCount":7}`,
		},
		"BatchGetItem": {
			op: "BatchGetItem", req: `{}`, resp: `{"Responses":{"t":[]}}`,
			want: `{"Responses":{"t":[]},"UnprocessedKeys":{}}`,
		},
		"BatchWriteItem": {
			op: "BatchWriteItem", req: `{}`, resp: `{}`,
			want: `{"UnprocessedItems":{}}`,
		},
		"PutItem ReturnValues NONE": {
			op: "PutItem", req: `{"TableName":"t","Item":{}}`, resp: `{"Attributes":{"a":{"S":"b"}}}`,
			want: `{}`,
		},
		"PutItem ReturnValues ALL_OLD": {
			op: "PutItem", req: `{"TableName":"t","ReturnValues":"ALL_OLD"}`, resp: `{"Attributes":{"a":{"S":"b"}}}`,
		},
		"DeleteItem explicit NONE": {
			op: "DeleteItem", req: `{"ReturnValues":"NONE"}`, resp: `{"Attributes":{"a":{"S":"b"}},"ConsumedCapacity":{"TableName":"t"}}`,
			want: `{"ConsumedCapacity":{"TableName":"t"}}`,
		},
		"GetItem untouched": {
			op: "GetItem", req: `{}`, resp: `{}`,
		},
		"not JSON": {
			op: "Query", req: `{}`, resp: `not json`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := parseObject([]byte(tc.req), true)
			if err != nil {
				t.Fatal(err)
			}
			got, changed := fixResponse(tc.op, req, []byte(tc.resp), testRegion, testAccount)
			if tc.want == "" {
				if changed {
					t.Errorf("changed a response that needs no fix: %s", got)
				}
				return
			}
			if !changed {
				t.Fatalf("response not fixed")
			}
			var w, g any
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("fixed body %q: %v", got, err)
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("fixed body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFixResponseKeepsBackendBytes: a fix adds or removes members and
// leaves every other member's bytes as the backend wrote them (no
// re-encoding: no HTML escaping, numbers and order as written).
func TestFixResponseKeepsBackendBytes(t *testing.T) {
	tests := []struct {
		name, op, req, resp, want string
	}{
		{"Query", "Query", `{}`, `{"Items":[{"a":{"S":"<&>"},"n":{"N":"1.50"}}],"Count":1}`,
			`{"Items":[{"a":{"S":"<&>"},"n":{"N":"1.50"}}],"Count":1,"ScannedCount":1}`},
		{"Scan with a null Items", "Scan", `{}`, `{"Count":0, "Items":null}`, `{"Count":0,"Items":[],"ScannedCount":0}`},
		{"DeleteItem", "DeleteItem", `{}`, `{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0},"Attributes":{"a":{"S":"b"}}}`,
			`{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}`},
		{"a name to escape", "BatchWriteItem", `{}`, `{"x\"\u00e9":1}`, `{"x\"é":1,"UnprocessedItems":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseObject([]byte(tc.req), true)
			if err != nil {
				t.Fatal(err)
			}
			got, changed := fixResponse(tc.op, req, []byte(tc.resp), testRegion, testAccount)
			if !changed || string(got) != tc.want {
				t.Errorf("fixResponse = %s, %v; want %s", got, changed, tc.want)
			}
		})
	}
}
