package awsquery

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/sigv4"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	cases := map[string]struct {
		method, query, body string
		code                string // "" = parsed
		action, param       string
	}{
		"form body":        {"POST", "", "Action=GetRole&Version=2010-05-08&RoleName=r", "", "GetRole", "r"},
		"query string":     {"GET", "Action=GetRole&Version=2010-05-08&RoleName=q", "", "", "GetRole", "q"},
		"missing action":   {"POST", "", "Version=2010-05-08", "MissingAction", "", ""},
		"missing version":  {"POST", "", "Action=GetRole", "MissingParameter", "", ""},
		"other version":    {"POST", "", "Action=GetRole&Version=2011-06-15", "InvalidAction", "", ""},
		"bad form":         {"POST", "", "Action=%zz", "MalformedQueryString", "", ""},
		"too large":        {"POST", "", "Action=GetRole&Version=2010-05-08&RoleName=" + strings.Repeat("r", 100), "RequestEntityTooLarge", "", ""},
		"method not known": {"PUT", "", "", "InvalidAction", "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/?"+tc.query, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			q, e := Parse(r, 64, "2010-05-08")
			if tc.code != "" {
				if e == nil || e.Code != tc.code || e.Status == 0 {
					t.Fatalf("error %+v, want %s", e, tc.code)
				}
				return
			}
			if e != nil || q.Action != tc.action || q.Params.Get("RoleName") != tc.param {
				t.Fatalf("got %+v, %v", q, e)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, "https://iam.amazonaws.com/doc/2010-05-08/", "req-1", Senderf(http.StatusNotFound, "NoSuchEntity", "The role with name %s cannot be found.", "r"))
	want := regexp.MustCompile(`(?s)^<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">\s*<Error>\s*<Type>Sender</Type>\s*<Code>NoSuchEntity</Code>\s*` +
		`<Message>The role with name r cannot be found.</Message>\s*</Error>\s*<RequestId>req-1</RequestId>\s*</ErrorResponse>\s*$`)
	if w.Code != http.StatusNotFound || w.Header().Get("x-amzn-RequestId") != "req-1" || !want.MatchString(w.Body.String()) {
		t.Errorf("%d %v\n%s", w.Code, w.Header(), w.Body.String())
	}
}

func TestAuthError(t *testing.T) {
	cases := map[string]struct {
		err  error
		code string
	}{
		"expired":   {identity.ErrExpiredToken, "ExpiredToken"},
		"bad token": {identity.ErrInvalidToken, "InvalidClientTokenId"},
		"no auth":   {&sigv4.Error{Kind: sigv4.MissingAuth}, "MissingAuthenticationToken"},
		"unknown":   {&sigv4.Error{Kind: sigv4.UnknownKey}, "InvalidClientTokenId"},
		"mismatch":  {&sigv4.Error{Kind: sigv4.Mismatch, Message: "m"}, "SignatureDoesNotMatch"},
		"other":     {errors.New("boom"), "InternalFailure"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if e := AuthError(tc.err); e.Code != tc.code {
				t.Errorf("code %s, want %s", e.Code, tc.code)
			}
		})
	}
}

func TestRequestIDAndClip(t *testing.T) {
	if id := NewRequestID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("request id %q", id)
	}
	if got := Clip("héllo", 2); got != "hé..." {
		t.Errorf("Clip = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Action=GetRole&Version=2010-05-08&RoleName=r")
	f.Add("Action=%zz&&=")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		q, e := Parse(r, 1<<10, "2010-05-08")
		if (q == nil) == (e == nil) {
			t.Fatalf("request %v and error %v", q, e)
		}
		if e != nil && (e.Code == "" || e.Status == 0) {
			t.Fatalf("incomplete error %+v", e)
		}
	})
}
