package testenv

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
)

// SecretMarker is part of every secret access key and session token the
// fake STS issues, so a test can search any output for a leaked secret.
const SecretMarker = "MustNotLeak"

// DefaultCallerARN is what the fake STS's GetCallerIdentity answers unless
// STS.CallerARN is set.
const DefaultCallerARN = "arn:aws:iam::123456789012:user/fake"

// STS is the project's one fake AWS STS endpoint for tests. It speaks the
// Query protocol (a form POST, an XML answer) for AssumeRole and
// GetCallerIdentity, records every call, and issues distinct credentials
// valid for the requested DurationSeconds (default 3600). Start it with
// StartSTS, or serve it from another handler (it is an http.Handler).
//
// Set the exported fields before the first request. An STS is safe for
// concurrent use.
type STS struct {
	// KeyID and Region, when set, are the access key id and region every
	// request must be signed for; a request signed otherwise (or unsigned,
	// or for another service) is recorded as a protocol violation.
	KeyID, Region string
	// CallerARN is the Arn GetCallerIdentity answers; default
	// DefaultCallerARN.
	CallerARN string
	// Fail, when set, is asked before call n (1-based, over every action) is
	// answered: a non-empty AWS error code makes the call fail with that code.
	// It runs with the STS's lock held, so it must not call the STS's methods.
	Fail func(n int, form url.Values) string
	// Clock returns the current time for expirations; nil means time.Now.
	Clock func() time.Time

	mu    sync.Mutex
	calls []STSCall
}

// STSCall is one request the fake STS answered.
type STSCall struct {
	// Form is the request's decoded form (Action, RoleArn, Policy, ...).
	Form url.Values
	// KeyID, Region and Service are the SigV4 credential scope of the
	// Authorization header ("" when it has none).
	KeyID, Region, Service string
	// RequestID is the request id the answer carried (header and body).
	RequestID string
	// Creds are the credentials an AssumeRole issued; nil otherwise.
	Creds *IssuedCredentials
	// ErrorCode is the AWS error code answered, "" on success.
	ErrorCode string
	// Violations are the ways the request broke the protocol.
	Violations []string
}

// IssuedCredentials are temporary credentials the fake STS issued.
type IssuedCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time // whole milliseconds, UTC
}

// StartSTS serves s on a loopback httptest server until t ends and returns
// its URL (for AWS_ENDPOINT_URL_STS or an sts.Options.BaseEndpoint).
func StartSTS(t testing.TB, s *STS) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Calls returns a copy of the calls answered so far, in order.
func (s *STS) Calls() []STSCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]STSCall(nil), s.calls...)
}

// AssumeRoleCalls returns a copy of the AssumeRole calls answered so far,
// in order (the broker also calls GetCallerIdentity, at start-up).
func (s *STS) AssumeRoleCalls() []STSCall {
	var out []STSCall
	for _, c := range s.Calls() {
		if c.Form.Get("Action") == "AssumeRole" {
			out = append(out, c)
		}
	}
	return out
}

// Issued returns the credentials issued so far, in order.
func (s *STS) Issued() []IssuedCredentials {
	var out []IssuedCredentials
	for _, c := range s.Calls() {
		if c.Creds != nil {
			out = append(out, *c.Creds)
		}
	}
	return out
}

// IssuedKey reports whether the fake issued the access key id keyID.
func (s *STS) IssuedKey(keyID string) bool {
	for _, c := range s.Issued() {
		if c.AccessKeyID == keyID {
			return true
		}
	}
	return false
}

// Violations returns every protocol violation seen so far.
func (s *STS) Violations() []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.Violations...)
	}
	return out
}

