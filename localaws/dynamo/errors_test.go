package dynamo

import (
	"net/http/httptest"
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
			`{"__type":"com.amazon.coral.validate#ValidationException","Message":"m"}`},
		"model namespace": {&APIError{Status: 400, Code: CodeResourceNotFound, Message: "m"}, 400,
			`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","Message":"m"}`},
		"zero status is 400": {&APIError{Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}, 400,
			`{"__type":"com.amazon.coral.service#ExpiredTokenException","Message":"The security token included in the request is expired"}`},
		"server error": {errInternal(), 500, `{"__type":"com.amazon.coral.service#InternalServerError","Message":"Internal server error"}`},
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
