package localaws

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/tvmkit/tvm/internal/testenv"
	"github.com/tvmkit/tvm/localaws/identity"
)

const (
	s3Bucket = "tvm-s3-demo"
	s3Role   = "arn:aws:iam::123456789012:role/tvm-s3-tenant"
)

// s3TestConfigYAML is the built-in configuration plus a role with broad S3
// permissions on the test bucket: the session policy must narrow it.
func s3TestConfigYAML() []byte {
	return []byte(strings.Replace(string(identity.DefaultYAML), "    roles:\n", `    roles:
      - name: tvm-s3-tenant
        max_session_duration: 1h
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/broker"},"Action":"sts:AssumeRole"}]}'
        policies:
          - name: s3-bucket
            document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::`+s3Bucket+`","arn:aws:s3:::`+s3Bucket+`/*"]}]}'
`, 1))
}

// s3TenantPolicy isolates tenants/<tenant>/ with the delimiter in both the
// object resource and the s3:prefix condition (fact sheet A.7).
func s3TenantPolicy(tenant string) string {
	p := "tenants/" + tenant + "/"
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"Obj","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],` +
		`"Resource":"arn:aws:s3:::` + s3Bucket + `/` + p + `*"},` +
		`{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::` + s3Bucket + `",` +
		`"Condition":{"StringLike":{"s3:prefix":["` + p + `","` + p + `*"]}}}]}`
}

type s3Stack struct {
	url  string
	logs *testenv.SyncBuffer
	cfg  aws.Config
}

