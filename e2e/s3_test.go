package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/tvmkit/tvm/sampleapp"
)

// The S3 demo of examples/broker.yaml: bucket tvm-demo-bucket, one prefix
// tenants/<tenant>/ per tenant, seeded by tvm-sample seed.
const (
	s3Bucket    = sampleapp.DefaultBucket
	s3Read      = sampleapp.DefaultS3ReadProfile
	s3ReadWrite = sampleapp.DefaultS3WriteProfile
	mib         = 1 << 20
)

// brokerS3 returns an S3 client configured the way any SDK user would
// configure it for the broker: the SDK's own container-credentials provider
// (AWS_CONTAINER_CREDENTIALS_FULL_URI with ?profile=, the token in
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) and AWS_ENDPOINT_URL pointing at
// the local AWS by IP (so path-style addressing without a setting). The
// checksum settings are the SDK's defaults (when_supported); only the log
// line about responses without checksums is turned off.
func (s *stack) brokerS3(t *testing.T, tenant, profile string) *s3.Client {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, s.localURL, tenant, "svc-files")), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     s.brokerURL + "/v1/credentials?profile=" + profile,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
		"AWS_ENDPOINT_URL":                       s.localURL,
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_CONFIG_FILE":                        filepath.Join(t.TempDir(), "none"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_REQUEST_CHECKSUM_CALCULATION":       "",
		"AWS_RESPONSE_CHECKSUM_VALIDATION":       "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
}

// s3Call is one S3 request; it returns the keys it listed, read, wrote or
// deleted.
type s3Call func(ctx context.Context, c *s3.Client) ([]string, error)

func list(prefix *string) s3Call {
	return func(ctx context.Context, c *s3.Client) ([]string, error) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s3Bucket), Prefix: prefix})
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys, nil
	}
}

func getObject(key string) s3Call {
	return func(ctx context.Context, c *s3.Client) ([]string, error) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		body, err := io.ReadAll(out.Body)
		if err != nil || !strings.Contains(string(body), key) {
			return nil, errors.New("unexpected body " + string(body))
		}
		return []string{key}, nil
	}
}

func put(key string) s3Call {
	return func(ctx context.Context, c *s3.Client) ([]string, error) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key), Body: strings.NewReader("e2e\n")})
		return []string{key}, err
	}
}

func del(key string) s3Call {
	return func(ctx context.Context, c *s3.Client) ([]string, error) {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
		return []string{key}, err
	}
}

func copyObject(src, dst string) s3Call {
	return func(ctx context.Context, c *s3.Client) ([]string, error) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(dst), CopySource: aws.String(s3Bucket + "/" + src)})
		return []string{dst}, err
	}
}

func listUploads(ctx context.Context, c *s3.Client) ([]string, error) {
	_, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s3Bucket)})
	return nil, err
}

// s3Code is the S3 error code of err ("" for none).
func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return ""
}

// TestS3ThroughBroker: every S3 row of the demo through the Go SDK's S3
// client with broker-vended credentials, against the real tvm-local and
// tvm-broker binaries; then multipart uploads of 6 MiB.
func TestS3ThroughBroker(t *testing.T) {
	s := startStack(t, "")
	s.seed(t)
	r1, r12 := s.brokerS3(t, "1", s3Read), s.brokerS3(t, "12", s3Read)
	w1 := s.brokerS3(t, "1", s3ReadWrite)
	own, own12, other := sampleapp.SeedObjects[0], sampleapp.SeedObjects[1], sampleapp.SeedObjects[2]
	upload := "tenants/1/e2e-upload.txt"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name  string
		c     *s3.Client
		call  s3Call
		allow []string // nil: denied with AccessDenied
	}{
		{"tenant 1 lists tenants/1/", r1, list(aws.String("tenants/1/")), []string{own}},
		{"tenant 1 reads its object", r1, getObject(own), []string{own}},
		{"tenant 12 lists tenants/12/", r12, list(aws.String("tenants/12/")), []string{own12}},
		{"tenant 1 reads tenant 2's object", r1, getObject(other), nil},
		{"tenant 1 lists tenants/2/", r1, list(aws.String("tenants/2/")), nil},
		{"tenant 1 reads tenant 12's object", r1, getObject(own12), nil},
		{"tenant 1 lists tenants/1 (no delimiter)", r1, list(aws.String("tenants/1")), nil},
		{"tenant 1 lists without prefix", r1, list(nil), nil},
		{`tenant 1 lists prefix ""`, r1, list(aws.String("")), nil},
		{"tenant 1 lists tenants/", r1, list(aws.String("tenants/")), nil},
		{"tenant 1 writes with the read profile", r1, put(upload), nil},
		{"tenant 1 writes its prefix", w1, put(upload), []string{upload}},
		{"tenant 1 writes tenants/2/", w1, put("tenants/2/e2e-upload.txt"), nil},
		{"tenant 1 copies from tenants/2/", w1, copyObject(other, "tenants/1/e2e-copy.txt"), nil},
		{"tenant 1 copies into tenants/2/", w1, copyObject(own, "tenants/2/e2e-copy.txt"), nil},
		{"tenant 1 lists multipart uploads", w1, listUploads, nil},
		{"tenant 1 deletes its object", w1, del(upload), []string{upload}},
		{"tenant 1 deletes tenant 2's object", w1, del(other), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := tc.call(ctx, tc.c)
			switch {
			case tc.allow == nil && s3Code(err) != "AccessDenied":
				t.Fatalf("want AccessDenied, got %q (keys %v)", s3Code(err), keys)
			case tc.allow != nil && err != nil:
				t.Fatalf("want allowed, got %v", err)
			case tc.allow != nil && !slices.Equal(keys, tc.allow):
				t.Fatalf("keys %v, want %v", keys, tc.allow)
			}
		})
	}
	t.Run("multipart", func(t *testing.T) { checkMultipart(ctx, t, w1, s.brokerS3(t, "12", s3ReadWrite)) })
}

