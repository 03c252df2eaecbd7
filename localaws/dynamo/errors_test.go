package dynamo

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteError(t *testing.T) {
	tests := map[string]struct {
		err    *APIError
		status int
		body   string
	}{
		"access denied": {&APIError{Status: 400, Code: CodeAccessDenied, Message: `User: a is not authorized to perform: "x" <&>`}, 400,
			`{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: a is not authorized to perform: \"x\" \u003c\u0026\u003e"}`},
		"validation namespace": {&APIError{Status: 400, Code: CodeValidation, Message: "m"}, 400,
			`{"__type":"com.amazon.coral.validate#ValidationException","message":"m"}`},
		"model namespace": {&APIError{Status: 400, Code: CodeResourceNotFound, Message: "m"}, 400,
			`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"m"}`},
		"zero status is 400": {&APIError{Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}, 400,
			`{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"The security token included in the request is expired"}`},
		"server error": {errInternal(), 500, `{"__type":"com.amazon.coral.service#InternalServerError","message":"Internal server error"}`},
		"unrecognized client": {&APIError{Status: 400, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}, 400,
			`{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}`},
		"incomplete signature": {&APIError{Status: 400, Code: "IncompleteSignatureException", Message: "x"}, 400,
			`{"__type":"com.amazon.coral.service#IncompleteSignatureException","message":"x"}`},
		"long message cut": {&APIError{Status: 400, Code: CodeValidation, Message: strings.Repeat("é", 2*maxMessage)}, 400,
			`{"__type":"com.amazon.coral.validate#ValidationException","message":"` + strings.Repeat("é", maxMessage) + `..."}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tc.err)
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Errorf("got %d %s\nwant %d %s", w.Code, w.Body.String(), tc.status, tc.body)
			}
			checkHeaders(t, w.Result(), w.Body.Bytes())
		})
	}
	if got := (&APIError{Code: "C", Message: "m"}).Error(); got != "C: m" {
		t.Errorf("Error() = %q", got)
	}
}

func TestNewRequestID(t *testing.T) {
	a, b := newRequestID(), newRequestID()
	if len(a) != requestIDLength || a == b {
		t.Errorf("request ids %q %q", a, b)
	}
	for _, c := range a {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			t.Fatalf("request id %q has %q", a, c)
		}
	}
}

// TestHugeValueNotEchoed: a megabyte value in a request is cut in the
// error message (to maxEchoedValue characters) and in the log.
func TestHugeValueNotEchoed(t *testing.T) {
	st := newTestStack(t, NewMinidynBackend())
	big := strings.Repeat("v", 1100<<10)
	resp, body := rawCall(t, st.srv.URL, adminKey, TargetPrefix+"PutItem", `{"TableName":"`+big+`","Item":{"PK":{"S":"a"}}}`)
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"message":"1 validation error detected: Value '`+strings.Repeat("v", maxEchoedValue)+`...' at 'tableName'`) {
		t.Errorf("answer %d %.300s", resp.StatusCode, body)
	}
	if len(body) > 2*maxMessage {
		t.Errorf("answer of %d bytes", len(body))
	}
	if n := len(st.logs.String()); n > 4*maxMessage {
		t.Errorf("log of %d bytes:\n%.500s", n, st.logs.String())
	}
	// A huge key value is authorized and logged with the value cut.
	if resp, body := rawCall(t, st.srv.URL, adminKey, TargetPrefix+"CreateTable", `{"TableName":"tbl1","KeySchema":[{"AttributeName":"PK","KeyType":"HASH"}],`+
		`"AttributeDefinitions":[{"AttributeName":"PK","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}`); resp.StatusCode != 200 {
		t.Fatalf("CreateTable: %d %s", resp.StatusCode, body)
	}
	before := len(st.logs.String())
	rawCall(t, st.srv.URL, adminKey, TargetPrefix+"GetItem", `{"TableName":"tbl1","Key":{"PK":{"S":"`+big+`"}}}`)
	if n := len(st.logs.String()) - before; n > 4*maxMessage {
		t.Errorf("decision log of %d bytes", n)
	}
}
