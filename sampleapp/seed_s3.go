package sampleapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// SeedS3API is the subset of *s3.Client that SeedS3 calls: the bucket
// calls and the object calls.
type SeedS3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	S3ObjectAPI
}

// seedObjectBody is the content of a seeded object.
func seedObjectBody(key string) string { return "hello from " + key + "\n" }

// SeedS3 creates the bucket unless it exists (in region, S3's
// LocationConstraint outside us-east-1), writes SeedObjects, reads each one
// back, and deletes what an interrupted verify may have left (s3Scratch).
// Running it again leaves the same objects. Progress goes to w.
func SeedS3(ctx context.Context, api SeedS3API, bucket, region string, w io.Writer) error {
	if err := ensureBucket(ctx, api, bucket, region, w); err != nil {
		return err
	}
	for _, key := range SeedObjects {
		body := seedObjectBody(key)
		if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader(body), ContentType: aws.String("text/plain")}); err != nil {
			return fmt.Errorf("writing s3://%s/%s: %w", bucket, key, err)
		}
		fmt.Fprintf(w, "object s3://%s/%s written\n", bucket, key)
	}
	for _, key := range SeedObjects {
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return fmt.Errorf("reading back s3://%s/%s: %w", bucket, key, err)
		}
		got, err := io.ReadAll(io.LimitReader(out.Body, 4096))
		out.Body.Close()
		if err != nil || !bytes.Equal(got, []byte(seedObjectBody(key))) {
			return fmt.Errorf("reading back s3://%s/%s: got %q (%v)", bucket, key, got, err)
		}
	}
	for _, key := range s3Scratch {
		if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			return fmt.Errorf("removing s3://%s/%s: %w", bucket, key, err)
		}
	}
	fmt.Fprintf(w, "%d objects read back\n", len(SeedObjects))
	return nil
}

// ensureBucket creates bucket unless HeadBucket finds it.
func ensureBucket(ctx context.Context, api SeedS3API, bucket, region string, w io.Writer) error {
	_, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	var notFound *s3types.NotFound
	switch {
	case err == nil:
		fmt.Fprintf(w, "bucket %s exists\n", bucket)
		return nil
	case !errors.As(err, &notFound):
		return fmt.Errorf("looking up bucket %s: %w", bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err = api.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	var ae smithy.APIError
	switch {
	case err == nil:
		fmt.Fprintf(w, "bucket %s created\n", bucket)
	case errors.As(err, &owned), errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyOwnedByYou":
		fmt.Fprintf(w, "bucket %s was created elsewhere\n", bucket)
	default:
		return fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	return nil
}