// checkMultipart: a 6 MiB multipart upload (parts of 5 MiB and 1 MiB) into
// the own prefix succeeds and reads back intact; one into the other
// tenant's prefix is refused at CreateMultipartUpload; and the other
// tenant's own upload can be neither written to, listed nor aborted.
func checkMultipart(ctx context.Context, t *testing.T, w1, w12 *s3.Client) {
	data := make([]byte, 6*mib)
	rng := rand.New(rand.NewPCG(9, 2026))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	key := "tenants/1/e2e-big.bin"
	if err := multipartUpload(ctx, w1, key, data); err != nil {
		t.Fatalf("own prefix: %v", err)
	}
	out, err := w1.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read back %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}
	if err := multipartUpload(ctx, w1, "tenants/12/e2e-big.bin", data); s3Code(err) != "AccessDenied" {
		t.Fatalf("into tenants/12/: %q, want AccessDenied", s3Code(err))
	}
	theirs := "tenants/12/e2e-upload.bin"
	up, err := w12.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s3Bucket), Key: aws.String(theirs)})
	if err != nil {
		t.Fatalf("tenant 12's own upload: %v", err)
	}
	id := up.UploadId
	_, err = w1.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(s3Bucket), Key: aws.String(theirs), UploadId: id,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(data[:5*mib])})
	if s3Code(err) != "AccessDenied" {
		t.Errorf("UploadPart into tenant 12's upload: %q, want AccessDenied", s3Code(err))
	}
	if _, err := w1.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(s3Bucket), Key: aws.String(theirs), UploadId: id}); s3Code(err) != "AccessDenied" {
		t.Errorf("ListParts of tenant 12's upload: %q, want AccessDenied", s3Code(err))
	}
	if _, err := w1.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s3Bucket), Key: aws.String(theirs), UploadId: id}); s3Code(err) != "AccessDenied" {
		t.Errorf("AbortMultipartUpload of tenant 12's upload: %q, want AccessDenied", s3Code(err))
	}
	if _, err := w12.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s3Bucket), Key: aws.String(theirs), UploadId: id}); err != nil {
		t.Errorf("tenant 12 aborting its own upload: %v", err)
	}
}

