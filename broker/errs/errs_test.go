package errs

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFrom(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: connection refused")
	tests := map[string]struct {
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		"api error":         {New(http.StatusBadRequest, CodeInvalidRequest, "bad duration"), 400, CodeInvalidRequest, "bad duration"},
		"wrapped api error": {fmt.Errorf("vend: %w", InvalidToken("token expired", cause)), 401, CodeInvalidToken, "token expired"},
		"plain error":       {cause, 500, CodeInternal, "internal error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := From(tc.err)
			if got.Status != tc.wantStatus || got.Code != tc.wantCode || got.Message != tc.wantMsg {
				t.Fatalf("From() = %d %s %q, want %d %s %q", got.Status, got.Code, got.Message, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
			// The public message never carries an internal cause.
			if strings.Contains(got.Message, "10.0.0.1") {
				t.Fatalf("public message leaks the cause: %q", got.Message)
			}
		})
	}
}

func TestErrorAndUnwrap(t *testing.T) {
	cause := errors.New("upstream said no")
	e := Wrap(cause, http.StatusBadGateway, CodeUpstreamAccessDenied, "the role refused the session")
	if !errors.Is(e, cause) {
		t.Fatal("errors.Is does not reach the cause")
	}
	if got := e.Error(); !strings.Contains(got, "upstream said no") || !strings.Contains(got, CodeUpstreamAccessDenied) {
		t.Fatalf("Error() = %q: want code and cause for logs", got)
	}
	if got := InvalidRequest("x").Error(); got != "invalid_request (400): x" {
		t.Fatalf("Error() without cause = %q", got)
	}
}
