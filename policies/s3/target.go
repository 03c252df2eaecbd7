// Package s3 is the S3 isolation target: one bucket (or several) shared by
// tenants, each tenant confined to its own key prefix, e.g.
// s3://tvm-demo-bucket/tenants/1/. A tenant session may use object actions
// on arn:aws:s3:::BUCKET/PREFIX/* only, and list the bucket only with
// s3:prefix pinned to PREFIX/ or below it, where PREFIX/ is the profile's
// prefix format applied to the tenant id and always ends with the
// delimiter "/" right after the tenant: "tenants/1*" would also reach
// "tenants/12/", "tenants/1/*" does not.
//
// The target contributes the placeholders {{s3_object_arns}} (one
// arn:PARTITION:s3:::BUCKET/PREFIX/* per bucket; required),
// {{s3_bucket_arns}} (the bucket ARNs, for ListBucket) and {{s3_prefixes}}
// (PREFIX/ and PREFIX/*, for the s3:prefix condition), the statement lint
// rules (Rule* ids), the action catalogue, the bucket-name and prefix
// grammar and the proof battery.
//
// A shipped template (templates/s3-read.json in package policies):
//
//	{"Version": "2012-10-17",
//	 "Statement": [
//	  {"Sid": "TenantObjectRead", "Effect": "Allow",
//	   "Action": ["s3:GetObject"], "Resource": ["{{s3_object_arns}}"]},
//	  {"Sid": "TenantPrefixList", "Effect": "Allow",
//	   "Action": ["s3:ListBucket"], "Resource": ["{{s3_bucket_arns}}"],
//	   "Condition": {"StringLike": {"s3:prefix": ["{{s3_prefixes}}"]}}}]}
//
// rendered for tenant 1 of bucket tvm-demo-bucket with the default prefix
// format: Resource arn:aws:s3:::tvm-demo-bucket/tenants/1/* and
// arn:aws:s3:::tvm-demo-bucket, s3:prefix ["tenants/1/", "tenants/1/*"].
//
// Profile settings (a section named s3 in the profile):
//
//	s3:
//	  buckets:       [tvm-demo-bucket]     # names, or arn:PARTITION:s3:::NAME
//	  prefix_format: "tenants/{tenant}/"   # the default
//
// Everything here is immutable and safe for concurrent use.
package s3

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Name is the target's name in configuration and messages.
const Name = "s3"

// Service is S3's IAM service prefix.
const Service = "s3"

// PrefixKey is the condition key that confines ListBucket and
// ListBucketVersions (present exactly when the request has a prefix
// parameter; "" when the parameter is empty).
const PrefixKey = "s3:prefix"

// Delimiter ends every tenant prefix: the character that must follow the
// tenant id in object ARNs and s3:prefix values.
const Delimiter = "/"

// DefaultPrefixFormat is the key prefix used when a profile configures
// none; {tenant} is replaced by the validated tenant id.
const DefaultPrefixFormat = "tenants/{tenant}/"

// MaxKeyBytes is S3's limit on an object key (UTF-8 bytes); a tenant's
// prefix must leave room for at least one more byte.
const MaxKeyBytes = 1024

// Placeholders of the target.
const (
	PlaceholderObjectARNs = "{{s3_object_arns}}" // arn:PARTITION:s3:::BUCKET/PREFIX/* per bucket (a list)
	PlaceholderBucketARNs = "{{s3_bucket_arns}}" // arn:PARTITION:s3:::BUCKET per bucket (a list)
	PlaceholderPrefixes   = "{{s3_prefixes}}"    // PREFIX/ and PREFIX/* (a list), for s3:prefix
)

// Samples templates are linted with at load.
const (
	sampleBucket = "arn:aws:s3:::bucket"
	samplePrefix = "tenants/TENANT/"
)

// Target is the S3 isolation target.
var Target policies.Target = target{}

type target struct{}

func (target) Name() string                   { return Name }
func (target) Catalogue() *policies.Catalogue { return catalogue }

