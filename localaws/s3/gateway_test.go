package s3

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/sigv4"
	"github.com/tvmkit/tvm/policies/iam"
)

// fakeAuth authenticates every request as one caller whose payload mode is
// the request's x-amz-content-sha256 (signatures are tested elsewhere).
type fakeAuth struct{ caller Caller }

func (f fakeAuth) Authenticate(r *http.Request) (*Caller, error) {
	c := f.caller
	mode := r.Header.Get("X-Amz-Content-Sha256")
	if mode == "" {
		mode = sigv4.UnsignedPayload
	}
	c.Signature = &sigv4.S3Result{Payload: mode}
	return &c, nil
}

func mustPolicy(t testing.TB, doc string) *iam.Policy {
	t.Helper()
	p, err := iam.Parse("test", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// tenantSession is the fact sheet's tenant shape (A.7) on bucket "bkt".
const tenantSession = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::bkt/tenants/1/*"},
 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"StringLike":{"s3:prefix":["tenants/1/","tenants/1/*"]}}}]}`

type gwEnv struct {
	backend http.Handler
	admin   *Gateway
	logs    *testenv.SyncBuffer
}

// newGateways returns gateways over one backend: admin (allow all) and, for
// each extra session policy, a caller with that session policy.
func newGateways(t testing.TB) *gwEnv {
	t.Helper()
	env := &gwEnv{backend: NewMemoryBackend(), logs: &testenv.SyncBuffer{}}
	env.admin = env.gateway(t, "arn:aws:iam::123456789012:user/admin", "")
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPut, "/bkt", nil),
		putReq("/bkt/tenants/1/a.txt", "one"), putReq("/bkt/tenants/12/b.txt", "twelve"),
	} {
		if w := do(env.admin, req); w.Code != http.StatusOK {
			t.Fatalf("seed %s: %d %s", req.URL, w.Code, w.Body)
		}
	}
	return env
}

func (env *gwEnv) gateway(t testing.TB, arn, session string) *Gateway {
	t.Helper()
	in := &iam.Session{Principal: arn, Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
	if session != "" {
		in.SessionPolicies = []*iam.Policy{mustPolicy(t, session)}
	}
	g, err := NewGateway(GatewayOptions{Backend: env.backend, Owner: "123456789012", Region: "us-east-1",
		Auth:   fakeAuth{Caller{ARN: arn, Account: "123456789012", Session: in}},
		Logger: slog.New(slog.NewJSONHandler(env.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// deleteReq is a DeleteObjects request with its Content-MD5, which S3
// requires (or a flexible checksum).
func deleteReq(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/bkt?delete", strings.NewReader(body))
	sum := md5.Sum([]byte(body))
	r.Header.Set("Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	return r
}

func putReq(target, body string) *http.Request {
	return httptest.NewRequest(http.MethodPut, target, strings.NewReader(body))
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Code string }
	if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("status %d, body %q: %v", w.Code, w.Body, err)
	}
	return e.Code
}

// stored reads an object straight from the backend.
func (env *gwEnv) stored(key string) (int, string) {
	w := httptest.NewRecorder()
	env.backend.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/bkt/"+key, nil))
	return w.Code, w.Body.String()
}

// Pitfall 4: DeleteObjects is authorized key by key; only the allowed keys
// reach the backend, the others get AccessDenied entries in a 200.
func TestPitfallDeleteObjectsKeyByKey(t *testing.T) {
	env := newGateways(t)
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	body := `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>tenants/1/a.txt</Key></Object>` +
		`<Object><Key>tenants/12/b.txt</Key></Object><Object><Key>tenants/1/missing</Key></Object></Delete>`
	w := do(tenant, deleteReq(body))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var res deleteResult
	if err := xml.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 2 || len(res.Errors) != 1 || res.Errors[0].Key != "tenants/12/b.txt" || res.Errors[0].Code != CodeAccessDenied {
		t.Fatalf("result %+v", res)
	}
	if code, _ := env.stored("tenants/1/a.txt"); code != http.StatusNotFound {
		t.Errorf("own key not deleted: %d", code)
	}
	if code, got := env.stored("tenants/12/b.txt"); code != http.StatusOK || got != "twelve" {
		t.Errorf("other tenant's key touched: %d %q", code, got)
	}
	// All keys denied: the backend is not called, the answer is still 200.
	w = do(tenant, deleteReq(`<Delete><Quiet>true</Quiet><Object><Key>tenants/12/b.txt</Key></Object></Delete>`))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<Code>AccessDenied</Code>") {
		t.Errorf("all denied: %d %s", w.Code, w.Body)
	}
	w = do(env.admin, deleteReq(`<Delete><Object><Key>tenants/12/b.txt</Key><VersionId>v1</VersionId></Object></Delete>`))
	if w.Code != http.StatusNotImplemented {
		t.Errorf("versioned entry: %d %s", w.Code, w.Body)
	}
}

// Pitfall 4: CopyObject and UploadPartCopy need s3:GetObject on the source
// and s3:PutObject on the destination.
func TestPitfallCopyBothObjects(t *testing.T) {
	env := newGateways(t)
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	copyReq := func(dst, src string) *http.Request {
		r := httptest.NewRequest(http.MethodPut, dst, nil)
		r.Header.Set("X-Amz-Copy-Source", src)
		return r
	}
	for _, tc := range []struct {
		dst, src string
		want     int
	}{
		{"/bkt/tenants/1/copy", "/bkt/tenants/1/a.txt", http.StatusOK},
		{"/bkt/tenants/1/stolen", "/bkt/tenants/12/b.txt", http.StatusForbidden},
		{"/bkt/tenants/12/planted", "/bkt/tenants/1/a.txt", http.StatusForbidden},
		{"/bkt/tenants/1/enc", "bkt%2Ftenants%2F12%2Fb.txt", http.StatusForbidden},
	} {
		if w := do(tenant, copyReq(tc.dst, tc.src)); w.Code != tc.want {
			t.Errorf("copy %s -> %s: %d %s", tc.src, tc.dst, w.Code, w.Body)
		}
	}
	if code, got := env.stored("tenants/1/copy"); code != http.StatusOK || got != "one" {
		t.Errorf("copy: %d %q", code, got)
	}
	// UploadPartCopy (implemented in the gateway): same two checks.
	w := do(env.admin, httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/mpu?uploads", nil))
	var created struct{ UploadId string }
	if err := xml.Unmarshal(w.Body.Bytes(), &created); err != nil || created.UploadId == "" {
		t.Fatalf("CreateMultipartUpload: %d %s", w.Code, w.Body)
	}
	part := func(src string) *httptest.ResponseRecorder {
		r := copyReq("/bkt/tenants/1/mpu?partNumber=1&uploadId="+created.UploadId, src)
		r.Header.Set("X-Amz-Copy-Source-Range", "bytes=0-1")
		return do(tenant, r)
	}
	if w := part("bkt/tenants/12/b.txt"); w.Code != http.StatusForbidden {
		t.Errorf("UploadPartCopy from tenant 12: %d %s", w.Code, w.Body)
	}
	if w := part("bkt/tenants/1/a.txt"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<CopyPartResult") {
		t.Errorf("UploadPartCopy own: %d %s", w.Code, w.Body)
	}
}

// Pitfall 3: ListMultipartUploads has no s3:prefix key, so a prefix
// condition on s3:ListBucketMultipartUploads never matches.
func TestPitfallListMultipartUploadsHasNoPrefix(t *testing.T) {
	env := newGateways(t)
	g := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:ListBucketMultipartUploads","Resource":"arn:aws:s3:::bkt","Condition":{"StringLike":{"s3:prefix":"tenants/1/*"}}}]}`)
	if w := do(g, httptest.NewRequest(http.MethodGet, "/bkt?uploads&prefix=tenants/1/", nil)); w.Code != http.StatusForbidden {
		t.Errorf("status %d %s", w.Code, w.Body)
	}
}

// Pitfall 5: gofakes3 would route PUT ?tagging to PutObject and overwrite
// the object with the XML body; the allow-list stops it.
func TestPitfallTaggingNeverReachesPutObject(t *testing.T) {
	env := newGateways(t)
	w := do(env.admin, putReq("/bkt/tenants/1/a.txt?tagging", `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`))
	if w.Code != http.StatusNotImplemented || errorCode(t, w) != CodeNotImplemented {
		t.Errorf("status %d %s", w.Code, w.Body)
	}
	if _, got := env.stored("tenants/1/a.txt"); got != "one" {
		t.Errorf("object overwritten: %q", got)
	}
	w = do(env.admin, httptest.NewRequest(http.MethodGet, "/bkt/tenants/1/a.txt?acl", nil))
	if w.Code != http.StatusNotImplemented {
		t.Errorf("GET ?acl: %d %s", w.Code, w.Body)
	}
}

// frameChunked frames data as aws-chunked (unsigned) with a CRC32 trailer.
func frameChunked(data []byte, chunk int, crc string) string {
	var b strings.Builder
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", end-off, data[off:end])
	}
	b.WriteString("0\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n")
	return b.String()
}

func crc32Base64(data []byte) string {
	sum := crc32.ChecksumIEEE(data)
	return base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
}

// Pitfall 6: aws-chunked bodies (as JS v3 sends them even over http) are
// decoded by the gateway; the backend stores the plain bytes, for PutObject
// and UploadPart alike, and a bad trailer checksum is refused.
func TestPitfallAWSChunkedDecodedByGateway(t *testing.T) {
	env := newGateways(t)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	chunked := func(target, crc string) *http.Request {
		r := httptest.NewRequest(http.MethodPut, target, strings.NewReader(frameChunked(data, 8192, crc)))
		r.ContentLength = -1
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Content-Sha256", sigv4.StreamingUnsignedTrailer)
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		return r
	}
	if w := do(env.admin, chunked("/bkt/tenants/1/chunked", crc32Base64(data))); w.Code != http.StatusOK {
		t.Fatalf("PutObject: %d %s", w.Code, w.Body)
	}
	if _, got := env.stored("tenants/1/chunked"); got != string(data) {
		t.Fatalf("stored %d bytes, want the %d decoded bytes", len(got), len(data))
	}
	w := do(env.admin, chunked("/bkt/tenants/1/bad", crc32Base64([]byte("other"))))
	if w.Code != http.StatusBadRequest || errorCode(t, w) != CodeBadDigest {
		t.Errorf("bad trailer checksum: %d %s", w.Code, w.Body)
	}
	if code, _ := env.stored("tenants/1/bad"); code != http.StatusNotFound {
		t.Error("object stored despite a bad checksum")
	}
	w = do(env.admin, httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/mpu?uploads", nil))
	var created struct{ UploadId string }
	_ = xml.Unmarshal(w.Body.Bytes(), &created)
	w = do(env.admin, chunked("/bkt/tenants/1/mpu?partNumber=1&uploadId="+created.UploadId, crc32Base64(data)))
	if w.Code != http.StatusOK {
		t.Fatalf("UploadPart: %d %s", w.Code, w.Body)
	}
	complete := `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>` + w.Header().Get("ETag") + `</ETag></Part></CompleteMultipartUpload>`
	if w := do(env.admin, httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/mpu?uploadId="+created.UploadId, strings.NewReader(complete))); w.Code != http.StatusOK {
		t.Fatalf("Complete: %d %s", w.Code, w.Body)
	}
	if _, got := env.stored("tenants/1/mpu"); got != string(data) {
		t.Fatalf("multipart object holds %d bytes, want %d", len(got), len(data))
	}
}

// Pitfall 2: no prefix parameter means no s3:prefix key; prefix= means a
// present key with value "".
func TestPitfallAbsentVersusEmptyPrefix(t *testing.T) {
	env := newGateways(t)
	root := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/root", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"StringEquals":{"s3:prefix":[""],"s3:delimiter":["/"]}}}]}`)
	notLike := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/deny", `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt"},
	 {"Effect":"Deny","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt","Condition":{"StringNotLike":{"s3:prefix":["tenants/1/*"]}}}]}`)
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	for _, tc := range []struct {
		name   string
		g      *Gateway
		target string
		want   int
	}{
		{"root listing with prefix= and delimiter", root, "/bkt?list-type=2&prefix=&delimiter=/", http.StatusOK},
		{"root listing without prefix", root, "/bkt?list-type=2&delimiter=/", http.StatusForbidden},
		{"StringNotLike deny: no prefix is a missing key, so the Deny matches", notLike, "/bkt?list-type=2", http.StatusForbidden},
		{"StringNotLike deny: empty prefix", notLike, "/bkt?list-type=2&prefix=", http.StatusForbidden},
		{"StringNotLike deny: own prefix", notLike, "/bkt?list-type=2&prefix=tenants/1/", http.StatusOK},
		{"tenant: own prefix", tenant, "/bkt?list-type=2&prefix=tenants/1/", http.StatusOK},
		{"tenant: empty prefix", tenant, "/bkt?list-type=2&prefix=", http.StatusForbidden},
		{"tenant: no prefix", tenant, "/bkt?list-type=2", http.StatusForbidden},
		{"tenant: tenants/1 without the delimiter", tenant, "/bkt?prefix=tenants/1", http.StatusForbidden},
		{"tenant: HeadBucket has no prefix", tenant, "/bkt", http.StatusForbidden},
	} {
		method := http.MethodGet
		if tc.name == "tenant: HeadBucket has no prefix" {
			method = http.MethodHead
		}
		if w := do(tc.g, httptest.NewRequest(method, tc.target, nil)); w.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, w.Code, tc.want, w.Body)
		}
	}
}

// Pitfall 7: path style only; keys are taken as sent, with no dot-segment
// or slash normalization.
func TestPitfallPathStyleAndRawKeys(t *testing.T) {
	env := newGateways(t)
	r := httptest.NewRequest(http.MethodGet, "/tenants/1/a.txt", nil)
	r.Host = "bkt.localhost:4566"
	if w := do(env.admin, r); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "path-style") {
		t.Errorf("virtual-hosted: %d %s", w.Code, w.Body)
	}
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	if w := do(tenant, putReq("/bkt/tenants/1/../12/x", "dots")); w.Code != http.StatusOK {
		t.Fatalf("PUT with dot segments: %d %s", w.Code, w.Body)
	}
	if code, got := env.stored("tenants/1/../12/x"); code != http.StatusOK || got != "dots" {
		t.Errorf("literal key: %d %q", code, got)
	}
	if code, _ := env.stored("tenants/12/x"); code != http.StatusNotFound {
		t.Error("the key was normalized into another tenant's prefix")
	}
	if w := do(tenant, putReq("/bkt/tenants/1//x", "slashes")); w.Code != http.StatusOK {
		t.Fatalf("PUT with a double slash: %d", w.Code)
	}
	if code, _ := env.stored("tenants/1//x"); code != http.StatusOK {
		t.Error("double slash not kept")
	}
}

// A.2: GetObject/HeadObject on a missing key answer 404 only to a caller
// allowed s3:ListBucket on the bucket (without prefix keys), else 403.
func TestMissingKey404Or403(t *testing.T) {
	env := newGateways(t)
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		if w := do(env.admin, httptest.NewRequest(method, "/bkt/tenants/1/none", nil)); w.Code != http.StatusNotFound {
			t.Errorf("admin %s: %d", method, w.Code)
		}
		if w := do(tenant, httptest.NewRequest(method, "/bkt/tenants/1/none", nil)); w.Code != http.StatusForbidden {
			t.Errorf("tenant %s: %d", method, w.Code)
		}
	}
	if w := do(env.admin, httptest.NewRequest(http.MethodGet, "/nobucket/k", nil)); w.Code != http.StatusNotFound || errorCode(t, w) != CodeNoSuchBucket {
		t.Errorf("missing bucket: %d %s", w.Code, w.Body)
	}
}

// TestCRC64NVMECheckValue pins the CRC-64/NVME parameters to the
// catalogue's check value (CRC of "123456789").
func TestCRC64NVMECheckValue(t *testing.T) {
	h := checksumAlgs[2].newHash()
	h.Write([]byte("123456789"))
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != "ae8b14860a799888" {
		t.Errorf("crc64nvme check value %s", got)
	}
}

// TestChecksumHeadersAndDigests: expected values computed independently
// (Python hashlib and a bitwise CRC).
func TestChecksumHeadersAndDigests(t *testing.T) {
	env := newGateways(t)
	data := []byte("checked body")
	for _, tc := range []struct {
		name, header, value string
		want                int
	}{
		{"crc32", "X-Amz-Checksum-Crc32", crc32Base64(data), http.StatusOK},
		{"crc32 wrong", "X-Amz-Checksum-Crc32", crc32Base64([]byte("x")), http.StatusBadRequest},
		{"crc32 malformed", "X-Amz-Checksum-Crc32", "!!", http.StatusBadRequest},
		{"crc32c", "X-Amz-Checksum-Crc32c", "6/v7WA==", http.StatusOK},
		{"crc64nvme", "X-Amz-Checksum-Crc64nvme", "+DGC6myFKCo=", http.StatusOK},
		{"sha1", "X-Amz-Checksum-Sha1", "3msetpvtVjWue1Sqdiut6TAkmO0=", http.StatusOK},
		{"sha256", "X-Amz-Checksum-Sha256", "XYVmteQ6KwS+FtqeZmRw43Zkg8tO2eQeVh0h66BagY8=", http.StatusOK},
		{"content-md5", "Content-Md5", "2rfx3n2gnb/BAslzCkBSew==", http.StatusOK},
		{"content-md5 wrong", "Content-Md5", "AAAAAAAAAAAAAAAAAAAAAA==", http.StatusBadRequest},
	} {
		r := putReq("/bkt/tenants/1/sum", string(data))
		r.Header.Set(tc.header, tc.value)
		if w := do(env.admin, r); w.Code != tc.want {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	r := putReq("/bkt/tenants/1/sum", string(data))
	r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
	if w := do(env.admin, r); w.Code != http.StatusBadRequest || errorCode(t, w) != CodeXAmzContentSHA256Mismatch {
		t.Errorf("payload hash mismatch: %d %s", w.Code, w.Body)
	}
}

func TestDecisionsLoggedWithoutSecrets(t *testing.T) {
	env := newGateways(t)
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	do(tenant, httptest.NewRequest(http.MethodGet, "/bkt?list-type=2&prefix=tenants/12/", nil))
	logs := env.logs.String()
	for _, want := range []string{`"msg":"s3 authorization"`, `"action":"s3:ListBucket"`, `"decision":"ImplicitDeny"`, `"s3:prefix":["tenants/12/"]`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// Versioning is off in the backend: version requests are authorized as
// their *Version actions and then answered NotImplemented, never served
// from the current version.
func TestVersionsNotImplemented(t *testing.T) {
	env := newGateways(t)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/bkt/tenants/1/a.txt?versionId=v1", nil),
		httptest.NewRequest(http.MethodHead, "/bkt/tenants/1/a.txt?versionId=v1", nil),
		httptest.NewRequest(http.MethodDelete, "/bkt/tenants/1/a.txt?versionId=v1", nil),
		httptest.NewRequest(http.MethodGet, "/bkt?versions", nil),
		putReq("/bkt?versioning", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`),
	} {
		if w := do(env.admin, r); w.Code != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s", r.Method, r.URL, w.Code, w.Body)
		}
	}
	if _, got := env.stored("tenants/1/a.txt"); got != "one" {
		t.Errorf("object changed: %q", got)
	}
}

// gofakes3 honours a MinIO extension, x-minio-force-delete: true on
// DeleteBucket deletes a bucket and every object in it. S3 ignores the
// header and answers BucketNotEmpty, so a caller allowed only
// s3:DeleteBucket must not be able to wipe every tenant's objects: only
// headers the gateway vetted reach the backend.
func TestUnvettedHeadersNeverReachTheBackend(t *testing.T) {
	env := newGateways(t)
	r := httptest.NewRequest(http.MethodDelete, "/bkt", nil)
	r.Header.Set("X-Minio-Force-Delete", "true")
	w := do(env.admin, r)
	if w.Code != http.StatusConflict || errorCode(t, w) != "BucketNotEmpty" {
		t.Errorf("DeleteBucket with x-minio-force-delete: %d %s", w.Code, w.Body)
	}
	for key, want := range map[string]string{"tenants/1/a.txt": "one", "tenants/12/b.txt": "twelve"} {
		if code, got := env.stored(key); code != http.StatusOK || got != want {
			t.Errorf("%s after the forced delete: %d %q", key, code, got)
		}
	}
}

// Bodies are bounded by MaxObjectBytes, plain and aws-chunked alike, with
// S3's EntityTooLarge (400 Bad Request, Amazon S3 API Reference, "List of
// error codes"); nothing is stored.
func TestBodyLimit(t *testing.T) {
	env := newGateways(t)
	in := &iam.Session{Principal: "arn:aws:iam::123456789012:user/admin", Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
	g, err := NewGateway(GatewayOptions{Backend: env.backend, Owner: "123456789012", Region: "us-east-1", MaxObjectBytes: 1000,
		Auth: fakeAuth{Caller{ARN: in.Principal, Account: "123456789012", Session: in}}})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1001)
	chunked := func(key string, declared int) *http.Request {
		r := httptest.NewRequest(http.MethodPut, "/bkt/"+key, strings.NewReader(frameChunked(data, 512, crc32Base64(data))))
		r.ContentLength = -1
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Content-Sha256", sigv4.StreamingUnsignedTrailer)
		r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(declared))
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		code string
	}{
		{"plain body", putReq("/bkt/tenants/1/big", string(data)), CodeEntityTooLarge},
		{"aws-chunked, declared too large", chunked("tenants/1/big", len(data)), CodeEntityTooLarge},
		{"aws-chunked, more data than declared", chunked("tenants/1/big", 1000), CodeIncompleteBody},
	} {
		w := do(g, tc.r)
		if w.Code != http.StatusBadRequest || errorCode(t, w) != tc.code {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	if code, _ := env.stored("tenants/1/big"); code != http.StatusNotFound {
		t.Error("an oversized body was stored")
	}
	if w := do(g, putReq("/bkt/tenants/1/fits", string(data[:1000]))); w.Code != http.StatusOK {
		t.Errorf("a body of exactly the limit: %d %s", w.Code, w.Body)
	}
}

// UploadPartCopy reads its source through the gateway: the part is bounded
// by MaxObjectBytes like an uploaded part, so copying a large object (say
// one assembled from many parts) cannot make the gateway buffer it whole.
func TestUploadPartCopyBounded(t *testing.T) {
	env := newGateways(t)
	if w := do(env.admin, putReq("/bkt/tenants/1/src", strings.Repeat("s", 2000))); w.Code != http.StatusOK {
		t.Fatalf("seed: %d %s", w.Code, w.Body)
	}
	in := &iam.Session{Principal: "arn:aws:iam::123456789012:user/admin", Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
	g, err := NewGateway(GatewayOptions{Backend: env.backend, Owner: "123456789012", Region: "us-east-1", MaxObjectBytes: 1000,
		Auth: fakeAuth{Caller{ARN: in.Principal, Account: "123456789012", Session: in}}})
	if err != nil {
		t.Fatal(err)
	}
	w := do(g, httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/mpu?uploads", nil))
	var created struct{ UploadId string }
	if err := xml.Unmarshal(w.Body.Bytes(), &created); err != nil || created.UploadId == "" {
		t.Fatalf("CreateMultipartUpload: %d %s", w.Code, w.Body)
	}
	part := func(rng string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPut, "/bkt/tenants/1/mpu?partNumber=1&uploadId="+created.UploadId, nil)
		r.Header.Set("X-Amz-Copy-Source", "bkt/tenants/1/src")
		if rng != "" {
			r.Header.Set("X-Amz-Copy-Source-Range", rng)
		}
		return do(g, r)
	}
	if w := part(""); w.Code != http.StatusBadRequest || errorCode(t, w) != CodeEntityTooLarge {
		t.Errorf("whole 2000-byte source as a part: %d %s", w.Code, w.Body)
	}
	if w := part("bytes=0-999"); w.Code != http.StatusOK {
		t.Errorf("1000-byte range: %d %s", w.Code, w.Body)
	}
}

// Conditions gofakes3 cannot honour are refused, never dropped: a
// CompleteMultipartUpload with If-None-Match: * (S3's conditional write)
// must not overwrite an existing object, and a DeleteObjects entry with an
// ETag (S3's conditional delete) must not delete unconditionally.
func TestUnhonouredConditionsRefused(t *testing.T) {
	env := newGateways(t)
	w := do(env.admin, httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/a.txt?uploads", nil))
	var created struct{ UploadId string }
	if err := xml.Unmarshal(w.Body.Bytes(), &created); err != nil || created.UploadId == "" {
		t.Fatalf("CreateMultipartUpload: %d %s", w.Code, w.Body)
	}
	w = do(env.admin, putReq("/bkt/tenants/1/a.txt?partNumber=1&uploadId="+created.UploadId, "replaced"))
	if w.Code != http.StatusOK {
		t.Fatalf("UploadPart: %d %s", w.Code, w.Body)
	}
	complete := httptest.NewRequest(http.MethodPost, "/bkt/tenants/1/a.txt?uploadId="+created.UploadId, strings.NewReader(
		`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>`+w.Header().Get("ETag")+`</ETag></Part></CompleteMultipartUpload>`))
	complete.Header.Set("If-None-Match", "*")
	if w := do(env.admin, complete); w.Code != http.StatusNotImplemented {
		t.Errorf("CompleteMultipartUpload with If-None-Match: %d %s", w.Code, w.Body)
	}
	del := deleteReq(`<Delete><Object><Key>tenants/12/b.txt</Key><ETag>"00000000000000000000000000000000"</ETag></Object></Delete>`)
	if w := do(env.admin, del); w.Code != http.StatusNotImplemented {
		t.Errorf("DeleteObjects with an ETag condition: %d %s", w.Code, w.Body)
	}
	for key, want := range map[string]string{"tenants/1/a.txt": "one", "tenants/12/b.txt": "twelve"} {
		if code, got := env.stored(key); code != http.StatusOK || got != want {
			t.Errorf("%s: %d %q", key, code, got)
		}
	}
}

// DeleteObjects needs an integrity check of its body, as S3 requires:
// Content-MD5 or a flexible checksum (header or trailer); without either
// S3 answers InvalidRequest "Missing required header for this request:
// Content-MD5", and so does the local S3, deleting nothing.
func TestDeleteObjectsNeedsAChecksum(t *testing.T) {
	env := newGateways(t)
	body := `<Delete><Object><Key>tenants/1/a.txt</Key></Object></Delete>`
	bare := httptest.NewRequest(http.MethodPost, "/bkt?delete", strings.NewReader(body))
	w := do(env.admin, bare)
	if w.Code != http.StatusBadRequest || errorCode(t, w) != CodeInvalidRequest || !strings.Contains(w.Body.String(), "Content-MD5") {
		t.Errorf("no checksum: %d %s", w.Code, w.Body)
	}
	if code, got := env.stored("tenants/1/a.txt"); code != http.StatusOK || got != "one" {
		t.Errorf("deleted without a checksum: %d %q", code, got)
	}
	crc := httptest.NewRequest(http.MethodPost, "/bkt?delete", strings.NewReader(body))
	crc.Header.Set("X-Amz-Checksum-Crc32", crc32Base64([]byte(body)))
	if w := do(env.admin, crc); w.Code != http.StatusOK {
		t.Errorf("with x-amz-checksum-crc32: %d %s", w.Code, w.Body)
	}
	if code, _ := env.stored("tenants/1/a.txt"); code != http.StatusNotFound {
		t.Error("not deleted with a checksum")
	}
}

// nilSigAuth returns a caller with no verified signature.
type nilSigAuth struct{ caller Caller }

func (a nilSigAuth) Authenticate(*http.Request) (*Caller, error) { c := a.caller; return &c, nil }

// An Authenticator that returns a caller without a verified signature or
// session fails closed with InternalError (no panic, nothing forwarded).
func TestIncompleteCallerFailsClosed(t *testing.T) {
	env := newGateways(t)
	in := &iam.Session{Principal: "arn:aws:iam::123456789012:user/admin", Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
	for name, c := range map[string]Caller{
		"no signature": {ARN: in.Principal, Account: "123456789012", Session: in},
		"no session":   {ARN: in.Principal, Account: "123456789012", Signature: &sigv4.S3Result{Payload: sigv4.UnsignedPayload}},
	} {
		g, err := NewGateway(GatewayOptions{Backend: env.backend, Owner: "123456789012", Region: "us-east-1", Auth: nilSigAuth{c}})
		if err != nil {
			t.Fatal(err)
		}
		if w := do(g, putReq("/bkt/tenants/1/a.txt", "overwritten")); w.Code != http.StatusInternalServerError || errorCode(t, w) != CodeInternalError {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if _, got := env.stored("tenants/1/a.txt"); got != "one" {
		t.Errorf("object changed: %q", got)
	}
}

// A listing allowed for the tenant's prefix lists only keys under that
// prefix, whatever the delimiter: gofakes3 v1.2.0 strips leading
// delimiter characters (strings.TrimLeft, a character set) from keys and
// prefix before matching, so prefix tenants/1/ with delimiter "tenas/1"
// listed every key of the bucket, other tenants' included.
func TestListingStaysInsideThePrefix(t *testing.T) {
	env := newGateways(t)
	for _, k := range []string{"tenants/2/secret.txt", "xtenants/1/outside", "/tenants/1/lead", "tenants/1/sub/deep.txt", "tenants/1/sub/other.txt", "tenants/1/tail"} {
		if w := do(env.admin, putReq("/bkt/"+k, "v")); w.Code != http.StatusOK {
			t.Fatalf("seed %s: %d", k, w.Code)
		}
	}
	tenant := env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession)
	type listing struct {
		Contents       []struct{ Key string }
		CommonPrefixes []struct{ Prefix string }
		IsTruncated    bool
		NextMarker     string
	}
	list := func(query string) listing {
		t.Helper()
		w := do(tenant, httptest.NewRequest(http.MethodGet, "/bkt?"+query, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, w.Code, w.Body)
		}
		var l listing
		if err := xml.Unmarshal(w.Body.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	names := func(l listing) []string {
		var out []string
		for _, c := range l.Contents {
			out = append(out, c.Key)
		}
		for _, p := range l.CommonPrefixes {
			out = append(out, p.Prefix+" (prefix)")
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"list-type=2&prefix=tenants/1/&delimiter=tenas/1", []string{"tenants/1/a.txt", "tenants/1/sub/deep.txt", "tenants/1/sub/other.txt", "tenants/1/tail"}},
		{"list-type=2&prefix=tenants/1/&delimiter=x", []string{"tenants/1/tail", "tenants/1/a.tx (prefix)", "tenants/1/sub/deep.tx (prefix)", "tenants/1/sub/other.tx (prefix)"}},
		{"prefix=tenants/1/&delimiter=/", []string{"tenants/1/a.txt", "tenants/1/tail", "tenants/1/sub/ (prefix)"}},
		{"list-type=2&prefix=tenants/1/&delimiter=t", []string{"tenants/1/a.t (prefix)", "tenants/1/sub/deep.t (prefix)", "tenants/1/sub/ot (prefix)", "tenants/1/t (prefix)"}},
	} {
		l := list(tc.query)
		got := names(l)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", tc.query, got, tc.want)
		}
	}
	// Paging one entry at a time (a common prefix counts once) visits every
	// entry exactly once, in order, and never leaves the prefix.
	var pages []string
	marker := ""
	for range 10 {
		l := list("prefix=tenants/1/&delimiter=/&max-keys=1&marker=" + url.QueryEscape(marker))
		pages = append(pages, names(l)...)
		if !l.IsTruncated {
			break
		}
		marker = l.NextMarker
	}
	if want := "tenants/1/a.txt|tenants/1/sub/ (prefix)|tenants/1/tail"; strings.Join(pages, "|") != want {
		t.Errorf("pages %q, want %s", pages, want)
	}
}

// Buckets belong to the owner account and have no bucket policies, so a
// caller from another account is denied whatever its own policies allow,
// as S3 denies a cross-account request no bucket policy grants ("Cross-
// account policy evaluation logic").
func TestCrossAccountCallerDenied(t *testing.T) {
	env := newGateways(t)
	arn := "arn:aws:iam::210987654321:user/partner"
	in := &iam.Session{Principal: arn, Account: "210987654321", Identity: []*iam.Policy{mustPolicy(t, allowAll)}}
	g, err := NewGateway(GatewayOptions{Backend: env.backend, Owner: "123456789012", Region: "us-east-1",
		Auth: fakeAuth{Caller{ARN: arn, Account: "210987654321", Session: in}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/bkt/tenants/1/a.txt", nil),
		putReq("/bkt/tenants/1/a.txt", "overwritten"),
		httptest.NewRequest(http.MethodGet, "/bkt?list-type=2&prefix=tenants/", nil),
	} {
		w := do(g, r)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no resource-based policy allows") {
			t.Errorf("%s %s: %d %s", r.Method, r.URL, w.Code, w.Body)
		}
	}
	if _, got := env.stored("tenants/1/a.txt"); got != "one" {
		t.Errorf("object changed: %q", got)
	}
}

// A refused request whose body the client is still sending gets its error
// on a connection that stays usable: the gateway reads the rest of the
// body first (Go's server alone reads 256 KiB, then closes the connection
// under the client's writes: a denied 5 MiB UploadPart saw "connection
// reset by peer" instead of AccessDenied). "Expect: 100-continue" is
// answered with the 100, then the error: the sender here, like a proxy,
// does not wait for the 100. A declared length past the limit is answered
// without reading the body.
func TestRefusalReadsTheUnsentBody(t *testing.T) {
	env := newGateways(t)
	srv := httptest.NewServer(env.gateway(t, "arn:aws:sts::123456789012:assumed-role/r/t-1", tenantSession))
	defer srv.Close()
	put := func(length int64, extra string) string {
		return fmt.Sprintf("PUT /bkt/tenants/12/x.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n", srv.Listener.Addr(), length, extra)
	}
	for _, tc := range []struct {
		name      string
		head      string
		body      int // bytes sent right after the head
		keepAlive bool
	}{
		{"body sent whole", put(6<<20, ""), 6 << 20, true},
		{"expect 100-continue, body sent without waiting", put(6<<20, "Expect: 100-continue\r\n"), 6 << 20, true},
		{"declared past the limit, body never sent", put(DefaultMaxObjectBytes+1, ""), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			wrote := make(chan error, 1)
			go func() {
				_, err := io.WriteString(conn, tc.head)
				if err == nil && tc.body > 0 {
					_, err = conn.Write(make([]byte, tc.body))
				}
				wrote <- err
			}()
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err == nil && resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
				t.Fatalf("%d %q (%v), want 403 AccessDenied", resp.StatusCode, body, err)
			}
			if err := <-wrote; err != nil {
				t.Fatalf("sending the request: %v", err)
			}
			if !tc.keepAlive {
				if !resp.Close {
					t.Error("the connection is kept although the body was left unread")
				}
				return
			}
			if resp.Close {
				t.Fatal("the connection is closed after a refusal whose body was read")
			}
			if _, err := fmt.Fprintf(conn, "GET /bkt/tenants/1/a.txt HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Listener.Addr()); err != nil {
				t.Fatal(err)
			}
			next, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("second request on the connection: %v", err)
			}
			got, _ := io.ReadAll(next.Body)
			next.Body.Close()
			if next.StatusCode != http.StatusOK || string(got) != "one" {
				t.Errorf("second request: %d %q, want 200 \"one\"", next.StatusCode, got)
			}
		})
	}
}