// multipartUpload uploads data in 5 MiB parts (the last one shorter).
func multipartUpload(ctx context.Context, c *s3.Client, key string, data []byte) error {
	bucket := aws.String(s3Bucket)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []s3types.CompletedPart
	for n, off := int32(1), 0; off < len(data); n, off = n+1, off+5*mib {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(data[off:min(off+5*mib, len(data))])})
		if err != nil {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId})
			return err
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// TestS3AWSCLI runs the commands docs/s3.md shows with the AWS CLI, where
// one is installed: broker credentials through the container-credentials
// variables, the local S3 through AWS_ENDPOINT_URL.
func TestS3AWSCLI(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	s := startStack(t, "")
	s.seed(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tenant1.jwt")
	if err := os.WriteFile(tokenFile, []byte(mintToken(t, s.localURL, "1", "cli")), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte("tvm"), 3*mib), 0o600); err != nil { // 9 MiB: aws s3 cp goes multipart above 8 MiB
		t.Fatal(err)
	}
	var env []string // the host's environment without its AWS settings (the CLI refuses an empty AWS_PROFILE)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+s.brokerURL+"/v1/credentials?profile="+s3ReadWrite,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+tokenFile, "AWS_ENDPOINT_URL="+s.localURL, "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED=true")
	b := "s3://" + s3Bucket + "/"
	for _, tc := range []struct {
		args []string
		ok   bool
		want string // in the output
	}{
		{[]string{"s3", "ls", b + "tenants/1/"}, true, "hello.txt"},
		{[]string{"s3", "cp", b + "tenants/1/hello.txt", "-"}, true, "hello from tenants/1/hello.txt"},
		{[]string{"s3", "cp", big, b + "tenants/1/big.bin"}, true, "upload:"},
		{[]string{"s3", "ls", b + "tenants/2/"}, false, "AccessDenied"},
		{[]string{"s3", "ls", b}, false, "AccessDenied"},
		{[]string{"s3", "ls", b + "tenants/1"}, false, "AccessDenied"}, // prefix tenants/1 would list tenants/12/ too
		{[]string{"s3", "cp", b + "tenants/12/hello.txt", "-"}, false, "403"},
		{[]string{"s3", "cp", big, b + "tenants/12/big.bin"}, false, "AccessDenied"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, cli, tc.args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			t.Logf("aws %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			if (err == nil) != tc.ok || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %v (want ok %v), output lacks %q:\n%s", err, tc.ok, tc.want, out)
			}
		})
	}
}

// TestS3ABACRolePolicy: the S3 statements of the ABAC role
// (deploy/aws/policies/tvm-tenant-abac-s3.json, built into tvm-local's
// tvm-tenant-abac) isolate sessions by their tenant tag with no session
// policy, enforced by the real local S3; a session without the tag gets
// nothing.
func TestS3ABACRolePolicy(t *testing.T) {
	s := startStack(t, "")
	s.seed(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	session := func(key, secret string, tags ...ststypes.Tag) *s3.Client {
		t.Helper()
		static := credentials.NewStaticCredentialsProvider(key, secret, "")
		out, err := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(s.localURL), Credentials: static}).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::123456789012:role/tvm-tenant-abac"), RoleSessionName: aws.String("abac-e2e"), Tags: tags})
		if err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
		c := out.Credentials
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(s.localURL), DisableLogOutputChecksumValidationSkipped: true,
			Credentials: credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))})
	}
	tenant1 := session(brokerKeyID, brokerSecret, ststypes.Tag{Key: aws.String("tenant"), Value: aws.String("1")})
	untagged := session(adminKeyID, adminSecret)
	own, own12, other := sampleapp.SeedObjects[0], sampleapp.SeedObjects[1], sampleapp.SeedObjects[2]
	for _, tc := range []struct {
		name  string
		c     *s3.Client
		call  s3Call
		allow []string
	}{
		{"tag 1 lists tenants/1/", tenant1, list(aws.String("tenants/1/")), []string{own}},
		{"tag 1 reads its object", tenant1, getObject(own), []string{own}},
		{"tag 1 writes its prefix", tenant1, put("tenants/1/abac.txt"), []string{"tenants/1/abac.txt"}},
		{"tag 1 deletes it again", tenant1, del("tenants/1/abac.txt"), []string{"tenants/1/abac.txt"}},
		{"tag 1 reads tenant 12's object", tenant1, getObject(own12), nil},
		{"tag 1 reads tenant 2's object", tenant1, getObject(other), nil},
		{"tag 1 lists tenants/1 (no delimiter)", tenant1, list(aws.String("tenants/1")), nil},
		{"tag 1 lists without prefix", tenant1, list(nil), nil},
		{"tag 1 writes tenants/2/", tenant1, put("tenants/2/abac.txt"), nil},
		{"tag 1 lists multipart uploads", tenant1, listUploads, nil},
		{"no tag lists tenants/1/", untagged, list(aws.String("tenants/1/")), nil},
		{"no tag reads tenant 1's object", untagged, getObject(own), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := tc.call(ctx, tc.c)
			switch {
			case tc.allow == nil && s3Code(err) != "AccessDenied":
				t.Fatalf("want AccessDenied, got %q (keys %v)", s3Code(err), keys)
			case tc.allow != nil && (err != nil || !slices.Equal(keys, tc.allow)):
				t.Fatalf("want allowed with %v, got %v, %v", tc.allow, keys, err)
			}
		})
	}
}