func (target) Placeholders() []policies.Placeholder {
	return []policies.Placeholder{
		{Name: PlaceholderObjectARNs, List: true, Required: true, Sample: []string{sampleBucket + "/" + samplePrefix + "*"}},
		{Name: PlaceholderBucketARNs, List: true, Sample: []string{sampleBucket}},
		{Name: PlaceholderPrefixes, List: true, Required: true, Sample: []string{samplePrefix, samplePrefix + "*"}},
	}
}

// Settings are a profile's S3 settings.
type Settings struct {
	Buckets      []string `yaml:"buckets"`
	PrefixFormat string   `yaml:"prefix_format"`
}

// bucketNameRE is S3's general purpose bucket grammar (Amazon S3 User
// Guide, "General purpose bucket naming rules"): 3-63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
// The further rules are in CheckBucketName.
var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// bucketARNRE is a bucket ARN: arn:PARTITION:s3:::NAME.
var bucketARNRE = regexp.MustCompile(`^arn:(` + stsrules.PartitionRE + `):s3:::([^/]*)$`)

// Reserved bucket-name prefixes and suffixes (naming rules).
var (
	reservedPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	reservedSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// CheckBucketName checks a general purpose bucket name against S3's
// naming rules: 3-63 characters of a-z 0-9 . -, starting and ending with a
// letter or digit, no "..", not an IPv4 address, none of the reserved
// prefixes (xn--, sthree-, amzn-s3-demo-) and suffixes (-s3alias, --ol-s3,
// .mrap, --x-s3, --table-s3). So it has no wildcard and no "/".
func CheckBucketName(name string) error {
	switch {
	case !bucketNameRE.MatchString(name):
		return errors.New("not an S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)")
	case strings.Contains(name, ".."):
		return errors.New(`not an S3 bucket name (".." is not allowed)`)
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return errors.New("not an S3 bucket name (formatted as an IP address)")
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("not an S3 bucket name (the prefix %q is reserved)", p)
		}
	}
	for _, s := range reservedSuffixes {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("not an S3 bucket name (the suffix %q is reserved)", s)
		}
	}
	return nil
}

// bucket is one configured bucket.
type bucket struct {
	partition, name string
}

// arn returns arn:PARTITION:s3:::NAME.
func (b bucket) arn() string { return "arn:" + b.partition + ":s3:::" + b.name }

// parseBucket accepts a bucket name (partition aws) or a bucket ARN.
func parseBucket(s string) (bucket, error) {
	b := bucket{partition: "aws", name: s}
	if m := bucketARNRE.FindStringSubmatch(s); m != nil {
		b = bucket{partition: m[1], name: m[2]}
	} else if strings.HasPrefix(s, "arn:") {
		return b, errors.New("not a bucket ARN (arn:<partition>:s3:::<name>)")
	}
	return b, CheckBucketName(b.name)
}

// keyRune reports whether r may appear in a tenant's prefix: ASCII letters
// and digits, S3's "safe" special characters ! - _ . ' ( ) (Amazon S3 User
// Guide, "Object key naming guidelines"; * is a policy wildcard), and the
// Latin-1 letters U+00C0-U+00FF except × and ÷. Everything else S3 lists
// as needing special handling or to avoid (& $ @ = ; : + , ? space, \ { } ^
// % ` [ ] " < > ~ # |, the other Latin-1 symbols) is refused, and so is "/"
// (it would move the tenant into a sub-folder of another).
func keyRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	case strings.ContainsRune("!-_.'()", r):
		return true
	case 0xC0 <= r && r <= 0xFF:
		return r != 0xD7 && r != 0xF7
	}
	return false
}

