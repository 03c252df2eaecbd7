package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/localaws/dynamo"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/sigv4"
)

func TestRouting(t *testing.T) {
	srv, err := New(Config{Issuer: "http://127.0.0.1:4566"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		method, path, target, ctype, body string
		status                            int
		contains                          string
	}{
		"healthz":            {"GET", "/healthz", "", "", "", 200, `"status":"ok"`},
		"discovery":          {"GET", "/.well-known/openid-configuration", "", "", "", 200, `"issuer":"http://127.0.0.1:4566"`},
		"jwks":               {"GET", "/.well-known/jwks.json", "", "", "", 200, `"kty":"RSA"`},
		"unknown path":       {"GET", "/nope", "", "", "", 404, "not_found"},
		"json post":          {"POST", "/", "", "application/json", "{}", 404, "not_found"},
		"dynamodb unsigned":  {"POST", "/", "DynamoDB_20120810.Scan", "application/x-amz-json-1.0", "{}", 400, "MissingAuthenticationTokenException"},
		"other target":       {"POST", "/", "DynamoDBStreams_20120810.ListStreams", "application/x-amz-json-1.0", "{}", 400, "UnknownOperationException"},
		"sts unsigned":       {"POST", "/", "", "application/x-www-form-urlencoded", "Action=GetCallerIdentity&Version=2011-06-15", 403, "<Code>MissingAuthenticationToken</Code>"},
		"sts get unsigned":   {"GET", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "", "", 403, "MissingAuthenticationToken"},
		"mint from loopback": {"POST", "/idp/token", "", "application/json", `{"tenant":"1","subject":"alice"}`, 200, `"token":"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			r.RemoteAddr, r.Host = "127.0.0.1:40000", "127.0.0.1:4566"
			if c.target != "" {
				r.Header.Set("X-Amz-Target", c.target)
			}
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.contains) {
				t.Errorf("%d %s\nwant %d containing %q", w.Code, w.Body, c.status, c.contains)
			}
		})
	}
}

func TestDynamoAuthErrors(t *testing.T) {
	cases := map[string]struct {
		err  error
		code string
		msg  string
	}{
		"expired":    {identity.ErrExpiredToken, "ExpiredTokenException", "The security token included in the request is expired"},
		"bad token":  {identity.ErrInvalidToken, "UnrecognizedClientException", "The security token included in the request is invalid."},
		"no auth":    {&sigv4.Error{Kind: sigv4.MissingAuth}, "MissingAuthenticationTokenException", "Request is missing Authentication Token"},
		"incomplete": {&sigv4.Error{Kind: sigv4.IncompleteSignature, Message: "x"}, "IncompleteSignatureException", "x"},
		"scope":      {&sigv4.Error{Kind: sigv4.BadScope, Message: "Credential should be scoped to correct service: 'dynamodb'. "}, "InvalidSignatureException", "Credential should be scoped to correct service: 'dynamodb'. "},
		"skew":       {&sigv4.Error{Kind: sigv4.Skew, Message: "Signature expired: a"}, "InvalidSignatureException", "Signature expired: a"},
		"unknown":    {&sigv4.Error{Kind: sigv4.UnknownKey}, "UnrecognizedClientException", "The security token included in the request is invalid."},
		"mismatch":   {&sigv4.Error{Kind: sigv4.Mismatch, Message: sigv4.MismatchMessage}, "InvalidSignatureException", sigv4.MismatchMessage},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var ae *dynamo.APIError
			if err := dynamoAuthError(c.err); !errors.As(err, &ae) || ae.Code != c.code || ae.Message != c.msg || ae.Status != 400 {
				t.Errorf("got %v", err)
			}
		})
	}
	var ae *dynamo.APIError
	if err := dynamoAuthError(errors.New("boom")); err == nil || errors.As(err, &ae) {
		t.Errorf("unexpected error mapped to an API error: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := map[string]Config{
		"no issuer":       {},
		"bad backend url": {Issuer: "http://127.0.0.1:4566", BackendURL: "ftp://x"},
		"bad region":      {Issuer: "http://127.0.0.1:4566", Region: "Mars"},
		"empty identity":  {Issuer: "http://127.0.0.1:4566", Identity: &identity.Config{}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Issuer: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, srv, nil) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["status"] != "ok" {
		t.Errorf("healthz %v", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := client.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answering after shutdown")
	}
}

func TestServeReportsListenerErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Serve(ctx, ln, http.NotFoundHandler(), nil); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve on a closed listener: %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	srv, err := New(Config{Issuer: "http://127.0.0.1:4566"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/", io.LimitReader(zeros{}, MaxBodyBytes+10))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code < 400 {
		t.Errorf("oversized body answered %d", w.Code)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}
