package sigv4

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var s3Creds = aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: "tok/en+=="}

// s3Signed signs r as the Go SDK signs S3 requests (no second path encoding).
func s3Signed(t *testing.T, r *http.Request, payload string, at time.Time) *http.Request {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payload)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(context.Background(), s3Creds, r, payload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

func s3Presigned(t *testing.T, target string, at time.Time, expires time.Duration) *http.Request {
	t.Helper()
	return s3PresignedFor(t, target, at, strconv.FormatInt(int64(expires/time.Second), 10))
}

// s3PresignedFor presigns a GET of target with X-Amz-Expires as given.
func s3PresignedFor(t *testing.T, target string, at time.Time, expires string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	q := r.URL.Query()
	q.Set("X-Amz-Expires", expires)
	r.URL.RawQuery = q.Encode()
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), s3Creds, r, UnsignedPayload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	out := httptest.NewRequest(http.MethodGet, pu.RequestURI(), nil)
	out.Host = r.Host
	return out
}

func TestVerifyS3(t *testing.T) {
	v := newVerifier(t, "s3")
	hexEmpty := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	rows := []struct {
		name    string
		req     func() *http.Request
		kind    Kind
		payload string
	}{
		{"hex payload, escaped key not encoded twice", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodGet, "/bkt/a%20b/%C3%BC/../x", nil), hexEmpty, testNow)
		}, 0, hexEmpty},
		{"unsigned payload", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodPut, "/bkt/k", strings.NewReader("x")), UnsignedPayload, testNow)
		}, 0, UnsignedPayload},
		{"streaming unsigned trailer", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodPut, "/bkt/k", nil), StreamingUnsignedTrailer, testNow)
		}, 0, StreamingUnsignedTrailer},
		{"presigned", func() *http.Request { return s3Presigned(t, "/bkt/k", testNow.Add(-time.Hour), 2*time.Hour) }, 0, UnsignedPayload},
		{"presigned, expired", func() *http.Request { return s3Presigned(t, "/bkt/k", testNow.Add(-time.Hour), time.Hour) }, Expired, ""},
		{"presigned, X-Amz-Expires over a week", func() *http.Request { return s3Presigned(t, "/bkt/k", testNow, 8*24*time.Hour) }, BadPresign, ""},
		{"presigned, X-Amz-Expires overflowing a time.Duration", func() *http.Request {
			// 18446744074 s is 2^64 ns + 0.29 s: multiplied into a Duration it wraps to 0.29 s.
			return s3PresignedFor(t, "/bkt/k", testNow, "18446744074")
		}, BadPresign, ""},
		{"presigned, X-Amz-Expires far beyond int64 nanoseconds", func() *http.Request {
			return s3PresignedFor(t, "/bkt/k", testNow, "9223372036854775807")
		}, BadPresign, ""},
		{"presigned, tampered key", func() *http.Request {
			r := s3Presigned(t, "/bkt/k", testNow, time.Hour)
			r.URL.Path, r.RequestURI = "/bkt/other", strings.Replace(r.RequestURI, "/bkt/k", "/bkt/other", 1)
			return r
		}, Mismatch, ""},
		{"presigned plus Authorization", func() *http.Request {
			r := s3Presigned(t, "/bkt/k", testNow, time.Hour)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
			return r
		}, IncompleteSignature, ""},
		{"missing x-amz-content-sha256", func() *http.Request {
			r := s3Signed(t, httptest.NewRequest(http.MethodGet, "/bkt/k", nil), hexEmpty, testNow)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, BadPayload, ""},
		{"bogus x-amz-content-sha256", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodGet, "/bkt/k", nil), "STREAMING-SOMETHING", testNow)
		}, BadPayload, ""},
		{"SigV4a streaming payload", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodPut, "/bkt/k", nil), "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", testNow)
		}, Unsupported, ""},
		{"SigV4a header", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/bkt/k", nil)
			r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=AKIA/20261126/s3/aws4_request, SignedHeaders=host, Signature=00")
			return r
		}, Unsupported, ""},
		{"SigV2 header", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/bkt/k", nil)
			r.Header.Set("Authorization", "AWS AKIA:c2ln")
			return r
		}, Unsupported, ""},
		{"signed for dynamodb", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/bkt/k", nil)
			r.Header.Set("X-Amz-Content-Sha256", hexEmpty)
			if err := v4.NewSigner().SignHTTP(context.Background(), s3Creds, r, hexEmpty, "dynamodb", "us-east-1", testNow); err != nil {
				t.Fatal(err)
			}
			return r
		}, BadScope, ""},
		{"clock skew", func() *http.Request {
			return s3Signed(t, httptest.NewRequest(http.MethodGet, "/bkt/k", nil), hexEmpty, testNow.Add(-20*time.Minute))
		}, Skew, ""},
		{"no credentials", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/bkt/k", nil) }, MissingAuth, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			res, err := v.VerifyS3(row.req(), secrets)
			if row.kind == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if res.Payload != row.payload || res.SessionToken != s3Creds.SessionToken {
					t.Errorf("payload %q token %q", res.Payload, res.SessionToken)
				}
				return
			}
			if kindOf(err) != row.kind {
				t.Fatalf("got %v, want kind %v", err, row.kind)
			}
		})
	}
}

// TestS3CanonicalURIIsNotEncodedTwice: the same request verifies for S3
// and not under the double-encoding rule of other services.
func TestS3CanonicalURIIsNotEncodedTwice(t *testing.T) {
	r := s3Signed(t, httptest.NewRequest(http.MethodGet, "/bkt/a%20b", nil), UnsignedPayload, testNow)
	if _, err := newVerifier(t, "s3").VerifyS3(r, secrets); err != nil {
		t.Fatalf("S3 rules: %v", err)
	}
	if got := CanonicalRequest(r, []string{"host"}, nil); !strings.Contains(got, "/bkt/a%2520b") {
		t.Errorf("non-S3 canonical URI should be encoded twice:\n%s", got)
	}
}

func FuzzVerifyS3(f *testing.F) {
	f.Add("/bkt/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIATESTKEY000000001%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261126T070000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", "")
	f.Add("/bkt/k", "AWS4-HMAC-SHA256 Credential=AKIATESTKEY000000001/20261126/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00", UnsignedPayload)
	v, err := NewVerifier(Options{Service: "s3", Region: "us-east-1", Clock: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, auth, payload string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: u, RequestURI: target, Host: "h", Header: http.Header{}}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		r.Header.Set("X-Amz-Date", "20261126T070000Z")
		if res, err := v.VerifyS3(r, secrets); err == nil {
			t.Fatalf("forged request accepted: %+v", res)
		}
	})
}