// sigV4 matches a SigV4 Authorization header and captures its credential
// scope: access key id, date, region, service.
var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`)

// ServeHTTP answers one STS request.
func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := s.check(r)
	n := len(s.calls) + 1
	call.RequestID = fmt.Sprintf("fake-sts-%04d", n)
	w.Header().Set("x-amzn-RequestId", call.RequestID)
	w.Header().Set("Content-Type", "text/xml")
	action := call.Form.Get("Action")
	if s.Fail != nil {
		call.ErrorCode = s.Fail(n, call.Form)
	}
	if call.ErrorCode == "" && action != "AssumeRole" && action != "GetCallerIdentity" {
		call.ErrorCode = "InvalidAction"
	}
	switch {
	case call.ErrorCode != "":
		writeSTSError(w, call.ErrorCode, call.RequestID)
	case action == "AssumeRole":
		call.Creds = s.assumeRole(w, n, call)
	default:
		caller := s.CallerARN
		if caller == "" {
			caller = DefaultCallerARN
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>%s</Arn><UserId>AIDAFAKESTSUSER00001</UserId><Account>%s</Account></GetCallerIdentityResult>`+
			`<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
			xmlText(caller), iam.ARNAccount(caller), call.RequestID)
	}
	s.calls = append(s.calls, call)
}

// check reads r's form and records how r breaks the protocol.
func (s *STS) check(r *http.Request) STSCall {
	var call STSCall
	violate := func(format string, args ...any) {
		call.Violations = append(call.Violations, fmt.Sprintf(format, args...))
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		violate("%s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		violate("Content-Type %q", ct)
	}
	if m := sigV4.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		call.KeyID, call.Region, call.Service = m[1], m[3], m[4]
	}
	switch {
	case call.Service != "sts":
		violate("Authorization %q is not a SigV4 signature for sts", r.Header.Get("Authorization"))
	case s.KeyID != "" && call.KeyID != s.KeyID:
		violate("signed with key %q, want %q", call.KeyID, s.KeyID)
	case s.Region != "" && call.Region != s.Region:
		violate("signed for region %q, want %q", call.Region, s.Region)
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		violate("form: %v", err)
	}
	call.Form = form
	if form.Get("Version") != "2011-06-15" {
		violate("Version=%q", form.Get("Version"))
	}
	return call
}

// assumeRole writes the answer of AssumeRole call n and returns what it issued.
func (s *STS) assumeRole(w http.ResponseWriter, n int, call STSCall) *IssuedCredentials {
	secs := 3600
	if d := call.Form.Get("DurationSeconds"); d != "" {
		secs, _ = strconv.Atoi(d)
	}
	now := time.Now
	if s.Clock != nil {
		now = s.Clock
	}
	c := &IssuedCredentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKESTS%09d", n),
		SecretAccessKey: fmt.Sprintf("fakeStsSecret%sKey%013d", SecretMarker, n),
		SessionToken:    fmt.Sprintf("FwoGZXIvYXdzFakeSessionToken%s/%d+%s", SecretMarker, n, strings.Repeat("Zm9v", 40)),
		Expiration:      now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Millisecond),
	}
	role := call.Form.Get("RoleArn")
	session := call.Form.Get("RoleSessionName")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>`+
		`<SessionToken>%s</SessionToken><SecretAccessKey>%s</SecretAccessKey><Expiration>%s</Expiration>`+
		`<AccessKeyId>%s</AccessKeyId></Credentials><AssumedRoleUser>`+
		`<Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROAFAKESTSROLE00001:%[7]s</AssumedRoleId>`+
		`</AssumedRoleUser><PackedPolicySize>7</PackedPolicySize></AssumeRoleResult>`+
		`<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		xmlText(c.SessionToken), xmlText(c.SecretAccessKey), c.Expiration.Format("2006-01-02T15:04:05.000Z"),
		xmlText(c.AccessKeyID), iam.ARNAccount(role), xmlText(role[strings.LastIndex(role, "/")+1:]), xmlText(session), call.RequestID)
	return c
}

// stsErrorStatus is the HTTP status STS answers an error code with; other
// codes get 400.
var stsErrorStatus = map[string]int{
	"AccessDenied":          http.StatusForbidden,
	"InvalidClientTokenId":  http.StatusForbidden,
	"SignatureDoesNotMatch": http.StatusForbidden,
	"ExpiredToken":          http.StatusForbidden,
	"InternalFailure":       http.StatusInternalServerError,
	"ServiceUnavailable":    http.StatusServiceUnavailable,
}

func writeSTSError(w http.ResponseWriter, code, requestID string) {
	status, ok := stsErrorStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	fault := "Sender"
	if status >= http.StatusInternalServerError {
		fault = "Receiver"
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>%s</Type>`+
		`<Code>%s</Code><Message>the fake STS answers %[2]s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		fault, xmlText(code), requestID)
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
