package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tvmkit/tvm/localaws/sigv4"
	"github.com/tvmkit/tvm/policies/iam"
)

var benchNow = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

// sigAuth verifies SigV4 for real and returns a tenant session caller, so
// the benchmark includes what the gateway adds: signature, payload hash,
// classification, IAM evaluation, forwarding.
type sigAuth struct {
	v           *sigv4.Verifier
	key, secret string
	caller      Caller
}

func (a sigAuth) Authenticate(r *http.Request) (*Caller, error) {
	res, err := a.v.VerifyS3(r, func(id string) (string, bool) { return a.secret, id == a.key })
	if err != nil {
		return nil, err
	}
	c := a.caller
	c.Signature = res
	return &c, nil
}

func signedRequest(b *testing.B, method, target string, body []byte) *http.Request {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", payload)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: recKeyID, SecretAccessKey: recSecret}, r, payload, "s3", "us-east-1", benchNow)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkGateway compares GetObject and PutObject (1 KiB) through the
// enforcing gateway with the bare gofakes3 backend.
func BenchmarkGateway(b *testing.B) {
	backend := NewMemoryBackend()
	v, err := sigv4.NewVerifier(sigv4.Options{Service: "s3", Region: "us-east-1", Clock: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	in := &iam.Session{Principal: "arn:aws:sts::123456789012:assumed-role/r/t-1", Identity: []*iam.Policy{mustPolicy(b, allowAll)}, SessionPolicies: []*iam.Policy{mustPolicy(b, tenantSession)}}
	gw, err := NewGateway(GatewayOptions{Backend: backend, Owner: "123456789012", Region: "us-east-1",
		Auth: sigAuth{v: v, key: recKeyID, secret: recSecret, caller: Caller{ARN: "arn:aws:sts::123456789012:assumed-role/r/t-1", Account: "123456789012", Session: in}}})
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1024)
	backend.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/bkt", nil))
	put := signedRequest(b, http.MethodPut, "/bkt/tenants/1/k", body)
	put.Header.Set("Content-Length", "1024") // gofakes3 reads the header
	seed := httptest.NewRecorder()
	backend.ServeHTTP(seed, put.Clone(context.Background()))
	if seed.Code != http.StatusOK {
		b.Fatalf("seed: %d %s", seed.Code, seed.Body)
	}
	get := signedRequest(b, http.MethodGet, "/bkt/tenants/1/k", nil)
	run := func(h http.Handler, tmpl *http.Request, body []byte) func(*testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				r := tmpl.Clone(context.Background())
				r.Body = httpBody(body)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d %s", w.Code, w.Body)
				}
			}
		}
	}
	b.Run("GetObject/gofakes3", run(backend, get, nil))
	b.Run("GetObject/gateway", run(gw, get, nil))
	b.Run("PutObject/gofakes3", run(backend, put, body))
	b.Run("PutObject/gateway", run(gw, put, body))
}

func httpBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