// checkPrefixFormat checks the fixed parts of a prefix format: {tenant}
// directly followed by Delimiter, the format ending with Delimiter, no
// empty, "." or ".." segment (so no leading "/" and no "//"), and only key
// characters (keyRune) and "/" around it; and it leaves room for a tenant
// and a name within MaxKeyBytes.
func checkPrefixFormat(s string) (tenant.Format, error) {
	f, err := tenant.ParseFormat(s)
	if err != nil {
		return f, err
	}
	before, after, _ := strings.Cut(s, tenant.Placeholder)
	switch {
	case !strings.HasPrefix(after, Delimiter):
		return f, fmt.Errorf(`{tenant} must be followed directly by the delimiter %q (%q would reach "...12/" for tenant "1")`, Delimiter, s)
	case !strings.HasSuffix(after, Delimiter):
		return f, fmt.Errorf("must end with the delimiter %q", Delimiter)
	case len(s)-len(tenant.Placeholder) >= MaxKeyBytes-1:
		return f, fmt.Errorf("leaves no room for a tenant id and an object name within S3's %d-byte keys", MaxKeyBytes)
	}
	for _, part := range []string{before, after} {
		if i := strings.IndexFunc(part, func(r rune) bool { return r != '/' && !keyRune(r) }); i >= 0 {
			return f, fmt.Errorf("the character %q is not allowed (letters, digits, ! - _ . ' ( ) and /)", []rune(part[i:])[0])
		}
	}
	for _, seg := range strings.Split(strings.TrimSuffix(strings.ReplaceAll(s, tenant.Placeholder, "T"), "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return f, errors.New(`every "/"-separated segment must be non-empty and not "." or ".." (no leading "/", no "//")`)
		}
	}
	return f, nil
}

// Bind validates the settings — at least one bucket, each a valid bucket
// name or bucket ARN and listed once; a prefix format (default
// DefaultPrefixFormat) with {tenant} exactly once, directly followed by
// "/", ending with "/" — and compiles them.
func (target) Bind(s policies.Settings) (policies.Binding, error) {
	var set Settings
	if err := s.Decode(&set); err != nil {
		return nil, &policies.SettingError{Problem: err.Error()}
	}
	var problems policies.SettingProblems
	buckets := policies.ParseList(&problems, "buckets", "bucket", set.Buckets, parseBucket)
	format, err := checkPrefixFormat(cmp.Or(set.PrefixFormat, DefaultPrefixFormat))
	if err != nil {
		problems.Add("prefix_format", err)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &binding{buckets: buckets, format: format}, nil
}

// binding is the S3 target bound to a profile's buckets and prefix format.
type binding struct {
	buckets []bucket
	format  tenant.Format
}

func (b *binding) Target() policies.Target { return Target }

// Prefix returns the key prefix of tenant id, ending with Delimiter.
func (b *binding) Prefix(id string) string { return b.format.Expand(id) }

// Values implements policies.Binding.
func (b *binding) Values(id string) (policies.Values, error) {
	prefix := b.format.Expand(id)
	if len(prefix) >= MaxKeyBytes {
		return nil, fmt.Errorf("key prefix is %d bytes, S3 keys are at most %d", len(prefix), MaxKeyBytes)
	}
	objects := make([]string, len(b.buckets))
	buckets := make([]string, len(b.buckets))
	for i, bk := range b.buckets {
		buckets[i] = bk.arn()
		objects[i] = bk.arn() + "/" + prefix + "*"
	}
	return policies.Values{
		PlaceholderObjectARNs: objects,
		PlaceholderBucketARNs: buckets,
		PlaceholderPrefixes:   []string{prefix, prefix + "*"},
	}, nil
}

// CheckTenants checks that every tenant id p admits makes a safe key
// segment: only key characters (keyRune), not "." or "..", and a prefix
// shorter than MaxKeyBytes.
func (b *binding) CheckTenants(p *tenant.Pattern) error {
	field := func(problem string) error {
		return &policies.SettingError{Field: "prefix_format", Problem: "the tenant pattern " + problem}
	}
	if err := p.CheckAlphabet("an S3 key prefix (letters, digits and ! - _ . ' ( ))", keyRune); err != nil {
		return field(err.Error())
	}
	for _, dots := range []string{".", ".."} {
		if p.MatchString(dots) {
			return field(fmt.Sprintf("admits the tenant id %q, a path segment S3 clients may remove", dots))
		}
	}
	if n := b.format.FixedBytes() + p.MaxBytes(); n >= MaxKeyBytes {
		return field(fmt.Sprintf("admits tenant ids whose key prefix is %d bytes, S3 keys are at most %d", n, MaxKeyBytes))
	}
	return nil
}
