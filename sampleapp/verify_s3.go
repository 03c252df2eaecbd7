package sampleapp

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tvmkit/tvm/internal/paginate"
)

// S3 defaults of the local stack: the demo bucket, its seeded objects (one
// per tenant prefix tenants/<tenant>/, "1" and "12" sharing a leading
// character), and the broker profiles of examples/broker.yaml.
const (
	DefaultBucket         = "tvm-demo-bucket"
	DefaultS3ReadProfile  = "files-read"
	DefaultS3WriteProfile = "files-readwrite"
	// S3AccessDenied is S3's error code for a refused request.
	S3AccessDenied = "AccessDenied"
)

// SeedObjects are the keys Seed writes, one per tenant prefix.
var SeedObjects = []string{"tenants/1/hello.txt", "tenants/12/hello.txt", "tenants/2/hello.txt"}

// s3Scratch are the keys verify writes and deletes again in tenant 1's
// prefix; seeding removes them, so an interrupted verify leaves nothing
// behind for the next one.
var s3Scratch = []string{"tenants/1/verify-upload.txt", "tenants/1/verify-copy.txt"}

// S3ObjectAPI is the object calls of *s3.Client that both the seed
// (SeedS3API) and the S3 experiments (S3API) make.
type S3ObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// S3API is the subset of *s3.Client the S3 experiments call: the listings,
// CopyObject and the object calls.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, optFns ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	S3ObjectAPI
}

// S3Options returns the S3 client options for c: with a custom endpoint,
// path-style addressing (a host-name endpoint such as localhost would
// otherwise select virtual-hosted style, BUCKET.localhost) and no warning
// about responses without checksums (the local S3 sends none). The SDK's
// default checksum settings are kept.
func S3Options(c Config) func(*s3.Options) {
	return func(o *s3.Options) {
		if c.Endpoint != "" {
			o.UsePathStyle = true
			o.DisableLogOutputChecksumValidationSkipped = true
		}
	}
}

// newS3Factory returns Env.S3 for the real stack, or nil when no bucket is
// configured (no S3 experiments).
func newS3Factory(awsCfg aws.Config, c Config) func(p aws.CredentialsProvider) S3API {
	if c.Bucket == "" {
		return nil
	}
	return func(p aws.CredentialsProvider) S3API {
		return s3.NewFromConfig(awsCfg, S3Options(c), func(o *s3.Options) { o.Credentials = p })
	}
}

// addS3Flags adds the S3 experiments' flags.
func addS3Flags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Bucket, "bucket", c.Bucket, `S3 bucket of the S3 experiments, one prefix tenants/<tenant>/ per tenant ($TVM_BUCKET); "" = no S3`)
	fs.StringVar(&c.S3ReadProfile, "s3-read-profile", c.S3ReadProfile, "broker profile of the S3 read experiments")
	fs.StringVar(&c.S3WriteProfile, "s3-readwrite-profile", c.S3WriteProfile, "broker profile of the S3 write experiments")
}

// s3Op is one S3 call against bucket; it returns the object keys it saw
// (listed, read, written or deleted).
type s3Op func(ctx context.Context, api S3API, bucket string) ([]string, error)

// s3Experiment is one S3 row: allowed with exactly keys, or denied with
// S3's AccessDenied.
type s3Experiment struct {
	name  string
	id    Identity
	op    s3Op
	allow bool
	keys  []string
}

func (x s3Experiment) expected() string {
	if x.allow {
		return "allowed, " + plural(len(x.keys), "object")
	}
	return "denied (" + S3AccessDenied + ")"
}

func (x s3Experiment) matches(r Result, keys []string) bool {
	if !x.allow {
		return r.Outcome == Denied && r.Code == S3AccessDenied
	}
	return r.Outcome == Allowed && slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(x.keys)))
}

// s3Experiments lists the S3 rows: tenant 1 lists and reads its own
// prefix, tenant 12 its own; tenant 1 is denied tenant 2's and tenant 12's
// objects, the listings of another prefix, of its own prefix without the
// delimiter (which would list tenants/12/ too), of no prefix, of "" and of
// tenants/; the read profile cannot write; the read-write profile writes,
// copies and deletes in its own prefix only, and never lists uploads.
// Then the ABAC model (Config.ABACProfile, no session policy: the role's
// S3 statements isolate with ${aws:PrincipalTag/tenant}): tenant 1 lists
// and reads its own prefix and nothing of tenant 2's or 12's, nor its
// prefix without the delimiter; a session of the role without the tag,
// which the app assumes itself, reads nothing.
func (e *Env) s3Experiments() []s3Experiment {
	c := e.Config
	r1 := Identity{Tenant: "1", Profile: c.S3ReadProfile}
	r12 := Identity{Tenant: "12", Profile: c.S3ReadProfile}
	w1 := Identity{Tenant: "1", Profile: c.S3WriteProfile}
	a1, untagged := Identity{Tenant: "1", Profile: c.ABACProfile}, Identity{Role: c.ABACRole}
	own, own12, other, trap := SeedObjects[0], SeedObjects[1], SeedObjects[2], SeedObjects[1]
	upload, copied := s3Scratch[0], s3Scratch[1]
	row := func(id Identity, what string, op s3Op, allow bool, keys ...string) s3Experiment {
		return s3Experiment{name: fmt.Sprintf("%s: S3 %s", id, what), id: id, op: op, allow: allow, keys: keys}
	}
	list := func(id Identity, prefix *string, allow bool, keys ...string) s3Experiment {
		what := "ListObjectsV2 without prefix"
		if prefix != nil {
			what = fmt.Sprintf("ListObjectsV2 prefix %q", *prefix)
		}
		return row(id, what, listOp(prefix), allow, keys...)
	}
	return []s3Experiment{
		list(r1, aws.String("tenants/1/"), true, own),
		row(r1, "GetObject "+own, getOp(own), true, own),
		list(r12, aws.String("tenants/12/"), true, own12),
		row(r1, "GetObject "+other, getOp(other), false),
		list(r1, aws.String("tenants/2/"), false),
		row(r1, "GetObject "+trap, getOp(trap), false),
		list(r1, aws.String("tenants/1"), false),
		list(r1, nil, false),
		list(r1, aws.String(""), false),
		list(r1, aws.String("tenants/"), false),
		row(r1, "PutObject "+upload, putOp(upload), false),
		row(w1, "PutObject "+upload, putOp(upload), true, upload),
		row(w1, "PutObject tenants/2/verify-upload.txt", putOp("tenants/2/verify-upload.txt"), false),
		row(w1, fmt.Sprintf("CopyObject %s to %s", other, copied), copyOp(other, copied), false),
		row(w1, "ListMultipartUploads", listUploadsOp, false),
		row(w1, "DeleteObject "+upload, deleteOp(upload), true, upload),
		row(w1, "DeleteObject "+other, deleteOp(other), false),
		list(a1, aws.String("tenants/1/"), true, own),
		row(a1, "GetObject "+own, getOp(own), true, own),
		row(a1, "GetObject "+other, getOp(other), false),
		row(a1, "GetObject "+trap, getOp(trap), false),
		list(a1, aws.String("tenants/1"), false),
		row(untagged, "GetObject "+own, getOp(own), false),
	}
}

