package sampleapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

// fakeS3 is an in-memory bucket that enforces a model of the broker's S3
// session policies by the caller's access key id (the fake broker vends
// "ASIA:<profile>:<tenant>"): files-read reads and lists tenants/<t>/,
// files-readwrite and abac-read (the ABAC role's S3 statements) also write
// and delete there; CopyObject needs both the source and the destination;
// nobody lists uploads; the ABAC role without its tag gets nothing.
type fakeS3 struct {
	creds aws.CredentialsProvider
	st    *s3State
}

type s3State struct {
	mu      sync.Mutex
	objects map[string]string
	noDelim bool  // the model forgets the delimiter: tenants/1 also reaches tenants/12/
	err     error // every call fails with it
}

func newS3State() *s3State {
	st := &s3State{objects: map[string]string{}}
	for _, k := range SeedObjects {
		st.objects[k] = seedObjectBody(k)
	}
	return st
}

func s3Denied() error {
	return &smithy.GenericAPIError{Code: S3AccessDenied, Message: "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-s3/t is not authorized"}
}

// allow decides whether the caller may do a write (or a read) of key, or
// list prefix (list: key is the prefix; nil = absent).
func (f *fakeS3) allow(ctx context.Context, key *string, write bool) error {
	c, err := f.creds.Retrieve(ctx)
	if err != nil {
		return err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if f.st.err != nil {
		return f.st.err
	}
	if c.AccessKeyID == adminKey {
		return nil
	}
	parts := strings.Split(c.AccessKeyID, ":")
	writers := []string{DefaultS3WriteProfile, DefaultABACProfile}
	if len(parts) != 3 || key == nil || (write && !slices.Contains(writers, parts[1])) ||
		(parts[1] != DefaultS3ReadProfile && !slices.Contains(writers, parts[1])) {
		return s3Denied()
	}
	own := "tenants/" + parts[2] + "/"
	if f.st.noDelim {
		own = strings.TrimSuffix(own, "/")
	}
	if !strings.HasPrefix(*key, own) {
		return s3Denied()
	}
	return nil
}

func (f *fakeS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := f.allow(ctx, in.Prefix, false); err != nil {
		return nil, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	out := &s3.ListObjectsV2Output{}
	for _, k := range slices.Sorted(maps.Keys(f.st.objects)) {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
		}
	}
	return out, nil
}

func (f *fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := f.allow(ctx, in.Key, false); err != nil {
		return nil, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	body, ok := f.st.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(body))}, nil
}

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := f.allow(ctx, in.Key, true); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	f.st.objects[aws.ToString(in.Key)] = string(body)
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) CopyObject(ctx context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	_, src, _ := strings.Cut(aws.ToString(in.CopySource), "/")
	if err := f.allow(ctx, &src, false); err != nil {
		return nil, err
	}
	if err := f.allow(ctx, in.Key, true); err != nil {
		return nil, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	f.st.objects[aws.ToString(in.Key)] = f.st.objects[src]
	return &s3.CopyObjectOutput{}, nil
}

func (f *fakeS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := f.allow(ctx, in.Key, true); err != nil {
		return nil, err
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	delete(f.st.objects, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

func (f *fakeS3) ListMultipartUploads(ctx context.Context, _ *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	if err := f.allow(ctx, nil, false); err != nil {
		return nil, err
	}
	return &s3.ListMultipartUploadsOutput{}, nil
}

// s3Env is the fake stack's Env with the fake S3.
func s3Env(fs *fakeStack, st *s3State) *Env {
	e := fs.env()
	e.S3 = func(p aws.CredentialsProvider) S3API { return &fakeS3{creds: p, st: st} }
	return e
}

func TestVerifyS3(t *testing.T) {
	first, n := wantRows+1, wantS3Rows // the S3 rows follow the seed and isolation-model rows
	s3Rows := func(rows ...int) []int {
		out := make([]int, len(rows))
		for i, r := range rows {
			out[i] = first - 1 + r
		}
		return out
	}
	for name, tc := range map[string]struct {
		setup func(*fakeStack, *s3State)
		fail  []int // rows expected to fail
	}{
		"isolated": {setup: func(*fakeStack, *s3State) {}},
		// A policy without the delimiter: tenant 1 reaches tenants/12/.
		"prefix without delimiter": {setup: func(_ *fakeStack, st *s3State) { st.noDelim = true }, fail: s3Rows(6, 7, 21, 22)},
		// A broker that answers 503 must never let a "denied" row pass.
		// (The last row is the app's own untagged ABAC session: no broker.)
		"broker failing": {setup: func(f *fakeStack, _ *s3State) { f.brokerStatus = 503 }, fail: append(append(span(7, 22), span(23, 38)...), span(first, first+n-2)...)},
		// Only S3's AccessDenied counts as denied.
		"other S3 error": {setup: func(_ *fakeStack, st *s3State) {
			st.err = &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
		}, fail: span(first, first+n-1)},
	} {
		t.Run(name, func(t *testing.T) {
			fs, st := newFakeStack(t), newS3State()
			tc.setup(fs, st)
			rep := s3Env(fs, st).Verify(context.Background())
			if len(rep.Rows) != first-1+n {
				t.Fatalf("rows = %d, want %d", len(rep.Rows), first-1+n)
			}
			if diff := cmp.Diff(tc.fail, failingRows(rep)); diff != "" {
				var b bytes.Buffer
				_ = rep.WriteTable(&b)
				t.Errorf("failing rows (-want +got):\n%s\n%s", diff, b.String())
			}
			if rep.OK != (len(tc.fail) == 0) {
				t.Errorf("OK = %v with failing rows %v", rep.OK, tc.fail)
			}
			for i, r := range rep.Rows {
				if r.N != i+1 {
					t.Errorf("row %d numbered %d", i+1, r.N)
				}
			}
			if len(tc.fail) == 0 && !slices.Equal(slices.Sorted(maps.Keys(st.objects)), slices.Sorted(slices.Values(SeedObjects))) {
				t.Errorf("verify left the bucket with %v", slices.Sorted(maps.Keys(st.objects)))
			}
		})
	}
}

func TestVerifyS3Rows(t *testing.T) {
	fs := newFakeStack(t)
	rep := s3Env(fs, newS3State()).Verify(context.Background())
	byName := map[string]Row{}
	for _, r := range rep.Rows {
		byName[r.Experiment] = r
	}
	for name, want := range map[string]struct {
		expected string
		items    []string
	}{
		`vended tenant 1 (files-read): S3 ListObjectsV2 prefix "tenants/1/"`:                                {"allowed, 1 object", []string{"tenants/1/hello.txt"}},
		`vended tenant 12 (files-read): S3 ListObjectsV2 prefix "tenants/12/"`:                              {"allowed, 1 object", []string{"tenants/12/hello.txt"}},
		`vended tenant 1 (files-read): S3 ListObjectsV2 prefix "tenants/1"`:                                 {expected: "denied (AccessDenied)"},
		`vended tenant 1 (files-read): S3 ListObjectsV2 without prefix`:                                     {expected: "denied (AccessDenied)"},
		`vended tenant 1 (files-read): S3 ListObjectsV2 prefix ""`:                                          {expected: "denied (AccessDenied)"},
		`vended tenant 1 (files-read): S3 GetObject tenants/12/hello.txt`:                                   {expected: "denied (AccessDenied)"},
		`vended tenant 1 (files-readwrite): S3 PutObject tenants/1/verify-upload.txt`:                       {"allowed, 1 object", []string{"tenants/1/verify-upload.txt"}},
		`vended tenant 1 (files-readwrite): S3 CopyObject tenants/2/hello.txt to tenants/1/verify-copy.txt`: {expected: "denied (AccessDenied)"},
		`vended tenant 1 (abac-read): S3 ListObjectsV2 prefix "tenants/1/"`:                                 {"allowed, 1 object", []string{"tenants/1/hello.txt"}},
		`vended tenant 1 (abac-read): S3 GetObject tenants/12/hello.txt`:                                    {expected: "denied (AccessDenied)"},
		`app identity as tvm-tenant-abac (no tags): S3 GetObject tenants/1/hello.txt`:                       {expected: "denied (AccessDenied)"},
	} {
		r, ok := byName[name]
		if !ok {
			t.Errorf("no row %q", name)
			continue
		}
		if !r.Pass || r.Expected != want.expected || r.Actual != want.expected || !slices.Equal(r.Items, want.items) {
			t.Errorf("row %q: %+v, want %q with items %v", name, r, want.expected, want.items)
		}
	}
	if !strings.Contains(rep.Note, "tenants/1/ with the delimiter") {
		t.Errorf("note lacks the S3 explanation: %s", rep.Note)
	}
}

func TestS3FailureClassification(t *testing.T) {
	denied := s3Failure(s3Denied())
	nested := s3Failure(&smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
		Err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: s3Denied()}})
	ddb := s3Failure(&smithy.GenericAPIError{Code: "AccessDeniedException"})
	plain := s3Failure(errors.New("connection refused"))
	if denied.Outcome != Denied || nested.Outcome != Failed || ddb.Outcome != Failed || plain.Outcome != Failed {
		t.Errorf("outcomes %s %s %s %s, want denied, then errors", denied.Outcome, nested.Outcome, ddb.Outcome, plain.Outcome)
	}
}

func TestS3Flags(t *testing.T) {
	c := ConfigFromEnv(func(k string) string {
		return map[string]string{"TVM_BUCKET": "env-bucket"}[k]
	})
	if c.Bucket != "env-bucket" || c.S3ReadProfile != DefaultS3ReadProfile || c.S3WriteProfile != DefaultS3WriteProfile {
		t.Fatalf("config %+v", c)
	}
	a := &app{stdout: io.Discard, stderr: io.Discard, seed: func(_ context.Context, got Config, _ io.Writer) error {
		c = got
		return nil
	}}
	if code := a.main(context.Background(), []string{"seed", "--bucket", "", "--s3-read-profile", "r", "--s3-readwrite-profile", "w"}, func(string) string { return "" }); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if c.Bucket != "" || c.S3ReadProfile != "r" || c.S3WriteProfile != "w" {
		t.Errorf("flags not applied: %+v", c)
	}
	var o s3.Options
	S3Options(Config{Endpoint: "http://localhost:4566"})(&o)
	if !o.UsePathStyle {
		t.Error("a custom endpoint does not force path style")
	}
	o = s3.Options{}
	S3Options(Config{})(&o)
	if o.UsePathStyle {
		t.Error("real AWS forced to path style")
	}
}
