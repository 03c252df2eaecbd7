package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	recKeyID  = "AKIATVMRECORD0000001"
	recSecret = "tvmRecordSecretKey00000000000000000000001"
)

// captured is one request as the server received it.
type captured struct {
	method, uri, host string
	header            http.Header
	body              []byte
}

// captureServer records requests and answers minimal S3-shaped 200s.
type captureServer struct {
	mu   sync.Mutex
	reqs []captured
}

func (c *captureServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := r.Header.Clone()
	if len(r.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = r.TransferEncoding
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{method: r.Method, uri: r.RequestURI, host: r.Host, header: h, body: body})
	c.mu.Unlock()
	w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	w.Header().Set("Content-Type", "application/xml")
	if r.Method == http.MethodPost {
		_, _ = io.WriteString(w, "<DeleteResult></DeleteResult>")
	}
}

func (c *captureServer) last(t *testing.T) captured {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("no request captured")
	}
	return c.reqs[len(c.reqs)-1]
}

// request rebuilds a captured request for the verifier.
func (c captured) request(body []byte) *http.Request {
	r := httptest.NewRequest(c.method, c.uri, bytes.NewReader(body))
	r.Host = c.host
	r.Header = c.header.Clone()
	return r
}

// newRecordingClient is an S3 client for hs with the SDK's default checksum
// settings (config.LoadDefaultConfig resolves both to when_supported).
func newRecordingClient(hs *httptest.Server, token string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), HTTPClient: hs.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(recKeyID, recSecret, token), RetryMaxAttempts: 1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported})
}

// onlyReader hides Seek, so the SDK sees an unseekable stream.
type onlyReader struct{ io.Reader }

// TestGoSDKRequests records what aws-sdk-go-v2's S3 client (default
// checksum settings) sends over http (hex SHA-256 payload + x-amz-checksum
// header) and over https (aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with
// a checksum trailer), and verifies each with the gateway's verifier.
func TestGoSDKRequests(t *testing.T) {
	payload := bytes.Repeat([]byte("tenant data "), 30000) // 360 kB: several chunks
	cases := []struct {
		name      string
		tls       bool
		body      func() io.Reader
		wantMode  string
		wantCheck string
	}{
		{"http seekable", false, func() io.Reader { return bytes.NewReader(payload) }, "hex", "X-Amz-Checksum-Crc32"},
		{"https seekable", true, func() io.Reader { return bytes.NewReader(payload) }, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "trailer"},
		{"https unseekable stream", true, func() io.Reader { return onlyReader{bytes.NewReader(payload)} }, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "trailer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			capSrv := &captureServer{}
			hs := httptest.NewUnstartedServer(capSrv)
			if tc.tls {
				hs.StartTLS()
			} else {
				hs.Start()
			}
			defer hs.Close()
			c := newRecordingClient(hs, "session-token")
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("tvm-s3-demo"),
				Key: aws.String("tenants/1/go.bin"), Body: tc.body(), ContentLength: aws.Int64(int64(len(payload)))})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			got := capSrv.last(t)
			mode := got.header.Get("X-Amz-Content-Sha256")
			if (tc.wantMode == "hex" && len(mode) != 64) || (tc.wantMode != "hex" && mode != tc.wantMode) {
				t.Errorf("x-amz-content-sha256 %q, want %s", mode, tc.wantMode)
			}
			if tc.wantCheck == "trailer" && !strings.HasPrefix(got.header.Get("X-Amz-Trailer"), "x-amz-checksum-") {
				t.Errorf("no checksum trailer: %v", got.header)
			}
			if tc.wantCheck != "trailer" && got.header.Get(tc.wantCheck) == "" {
				t.Errorf("no %s header", tc.wantCheck)
			}
			r := got.request(got.body)
			body, err := verifyRecorded(r, signingTime(t, r), recKeyID, recSecret)
			if err != nil {
				t.Fatalf("recorded Go SDK request rejected: %v", err)
			}
			if !bytes.Equal(body, payload) {
				t.Fatalf("decoded %d bytes, want %d", len(body), len(payload))
			}
			tampered := bytes.Clone(got.body)
			tampered[len(tampered)/2] ^= 1
			if _, err := verifyRecorded(got.request(tampered), signingTime(t, r), recKeyID, recSecret); err == nil {
				t.Error("tampered body accepted")
			}
		})
	}
}

// TestGoSDKDeleteObjectsAndPresign records DeleteObjects (a required
// checksum, no Content-MD5) and a presigned PUT from the Go SDK.
func TestGoSDKDeleteObjectsAndPresign(t *testing.T) {
	capSrv := &captureServer{}
	hs := httptest.NewServer(capSrv)
	defer hs.Close()
	c := newRecordingClient(hs, "")
	_, err := c.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String("tvm-s3-demo"),
		Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("tenants/1/a")}, {Key: aws.String("tenants/12/b")}}}})
	if err != nil {
		t.Fatalf("DeleteObjects: %v", err)
	}
	got := capSrv.last(t)
	r := got.request(got.body)
	if _, err := verifyRecorded(r, signingTime(t, r), recKeyID, recSecret); err != nil {
		t.Fatalf("DeleteObjects rejected: %v", err)
	}
	if op, err := Classify(got.request(got.body)); err != nil || op.Name != "DeleteObjects" {
		t.Fatalf("Classify: %v %v", op, err)
	}
	ps, err := s3.NewPresignClient(c).PresignPutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("tvm-s3-demo"),
		Key: aws.String("tenants/1/p.txt")})
	if err != nil {
		t.Fatal(err)
	}
	pr := httptest.NewRequest(http.MethodPut, strings.TrimPrefix(ps.URL, hs.URL), strings.NewReader("presigned body"))
	pr.Host = strings.TrimPrefix(hs.URL, "http://")
	for k, vs := range ps.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			pr.Header[k] = vs
		}
	}
	body, err := verifyRecorded(pr, signingTime(t, pr), recKeyID, recSecret)
	if err != nil || string(body) != "presigned body" {
		t.Fatalf("presigned PUT: %q %v", body, err)
	}
}