// verifyS3 runs the S3 experiments when the Env has an S3 client factory,
// appending their rows to rep (numbered on from its last row) and adding
// the S3 note.
func (e *Env) verifyS3(ctx context.Context, rep *Report) {
	if e.S3 == nil {
		return
	}
	for _, x := range e.s3Experiments() {
		r, keys := e.runS3(ctx, x.id, x.op)
		row := Row{
			N: len(rep.Rows) + 1, Experiment: x.name, Expected: x.expected(), Actual: s3Summary(r, keys),
			Pass: x.matches(r, keys), Items: keys, Code: r.Code, Message: r.Message,
		}
		rep.OK = rep.OK && row.Pass
		rep.Rows = append(rep.Rows, row)
	}
	rep.Note += fmt.Sprintf(" On S3, tenant 1's prefix is tenants/1/ with the delimiter: the session policy's "+
		"object ARN arn:aws:s3:::%s/tenants/1/* and its s3:prefix values tenants/1/ and tenants/1/* never reach "+
		"tenants/12/, and a listing with prefix tenants/1 (which would list tenants/12/ too), with no prefix or "+
		"with prefix \"\" is denied. The abac-read rows get the same from the role's own statements on "+
		"tenants/${aws:PrincipalTag/tenant}/, with no session policy.", e.Config.Bucket)
}

// runS3 obtains the identity's credentials, then runs op with an S3 client
// signing with them. Credentials come first, so a failure to get them is
// never mistaken for an S3 denial.
func (e *Env) runS3(ctx context.Context, id Identity, op s3Op) (Result, []string) {
	p, err := e.credentials(ctx, id)
	if err == nil {
		_, err = p.Retrieve(ctx)
	}
	if err != nil {
		return credentialsFailure(err), nil
	}
	keys, err := op(ctx, e.S3(p), e.Config.Bucket)
	if err != nil {
		return s3Failure(err), nil
	}
	return Result{Outcome: Allowed}, keys
}

// s3Failure classifies an S3 error: only S3's own AccessDenied answer is a
// denial (not DynamoDB's AccessDeniedException, and not the answer of an
// operation nested in the call, such as a credential refresh).
func s3Failure(err error) Result {
	r := awsFailure(err) // DynamoDB's classification: code and message
	r.Outcome = Failed
	if r.Code == S3AccessDenied && !nestedOperation(err) {
		r.Outcome = Denied
	}
	return r
}

func s3Summary(r Result, keys []string) string {
	if r.Outcome == Allowed {
		return "allowed, " + plural(len(keys), "object")
	}
	return r.Summary()
}

func listOp(prefix *string) s3Op {
	return func(ctx context.Context, api S3API, bucket string) ([]string, error) {
		return paginate.All(ctx, s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: prefix}),
			func(p *s3.ListObjectsV2Output) []string {
				keys := make([]string, len(p.Contents))
				for i, o := range p.Contents {
					keys[i] = aws.ToString(o.Key)
				}
				return keys
			})
	}
}

func getOp(key string) s3Op {
	return func(ctx context.Context, api S3API, bucket string) ([]string, error) {
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		if _, err := io.Copy(io.Discard, out.Body); err != nil {
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		return []string{key}, nil
	}
}

func putOp(key string) s3Op {
	return func(ctx context.Context, api S3API, bucket string) ([]string, error) {
		_, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader("written by tvm-sample verify\n")})
		if err != nil {
			return nil, err
		}
		return []string{key}, nil
	}
}

func copyOp(src, dst string) s3Op {
	return func(ctx context.Context, api S3API, bucket string) ([]string, error) {
		_, err := api.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst),
			CopySource: aws.String(bucket + "/" + src)})
		if err != nil {
			return nil, err
		}
		return []string{dst}, nil
	}
}

func deleteOp(key string) s3Op {
	return func(ctx context.Context, api S3API, bucket string) ([]string, error) {
		if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			return nil, err
		}
		return []string{key}, nil
	}
}

func listUploadsOp(ctx context.Context, api S3API, bucket string) ([]string, error) {
	out, err := api.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys, nil
}
