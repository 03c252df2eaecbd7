package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFrom(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: connection refused")
	tests := map[string]struct {
		err      error
		wantKind Kind
		wantCode string
		wantMsg  string
	}{
		"api error":         {New(KindInvalidInput, CodeInvalidRequest, "bad duration"), KindInvalidInput, CodeInvalidRequest, "bad duration"},
		"wrapped api error": {fmt.Errorf("vend: %w", InvalidToken("token expired", cause)), KindUnauthenticated, CodeInvalidToken, "token expired"},
		"plain error":       {cause, KindInternal, CodeInternal, "internal error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := From(tc.err)
			if got.Kind != tc.wantKind || got.Code != tc.wantCode || got.Message != tc.wantMsg {
				t.Fatalf("From() = %s %s %q, want %s %s %q", got.Kind, got.Code, got.Message, tc.wantKind, tc.wantCode, tc.wantMsg)
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
	e := Wrap(cause, KindUpstreamDenied, CodeUpstreamAccessDenied, "the role refused the session")
	if !errors.Is(e, cause) {
		t.Fatal("errors.Is does not reach the cause")
	}
	if got := e.Error(); !strings.Contains(got, "upstream said no") || !strings.Contains(got, CodeUpstreamAccessDenied) {
		t.Fatalf("Error() = %q: want code and cause for logs", got)
	}
	if got := InvalidRequest("x").Error(); got != "invalid_request (invalid_input): x" {
		t.Fatalf("Error() without cause = %q", got)
	}
}

func TestZeroKindFailsClosed(t *testing.T) {
	if got := (&Error{Code: CodeInternal}).Kind; got != KindInternal {
		t.Fatalf("zero Kind = %s, want %s", got, KindInternal)
	}
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		name := k.String()
		if name == "" || strings.HasPrefix(name, "kind(") || seen[name] {
			t.Errorf("kind %d has name %q (empty, unnamed or repeated)", k, name)
		}
		seen[name] = true
	}
	if got := Kind(200).String(); got != "kind(200)" {
		t.Errorf("unknown kind String() = %q", got)
	}
}

// TestRetryable: exactly the failures that pass by themselves are
// retryable; a configuration fault, an internal error and every refusal
// of the request are not.
func TestRetryable(t *testing.T) {
	for code, want := range map[string]bool{
		CodeRateLimited:           true,
		CodeOverloaded:            true,
		CodeNotReady:              true,
		CodeUpstreamThrottled:     true,
		CodeUpstreamUnavailable:   true,
		CodeUpstreamTimeout:       true,
		CodeBrokerMisconfigured:   false,
		CodeInternal:              false,
		CodeInvalidRequest:        false,
		CodeInvalidToken:          false,
		CodeInvalidTenant:         false,
		CodeForbidden:             false,
		CodeProfileNotFound:       false,
		CodeNotFound:              false,
		CodeMethodNotAllowed:      false,
		CodeRequestTooLarge:       false,
		CodeUpstreamAccessDenied:  false,
		CodeUpstreamPolicyInvalid: false,
		CodeUpstreamInvalid:       false,
		CodeTenantBlocked:         false,
		CodeSubjectBlocked:        false,
		"":                        false,
		"something_new":           false,
	} {
		if got := Retryable(code); got != want {
			t.Errorf("Retryable(%q) = %v, want %v", code, got, want)
		}
	}
}