// startS3Stack serves a Server on an httptest listener (127.0.0.1: the SDK
// picks path style for an IP endpoint) and loads an SDK config for it.
func startS3Stack(t testing.TB, tlsServer bool) *s3Stack {
	t.Helper()
	idcfg, err := identity.ParseConfig(s3TestConfigYAML())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if tlsServer {
		scheme = "https"
	}
	st := &s3Stack{url: scheme + "://" + hs.Listener.Addr().String(), logs: &testenv.SyncBuffer{}}
	srv, err := New(Config{Identity: idcfg, Issuer: st.url, Logger: slog.New(slog.NewJSONHandler(st.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv
	if tlsServer {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", st.url)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "")
	t.Setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "")
	st.cfg, err = config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithRetryMaxAttempts(1), config.WithHTTPClient(hs.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// client returns an S3 client with the SDK's default settings (checksums
// when_supported, no forced path style).
func (st *s3Stack) client(key, secret, token string) *s3.Client {
	return s3.NewFromConfig(st.cfg, func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

func (st *s3Stack) tenant(t *testing.T, tenant string) *s3.Client {
	t.Helper()
	out, err := sts.NewFromConfig(st.cfg, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(brokerKey, brokerSecret, "")
	}).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(s3Role), RoleSessionName: aws.String("t-" + tenant), Policy: aws.String(s3TenantPolicy(tenant)),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	c := out.Credentials
	return st.client(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
}

func seedS3(t *testing.T, admin *s3.Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	for _, k := range []string{"tenants/1/a.txt", "tenants/12/b.txt", "tenants/2/c.txt"} {
		if _, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(k),
			Body: strings.NewReader("data of " + k)}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
}

func s3ErrCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return ""
}

// TestS3TenantIsolationGoSDK drives the S3 gateway with the Go SDK's S3
// client (default checksum settings) signed with STS credentials for a
// session policy that isolates tenants/1/.
func TestS3TenantIsolationGoSDK(t *testing.T) {
	st := startS3Stack(t, false)
	ctx := context.Background()
	admin := st.client(adminKey, adminSecret, "")
	seedS3(t, admin)
	t1 := st.tenant(t, "1")
	b := aws.String(s3Bucket)
	list := func(prefix *string) func() error {
		return func() error {
			_, err := t1.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: prefix})
			return err
		}
	}
	rows := []struct {
		name string
		call func() error
		want string // "" allowed, else the error code
	}{
		{"get own", func() error {
			out, err := t1.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tenants/1/a.txt")})
			if err == nil {
				out.Body.Close()
			}
			return err
		}, ""},
		{"put own", func() error {
			_, err := t1.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("tenants/1/new.txt"), Body: strings.NewReader("new")})
			return err
		}, ""},
		{"list own prefix", list(aws.String("tenants/1/")), ""},
		{"list own sub-prefix", list(aws.String("tenants/1/sub/")), ""},
		{"copy own to own", func() error {
			_, err := t1.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("tenants/1/copy.txt"), CopySource: aws.String(s3Bucket + "/tenants/1/a.txt")})
			return err
		}, ""},
		{"delete own", func() error {
			_, err := t1.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("tenants/1/new.txt")})
			return err
		}, ""},
		{"get tenant 12", func() error {
			_, err := t1.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tenants/12/b.txt")})
			return err
		}, "AccessDenied"},
		{"put tenant 12", func() error {
			_, err := t1.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("tenants/12/x.txt"), Body: strings.NewReader("x")})
			return err
		}, "AccessDenied"},
		{"list tenant 12", list(aws.String("tenants/12/")), "AccessDenied"},
		{"list prefix tenants/1 (no delimiter)", list(aws.String("tenants/1")), "AccessDenied"},
		{"list without prefix", list(nil), "AccessDenied"},
		{"list empty prefix", list(aws.String("")), "AccessDenied"},
		{"list tenants/", list(aws.String("tenants/")), "AccessDenied"},
		{"copy from tenant 12", func() error {
			_, err := t1.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("tenants/1/stolen.txt"), CopySource: aws.String(s3Bucket + "/tenants/12/b.txt")})
			return err
		}, "AccessDenied"},
		{"list multipart uploads", func() error {
			_, err := t1.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
			return err
		}, "AccessDenied"},
		{"get own missing key (no unconditional ListBucket: 403)", func() error {
			_, err := t1.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tenants/1/missing")})
			return err
		}, "AccessDenied"},
		{"admin get missing key: 404", func() error {
			_, err := admin.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tenants/1/missing")})
			return err
		}, "NoSuchKey"},
		{"tagging is not implemented", func() error {
			_, err := admin.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("tenants/1/a.txt"),
				Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
			return err
		}, "NotImplemented"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if got := s3ErrCode(row.call()); got != row.want {
				t.Fatalf("got %q, want %q", got, row.want)
			}
		})
	}
	t.Run("denial message", func(t *testing.T) {
		_, err := t1.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tenants/12/b.txt")})
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("got %v", err)
		}
		want := `User: arn:aws:sts::123456789012:assumed-role/tvm-s3-tenant/t-1 is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::tvm-s3-demo/tenants/12/b.txt" because no session policy allows the s3:GetObject action`
		if ae.ErrorMessage() != want {
			t.Errorf("message\n got %s\nwant %s", ae.ErrorMessage(), want)
		}
	})
	t.Run("own listing holds only own keys", func(t *testing.T) {
		out, err := t1.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("tenants/1/")})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if strings.Join(keys, ",") != "tenants/1/a.txt,tenants/1/copy.txt" {
			t.Errorf("keys %v", keys)
		}
	})
	t.Run("tagging did not overwrite the object", func(t *testing.T) {
		checkBody(t, admin, "tenants/1/a.txt", "data of tenants/1/a.txt")
	})
	t.Run("DeleteObjects key by key", func(t *testing.T) {
		out, err := t1.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
			{Key: aws.String("tenants/1/copy.txt")}, {Key: aws.String("tenants/12/b.txt")},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].Key) != "tenants/1/copy.txt" {
			t.Errorf("deleted %+v", out.Deleted)
		}
		if len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "tenants/12/b.txt" || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
			t.Errorf("errors %+v", out.Errors)
		}
		checkBody(t, admin, "tenants/12/b.txt", "data of tenants/12/b.txt")
	})
	t.Run("multipart over 5 MiB into own prefix", func(t *testing.T) {
		data := make([]byte, 6<<20+123)
		_, _ = rand.Read(data)
		if err := multipartUpload(ctx, t1, "tenants/1/big.bin", data); err != nil {
			t.Fatalf("multipart upload: %v", err)
		}
		checkBody(t, admin, "tenants/1/big.bin", string(data))
	})
	t.Run("multipart into tenant 12 denied", func(t *testing.T) {
		data := make([]byte, 6<<20)
		if got := s3ErrCode(multipartUpload(ctx, t1, "tenants/12/big.bin", data)); got != "AccessDenied" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("presigned", func(t *testing.T) { testPresigned(t, t1) })
	if !strings.Contains(st.logs.String(), `"msg":"s3 authorization"`) {
		t.Error("no authorization decisions logged")
	}
}

func checkBody(t *testing.T, c *s3.Client, key, want string) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil || string(got) != want {
		t.Fatalf("GetObject %s: %d bytes, err %v; want %d bytes", key, len(got), err, len(want))
	}
}

// multipartUpload uploads data in 5 MiB parts with CreateMultipartUpload,
// UploadPart and CompleteMultipartUpload.
func multipartUpload(ctx context.Context, c *s3.Client, key string, data []byte) error {
	b := aws.String(s3Bucket)
	created, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []s3types.CompletedPart
	for i, off := int32(1), 0; off < len(data); i, off = i+1, off+5<<20 {
		end := min(off+5<<20, len(data))
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String(key), UploadId: created.UploadId,
			PartNumber: aws.Int32(i), Body: bytes.NewReader(data[off:end])})
		if err != nil {
			return err
		}
		parts = append(parts, s3types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(i)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// testPresigned checks presigned GETs: own key allowed, other tenant's key
// denied by the same IAM evaluation.
func testPresigned(t *testing.T, c *s3.Client) {
	ps := s3.NewPresignClient(c)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range []struct {
		key  string
		want int
	}{{"tenants/1/a.txt", http.StatusOK}, {"tenants/12/b.txt", http.StatusForbidden}} {
		req, err := ps.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(tc.key)},
			s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("presigned GET %s: %d %s", tc.key, resp.StatusCode, body)
		}
	}
}

