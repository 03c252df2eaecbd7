package s3

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/localaws/sigv4"
	"github.com/tvmkit/tvm/policies/iam"
)

// recording is a file of requests recorded from one client (see
// tools/s3record): the fixed test credentials and each request as sent.
type recording struct {
	SDK      string `json:"sdk"`
	KeyID    string `json:"access_key_id"`
	Secret   string `json:"secret_access_key"`
	Requests []recordedRequest
}

type recordedRequest struct {
	Name        string      `json:"name"`
	Method      string      `json:"method"`
	URI         string      `json:"uri"`
	Headers     [][2]string `json:"headers"`
	Body        string      `json:"body_base64"`
	ExpectBody  string      `json:"expect_body_base64"`
	ExpectError string      `json:"expect_error"`
}

// request rebuilds the recorded request as the server received it.
func (rr recordedRequest) request(t *testing.T, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(rr.Method, rr.URI, bytes.NewReader(body))
	for _, h := range rr.Headers {
		if strings.EqualFold(h[0], "Host") {
			r.Host = h[1]
			continue
		}
		r.Header.Add(h[0], h[1])
	}
	return r
}

func decode64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signingTime is X-Amz-Date of a header-signed or presigned request.
func signingTime(t *testing.T, r *http.Request) time.Time {
	t.Helper()
	d := r.Header.Get("X-Amz-Date")
	if d == "" {
		d = r.URL.Query().Get("X-Amz-Date")
	}
	if d == "" {
		return time.Now()
	}
	at, err := time.Parse(sigv4.TimeFormat, d)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// verifyRecorded runs a request through what the gateway does before
// authorization: SigV4 as S3 verifies it, then the body in its payload mode
// (aws-chunked decoding, chunk signatures, checksums).
func verifyRecorded(r *http.Request, at time.Time, keyID, secret string) ([]byte, error) {
	v, err := sigv4.NewVerifier(sigv4.Options{Service: "s3", Region: "us-east-1", Clock: func() time.Time { return at.Add(time.Minute) }})
	if err != nil {
		return nil, err
	}
	res, err := v.VerifyS3(r, func(id string) (string, bool) { return secret, id == keyID })
	if err != nil {
		return nil, err
	}
	body, serr := readBody(r, res, DefaultMaxObjectBytes)
	if serr != nil {
		return nil, serr
	}
	return body, nil
}

// TestRecordedRequests replays the requests recorded from the JavaScript
// SDK v3 (stream bodies as aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER
// with a CRC32 trailer, even over http) and the AWS CLI v1 (botocore): each
// is verified and decoded to exactly the body the client meant, classified
// into an allowed operation, and rejected once tampered with.
func TestRecordedRequests(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("want at least two recordings, got %v (%v)", files, err)
	}
	for _, file := range files {
		var rec recording
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		for _, rr := range rec.Requests {
			t.Run(filepath.Base(file)+"/"+rr.Name, func(t *testing.T) { replay(t, rec, rr) })
		}
	}
}

func replay(t *testing.T, rec recording, rr recordedRequest) {
	raw := decode64(t, rr.Body)
	r := rr.request(t, raw)
	at := signingTime(t, r)
	body, err := verifyRecorded(r, at, rec.KeyID, rec.Secret)
	if rr.ExpectError != "" {
		var se *sigv4.Error
		if !errors.As(err, &se) || se.Kind != sigv4.Unsupported {
			t.Fatalf("want a refusal (%s), got %v", rr.ExpectError, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: recorded request rejected: %v", rec.SDK, err)
	}
	if want := decode64(t, rr.ExpectBody); !bytes.Equal(body, want) {
		t.Fatalf("decoded body: %d bytes, want %d", len(body), len(want))
	}
	cr := rr.request(t, raw)
	if cr.URL.Query().Has("X-Amz-Credential") {
		cr = hoistQueryHeaders(cr) // as the gateway does for presigned URLs
	}
	if _, cerr := Classify(cr); cerr != nil {
		t.Fatalf("Classify: %v", cerr)
	}
	if len(raw) > 0 { // flip a byte of the payload: the signature, the payload hash or the checksum must catch it
		tampered := bytes.Clone(raw)
		i := bytes.LastIndex(tampered, []byte("data"))
		if i < 0 {
			i = len(tampered) / 2
		}
		tampered[i] ^= 0x20
		if _, err := verifyRecorded(rr.request(t, tampered), at, rec.KeyID, rec.Secret); err == nil {
			t.Error("tampered body accepted")
		}
	}
	r2 := rr.request(t, raw)
	r2.URL.Path += "x"
	r2.RequestURI = r2.URL.RequestURI()
	if _, err := verifyRecorded(r2, at, rec.KeyID, rec.Secret); err == nil {
		t.Error("tampered path accepted")
	}
}

// TestRecordedRequestsThroughGateway replays each recording in order through
// a gateway (real SigV4 verification at the recorded time, an allow-all
// caller) into a fresh backend: every request must succeed, and every
// recorded upload must be stored as exactly the bytes the client meant.
func TestRecordedRequestsThroughGateway(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var rec recording
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			backend := NewMemoryBackend()
			for _, seed := range []*http.Request{httptest.NewRequest(http.MethodPut, "/tvm-s3-demo", nil),
				httptest.NewRequest(http.MethodPut, "/tvm-s3-demo/tenants/12/b.txt", strings.NewReader("b"))} {
				seed.Header.Set("Content-Length", strconv.FormatInt(seed.ContentLength, 10))
				backend.ServeHTTP(httptest.NewRecorder(), seed)
			}
			for _, rr := range rec.Requests {
				if rr.ExpectError != "" {
					continue
				}
				raw := decode64(t, rr.Body)
				r := rr.request(t, raw)
				v, err := sigv4.NewVerifier(sigv4.Options{Service: "s3", Region: "us-east-1",
					Clock: func() time.Time { return signingTime(t, r).Add(time.Minute) }})
				if err != nil {
					t.Fatal(err)
				}
				in := &iam.Session{Principal: "arn:aws:iam::123456789012:user/rec", Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
				gw, err := NewGateway(GatewayOptions{Backend: backend, Owner: "123456789012", Region: "us-east-1",
					Auth: sigAuth{v: v, key: rec.KeyID, secret: rec.Secret, caller: Caller{ARN: "arn:aws:iam::123456789012:user/rec", Session: in}}})
				if err != nil {
					t.Fatal(err)
				}
				w := do(gw, r)
				if strings.Contains(rr.URI, "uploadId=upload-1") { // the recording's upload id is made up
					if w.Code != http.StatusNotFound {
						t.Errorf("%s: %d %s", rr.Name, w.Code, w.Body)
					}
					continue
				}
				if w.Code >= 300 {
					t.Fatalf("%s: %d %s", rr.Name, w.Code, w.Body)
				}
				if rr.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" {
					key := strings.TrimPrefix(r.URL.Path, "/tvm-s3-demo/")
					got := httptest.NewRecorder()
					backend.ServeHTTP(got, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/tvm-s3-demo/" + key}, Header: http.Header{}})
					if want := decode64(t, rr.ExpectBody); !bytes.Equal(got.Body.Bytes(), want) {
						t.Errorf("%s: stored %d bytes, want %d", rr.Name, got.Body.Len(), len(want))
					}
				}
			}
		})
	}
}
