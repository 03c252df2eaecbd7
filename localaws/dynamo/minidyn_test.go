package dynamo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func backendCall(t *testing.T, h http.Handler, op, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", TargetPrefix+op)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestMinidynListTables(t *testing.T) {
	b := NewMinidynBackend()
	for _, name := range []string{"ccc", "aaa", "bbb", "ddd"} {
		body := fmt.Sprintf(`{"TableName":%q,"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],`+
			`"KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}`, name)
		if code, out := backendCall(t, b, "CreateTable", body); code != 200 {
			t.Fatalf("CreateTable %s: %d %s", name, code, out)
		}
	}
	if code, out := backendCall(t, b, "CreateTable", `{"TableName":"aaa","KeySchema":[{"AttributeName":"k","KeyType":"HASH"}]}`); code == 200 {
		t.Fatalf("duplicate CreateTable succeeded: %s", out)
	}
	if code, out := backendCall(t, b, "DeleteTable", `{"TableName":"ddd"}`); code != 200 {
		t.Fatalf("DeleteTable: %d %s", code, out)
	}
	tests := map[string]struct {
		body string
		code int
		want string
	}{
		"all":          {`{}`, 200, `{"TableNames":["aaa","bbb","ccc"]}`},
		"empty body":   {``, 200, `{"TableNames":["aaa","bbb","ccc"]}`},
		"first page":   {`{"Limit":2}`, 200, `{"TableNames":["aaa","bbb"],"LastEvaluatedTableName":"bbb"}`},
		"second page":  {`{"Limit":2,"ExclusiveStartTableName":"bbb"}`, 200, `{"TableNames":["ccc"]}`},
		"exact page":   {`{"Limit":3}`, 200, `{"TableNames":["aaa","bbb","ccc"]}`},
		"past the end": {`{"ExclusiveStartTableName":"zzz"}`, 200, `{"TableNames":[]}`},
		"limit 0":      {`{"Limit":0}`, 400, ""},
		"limit 101":    {`{"Limit":101}`, 400, ""},
		"bad JSON":     {`{"Limit":"x"}`, 400, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, out := backendCall(t, b, "ListTables", tc.body)
			if code != tc.code {
				t.Fatalf("status %d (%s), want %d", code, out, tc.code)
			}
			if tc.want != "" && out != tc.want {
				t.Errorf("body %s, want %s", out, tc.want)
			}
		})
	}
}

func TestMinidynUnsupportedOperation(t *testing.T) {
	code, out := backendCall(t, NewMinidynBackend(), "DescribeTimeToLive", `{"TableName":"t"}`)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"Message"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("body %q is not JSON: %v", out, err)
	}
	if code != 400 || e.Type != "com.amazon.coral.service#UnknownOperationException" {
		t.Errorf("got %d %s", code, out)
	}
}

func TestTranslateKeyConditions(t *testing.T) {
	tests := map[string]struct {
		in, want string
		code     string
	}{
		"no KeyConditions": {in: `{"TableName":"t","KeyConditionExpression":"PK = :v"}`, want: `{"TableName":"t","KeyConditionExpression":"PK = :v"}`},
		"EQ and BETWEEN": {
			in: `{"TableName":"t","KeyConditions":{"SK":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"S":"a"},{"S":"b"}]},` +
				`"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"x"}]}}}`,
			want: `{"ExpressionAttributeNames":{"#k0":"PK","#k1":"SK"},"ExpressionAttributeValues":{":k0_0":{"S":"x"},":k1_0":{"S":"a"},":k1_1":{"S":"b"}},` +
				`"KeyConditionExpression":"#k0 = :k0_0 AND #k1 BETWEEN :k1_0 AND :k1_1","TableName":"t"}`,
		},
		"BEGINS_WITH": {
			in:   `{"KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"N":"1"}]},"SK":{"ComparisonOperator":"BEGINS_WITH","AttributeValueList":[{"S":"p"}]}}}`,
			want: `{"ExpressionAttributeNames":{"#k0":"PK","#k1":"SK"},"ExpressionAttributeValues":{":k0_0":{"N":"1"},":k1_0":{"S":"p"}},"KeyConditionExpression":"#k0 = :k0_0 AND begins_with(#k1, :k1_0)"}`,
		},
		"mixed with expressions": {in: `{"KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"x"}]}},"FilterExpression":"a = :b"}`, code: CodeValidation},
		"unsupported operator":   {in: `{"KeyConditions":{"PK":{"ComparisonOperator":"NE","AttributeValueList":[{"S":"x"}]}}}`, code: CodeValidation},
		"wrong argument count":   {in: `{"KeyConditions":{"PK":{"ComparisonOperator":"EQ","AttributeValueList":[]}}}`, code: CodeValidation},
		"malformed":              {in: `{"KeyConditions":{"PK":[]}}`, code: CodeSerialization},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := translateKeyConditions([]byte(tc.in))
			if tc.code != "" {
				if err == nil || err.Code != tc.code {
					t.Fatalf("error = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("translated (-want +got):\n%s", diff)
			}
		})
	}
}