// unseekable hides Seek: the SDK must stream it (aws-chunked with a
// checksum trailer, which Go v2 only does over TLS).
type unseekable struct{ io.Reader }

// TestS3GatewayHTTPSStreaming: over https the Go SDK sends PutObject and
// UploadPart as aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32
// trailer; the gateway verifies and decodes them, and the backend stores
// the plain bytes.
func TestS3GatewayHTTPSStreaming(t *testing.T) {
	st := startS3Stack(t, true)
	ctx := context.Background()
	admin := st.client(adminKey, adminSecret, "")
	seedS3(t, admin)
	t1 := st.tenant(t, "1")
	data := bytes.Repeat([]byte("streamed tenant data "), 20000)
	_, err := t1.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("tenants/1/stream.bin"),
		Body: unseekable{bytes.NewReader(data)}, ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		t.Fatalf("streamed PutObject: %v", err)
	}
	checkBody(t, admin, "tenants/1/stream.bin", string(data))
	_, err = t1.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("tenants/12/stream.bin"),
		Body: unseekable{bytes.NewReader(data)}, ContentLength: aws.Int64(int64(len(data)))})
	if got := s3ErrCode(err); got != "AccessDenied" {
		t.Fatalf("streamed PutObject into tenant 12: %q", got)
	}
	big := make([]byte, 6<<20)
	_, _ = rand.Read(big)
	if err := multipartUpload(ctx, t1, "tenants/1/big-tls.bin", big); err != nil {
		t.Fatalf("multipart over TLS: %v", err)
	}
	checkBody(t, admin, "tenants/1/big-tls.bin", string(big))
	if !strings.Contains(st.logs.String(), `"payload":["STREAMING-UNSIGNED-PAYLOAD-TRAILER"]`) {
		t.Error("the SDK did not stream aws-chunked with a trailer over TLS (or it was not logged)")
	}
}

// TestScopeServiceRouting: requests are routed by the credential scope's
// service name, header or presigned; SigV2 goes to S3 to be refused.
func TestScopeServiceRouting(t *testing.T) {
	for _, tc := range []struct {
		target, auth, want string
	}{
		{"/b/k", "AWS4-HMAC-SHA256 Credential=AKIA/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00", "s3"},
		{"/", "AWS4-HMAC-SHA256 Credential=AKIA/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00", "dynamodb"},
		{"/b/k?X-Amz-Credential=AKIA%2F20261130%2Fus-east-1%2Fs3%2Faws4_request", "", "s3"},
		{"/b/k", "AWS4-ECDSA-P256-SHA256 Credential=AKIA/20261130/s3/aws4_request, SignedHeaders=host, Signature=00", "s3"},
		{"/b/k?AWSAccessKeyId=AKIA&Signature=x&Expires=1", "", "s3"},
		{"/b/k", "AWS AKIA:c2ln", "s3"},
		{"/healthz", "", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := scopeService(r); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.target, tc.auth, got, tc.want)
		}
	}
}

// TestS3AuthErrors: S3's error codes for authentication failures, through
// the whole server.
func TestS3AuthErrors(t *testing.T) {
	st := startS3Stack(t, false)
	ctx := context.Background()
	seedS3(t, st.client(adminKey, adminSecret, ""))
	get := func(c *s3.Client) error {
		_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s3Bucket)})
		return err
	}
	for _, tc := range []struct {
		name string
		c    *s3.Client
		want string
	}{
		{"wrong secret", st.client(adminKey, "wrong", ""), "SignatureDoesNotMatch"},
		{"unknown key", st.client("AKIAUNKNOWN000000000", "x", ""), "InvalidAccessKeyId"},
		{"token with a long-term key", st.client(adminKey, adminSecret, "bogus"), "InvalidToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// HeadBucket errors have no body: check the status the SDK maps.
			err := get(tc.c)
			var re interface{ HTTPStatusCode() int }
			if err == nil || !errors.As(err, &re) {
				t.Fatalf("got %v", err)
			}
			_, gerr := tc.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String("tenants/1/a.txt")})
			if got := s3ErrCode(gerr); got != tc.want {
				t.Errorf("GetObject: %q, want %q", got, tc.want)
			}
		})
	}
}
