package sampleapp

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// seedS3 is an in-memory SeedS3API.
type seedS3 struct {
	exists    bool
	created   []*s3.CreateBucketInput
	objects   map[string]string
	headErr   error
	createErr error
	corrupt   bool // GetObject answers other content
}

func (f *seedS3) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	switch {
	case f.headErr != nil:
		return nil, f.headErr
	case !f.exists:
		return nil, &s3types.NotFound{}
	}
	return &s3.HeadBucketOutput{}, nil
}

func (f *seedS3) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.created = append(f.created, in)
	if f.createErr != nil {
		return nil, f.createErr
	}
	f.exists = true
	return &s3.CreateBucketOutput{}, nil
}

func (f *seedS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, _ := io.ReadAll(in.Body)
	f.objects[aws.ToString(in.Key)] = string(body)
	return &s3.PutObjectOutput{}, nil
}

func (f *seedS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	body, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	if f.corrupt {
		body = "other"
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(body))}, nil
}

func (f *seedS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	delete(f.objects, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

func TestSeedS3Idempotent(t *testing.T) {
	f := &seedS3{objects: map[string]string{s3Scratch[0]: "left by an interrupted verify"}}
	var out strings.Builder
	for range 2 {
		if err := SeedS3(context.Background(), f, DefaultBucket, "us-east-1", &out); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.created) != 1 || f.created[0].CreateBucketConfiguration != nil {
		t.Errorf("CreateBucket calls %+v, want one without a location constraint", f.created)
	}
	if got := slices.Sorted(maps.Keys(f.objects)); !slices.Equal(got, slices.Sorted(slices.Values(SeedObjects))) {
		t.Errorf("objects %v, want %v", got, SeedObjects)
	}
	for _, want := range []string{"bucket tvm-demo-bucket created", "bucket tvm-demo-bucket exists", "3 objects read back"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSeedS3Errors(t *testing.T) {
	tests := map[string]struct {
		f    *seedS3
		want string // "" = succeeds
	}{
		"other region":        {f: &seedS3{}},
		"created elsewhere":   {f: &seedS3{createErr: &s3types.BucketAlreadyOwnedByYou{}}},
		"created elsewhere 2": {f: &seedS3{createErr: &smithy.GenericAPIError{Code: "BucketAlreadyOwnedByYou"}}},
		"taken":               {f: &seedS3{createErr: &s3types.BucketAlreadyExists{}}, want: "creating bucket tvm-demo-bucket"},
		"head fails":          {f: &seedS3{headErr: errors.New("Forbidden")}, want: "looking up bucket tvm-demo-bucket: Forbidden"},
		"read back differs":   {f: &seedS3{exists: true, corrupt: true}, want: `reading back s3://tvm-demo-bucket/tenants/1/hello.txt: got "other"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.f.objects = map[string]string{}
			err := SeedS3(context.Background(), tc.f, DefaultBucket, "eu-west-1", io.Discard)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(tc.f.created) != 1 || tc.f.created[0].CreateBucketConfiguration.LocationConstraint != "eu-west-1" {
					t.Errorf("CreateBucket %+v, want eu-west-1", tc.f.created)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SeedS3 = %v, want %q", err, tc.want)
			}
		})
	}
}
