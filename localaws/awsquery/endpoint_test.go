package awsquery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/identity"
)

const testNamespace = "https://example.amazonaws.com/doc/2020-01-01/"

type echoResult struct {
	XMLName xml.Name `xml:"EchoResult"`
	Caller  string   `xml:"Caller"`
	Name    string   `xml:"Name"`
}

func newTestEndpoint(t *testing.T, logs io.Writer) *Endpoint {
	t.Helper()
	store, err := identity.New(identity.DefaultConfig(), identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEndpoint(Service{
		Name: "example", Namespace: testNamespace, Version: "2020-01-01", DefaultMaxBodyBytes: 1 << 10,
		Actions: map[string]Action{
			"Echo": func(c *Call) (any, error) {
				return c.Respond(echoResult{Caller: c.Caller.ARN(), Name: c.Request.Params.Get("Name")}), nil
			},
			"Empty": func(c *Call) (any, error) { return c.Respond(nil), nil },
			"Refuse": func(*Call) (any, error) {
				return nil, Senderf(http.StatusNotFound, "NoSuchEntity", "nothing called %s", "x")
			},
			"Break": func(*Call) (any, error) { return nil, errors.New("secret internal detail") },
		},
	}, Options{Store: store, Region: "us-east-1", Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// post sends body to e, signed by the local admin unless sign is false.
func post(t *testing.T, e *Endpoint, body string, sign bool) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://localhost/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: "AKIATVMADMIN00000001", SecretAccessKey: "tvmLocalAdminSecretKey0000000000000000001"}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, r, hex.EncodeToString(sum[:]), "example", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func TestEndpoint(t *testing.T) {
	const admin = "arn:aws:iam::123456789012:user/admin"
	tests := map[string]struct {
		body     string
		unsigned bool
		status   int
		want     []string // substrings of the answer, in order
		log      string   // substring of the logs
	}{
		"answer": {body: "Action=Echo&Version=2020-01-01&Name=n1", status: http.StatusOK,
			want: []string{`<EchoResponse xmlns="` + testNamespace + `">`, "<EchoResult>", "<Caller>" + admin + "</Caller>", "<Name>n1</Name>",
				"</EchoResult>", "<ResponseMetadata>", "<RequestId>", "</EchoResponse>"}},
		"answer without result": {body: "Action=Empty&Version=2020-01-01", status: http.StatusOK,
			want: []string{`<EmptyResponse xmlns="` + testNamespace + `">`, "<ResponseMetadata>", "</EmptyResponse>"}},
		"unknown action": {body: "Action=Nope&Version=2020-01-01", unsigned: true, status: http.StatusBadRequest,
			want: []string{"<Code>InvalidAction</Code>", "Could not find operation Nope for version 2020-01-01"}},
		"unsigned": {body: "Action=Echo&Version=2020-01-01", unsigned: true, status: http.StatusForbidden,
			want: []string{"<Code>MissingAuthenticationToken</Code>"},
			log:  `"msg":"example authentication failed","request_id":`},
		"action's error": {body: "Action=Refuse&Version=2020-01-01", status: http.StatusNotFound,
			want: []string{"<Type>Sender</Type>", "<Code>NoSuchEntity</Code>", "<Message>nothing called x</Message>"}},
		"internal error": {body: "Action=Break&Version=2020-01-01", status: http.StatusInternalServerError,
			want: []string{"<Type>Receiver</Type>", "<Code>InternalFailure</Code>"},
			log:  `"msg":"example internal error"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			logs := &testenv.SyncBuffer{}
			w := post(t, newTestEndpoint(t, logs), tc.body, !tc.unsigned)
			body := w.Body.String()
			if w.Code != tc.status || w.Header().Get("x-amzn-RequestId") == "" {
				t.Fatalf("status %d (want %d), headers %v\n%s", w.Code, tc.status, w.Header(), body)
			}
			rest := body
			for _, s := range tc.want {
				i := strings.Index(rest, s)
				if i < 0 {
					t.Fatalf("answer lacks %q (in order):\n%s", s, body)
				}
				rest = rest[i+len(s):]
			}
			if strings.Contains(body, "secret internal detail") {
				t.Errorf("answer leaks the internal error:\n%s", body)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logs lack %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

func TestNewEndpointNeedsAStore(t *testing.T) {
	if _, err := NewEndpoint(Service{Name: "example"}, Options{}); err == nil || !strings.Contains(err.Error(), "example: Store is required") {
		t.Errorf("NewEndpoint without a store = %v", err)
	}
}
