package s3

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/tenant"
)

const demoBucket = "tvm-demo-bucket"

type settings Settings

func (s settings) Decode(v any) error {
	*v.(*Settings) = Settings(s)
	return nil
}

type badSettings struct{}

func (badSettings) Decode(any) error { return errors.New("field x not found") }

func mustBind(t testing.TB, s Settings) *binding {
	t.Helper()
	b, err := Target.Bind(settings(s))
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return b.(*binding)
}

// TestCatalogue: the action classes the lint rules and the battery rest on.
func TestCatalogue(t *testing.T) {
	if catalogue.Service() != Service || len(catalogue.Actions()) != len(actions) {
		t.Fatalf("catalogue %s with %d actions", catalogue.Service(), len(catalogue.Actions()))
	}
	want := map[string]kind{
		"GetObject": kindObject, "PutObject": kindObject, "DeleteObject": kindObject, "AbortMultipartUpload": kindObject,
		"ListMultipartUploadParts": kindObject, "GetObjectVersion": kindObject, "PutObjectTagging": kindObject,
		"ListBucket": kindList, "ListBucketVersions": kindList,
		"PutObjectAcl": kindACLWrite, "PutObjectVersionAcl": kindACLWrite,
		"ListBucketMultipartUploads": kindAdmin, "PutBucketPolicy": kindAdmin, "PutBucketAcl": kindAdmin,
		"PutLifecycleConfiguration": kindAdmin, "ListAllMyBuckets": kindAdmin, "DeleteBucket": kindAdmin, "GetBucketPolicy": kindAdmin,
	}
	for name, k := range want {
		a, ok := catalogue.Lookup(name)
		if !ok || kindOf(name) != k {
			t.Errorf("%s: found %v, kind %d, want %d", name, ok, kindOf(name), k)
		}
		if a.Keyed != (k == kindObject || k == kindList) {
			t.Errorf("%s: Keyed = %v", name, a.Keyed)
		}
	}
	for _, name := range coreObjectActions {
		if kindOf(name) != kindObject {
			t.Errorf("core action %s is not an object action", name)
		}
	}
	if a, ok := catalogue.Lookup("getobject"); !ok || a.Name != "GetObject" || a.Write {
		t.Errorf("Lookup(getobject) = %v, %v", a, ok)
	}
	if got := catalogue.Expand("s3:ListBucket*"); len(got) != 4 {
		t.Errorf("Expand(s3:ListBucket*) = %v, want ListBucket, ListBucketByTags, ListBucketMultipartUploads, ListBucketVersions", got)
	}
}

func TestCheckBucketName(t *testing.T) {
	tests := map[string]bool{
		demoBucket: true, "abc": true, "a.b-c": true, "my.bucket.2": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "Bucket": false, "bucket_1": false, "-bucket": false,
		"bucket-": false, "a..b": false, "192.168.5.4": false, "tvm-*": false, "a/b": false, "xn--abc": false,
		"sthree-x": false, "amzn-s3-demo-bucket": false, "x-s3alias": false, "x--ol-s3": false, "x.mrap": false,
		"x--x-s3": false, "x--table-s3": false, "": false, "bucket ": false,
	}
	for name, ok := range tests {
		if err := CheckBucketName(name); (err == nil) != ok {
			t.Errorf("CheckBucketName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestBind(t *testing.T) {
	b := []string{demoBucket}
	tests := map[string]struct {
		s    policies.Settings
		want []string // substrings of the error; none = valid
	}{
		"default format":           {s: settings{Buckets: b}},
		"explicit format":          {s: settings{Buckets: b, PrefixFormat: "tenants/{tenant}/"}},
		"tenant at the root":       {s: settings{Buckets: b, PrefixFormat: "{tenant}/"}},
		"no delimiter before":      {s: settings{Buckets: b, PrefixFormat: "t-{tenant}/"}},
		"deeper":                   {s: settings{Buckets: b, PrefixFormat: "data/{tenant}/files/"}},
		"bucket ARN":               {s: settings{Buckets: []string{"arn:aws-cn:s3:::" + demoBucket, demoBucket}}},
		"no buckets":               {s: settings{}, want: []string{"buckets: at least one bucket is required"}},
		"bad name":                 {s: settings{Buckets: []string{"Tvm_Bucket"}}, want: []string{"buckets[0]: not an S3 bucket name"}},
		"wildcard name":            {s: settings{Buckets: []string{"tvm-*"}}, want: []string{"buckets[0]: not an S3 bucket name"}},
		"object ARN":               {s: settings{Buckets: []string{"arn:aws:s3:::b/x"}}, want: []string{"buckets[0]: not a bucket ARN"}},
		"other service ARN":        {s: settings{Buckets: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/t"}}, want: []string{"buckets[0]: not a bucket ARN"}},
		"bad name in ARN":          {s: settings{Buckets: []string{"arn:aws:s3:::xn--b"}}, want: []string{`buckets[0]: not an S3 bucket name (the prefix "xn--" is reserved)`}},
		"duplicate":                {s: settings{Buckets: []string{demoBucket, "arn:aws:s3:::" + demoBucket}}, want: []string{"buckets[1]: duplicate bucket"}},
		"no delimiter after":       {s: settings{Buckets: b, PrefixFormat: "tenants/{tenant}"}, want: []string{"prefix_format: {tenant} must be followed directly by the delimiter"}},
		"tenant then text":         {s: settings{Buckets: b, PrefixFormat: "tenants/{tenant}-data/"}, want: []string{"prefix_format: {tenant} must be followed directly"}},
		"not ending with /":        {s: settings{Buckets: b, PrefixFormat: "tenants/{tenant}/data"}, want: []string{"prefix_format: must end with the delimiter"}},
		"leading slash":            {s: settings{Buckets: b, PrefixFormat: "/tenants/{tenant}/"}, want: []string{"prefix_format: every \"/\"-separated segment"}},
		"empty segment":            {s: settings{Buckets: b, PrefixFormat: "tenants//{tenant}/"}, want: []string{"prefix_format: every"}},
		"dot segment":              {s: settings{Buckets: b, PrefixFormat: "tenants/../{tenant}/"}, want: []string{"prefix_format: every"}},
		"unsafe character":         {s: settings{Buckets: b, PrefixFormat: "tenant#{tenant}/"}, want: []string{`prefix_format: the character '#' is not allowed`}},
		"wildcard":                 {s: settings{Buckets: b, PrefixFormat: "tenants/{tenant}/*"}, want: []string{"prefix_format: must not contain"}},
		"two tenants":              {s: settings{Buckets: b, PrefixFormat: "{tenant}/{tenant}/"}, want: []string{`prefix_format: must contain "{tenant}" exactly once`}},
		"too long":                 {s: settings{Buckets: b, PrefixFormat: strings.Repeat("a", 1021) + "/{tenant}/"}, want: []string{"prefix_format: leaves no room"}},
		"every problem at once":    {s: settings{Buckets: []string{"x", demoBucket, demoBucket}, PrefixFormat: "{tenant}"}, want: []string{"buckets[0]", "buckets[2]", "prefix_format"}},
		"undecodable":              {s: badSettings{}, want: []string{"field x not found"}},
		"variable in the format":   {s: settings{Buckets: b, PrefixFormat: "${aws:username}/{tenant}/"}, want: []string{"prefix_format: must not contain"}},
		"latin-1 letter in format": {s: settings{Buckets: b, PrefixFormat: "données/{tenant}/"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Target.Bind(tc.s)
			if len(tc.want) == 0 {
				if err != nil || b.Target() != Target {
					t.Fatalf("Bind = %v, %v", b, err)
				}
				return
			}
			if err == nil || b != nil {
				t.Fatalf("Bind = %v, nil; want an error", b)
			}
			var se *policies.SettingError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *policies.SettingError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValues(t *testing.T) {
	b := mustBind(t, Settings{Buckets: []string{demoBucket, "arn:aws-cn:s3:::cn-bucket"}, PrefixFormat: "data/{tenant}/"})
	v, err := b.Values("acme")
	if err != nil {
		t.Fatal(err)
	}
	want := policies.Values{
		PlaceholderObjectARNs: []string{"arn:aws:s3:::tvm-demo-bucket/data/acme/*", "arn:aws-cn:s3:::cn-bucket/data/acme/*"},
		PlaceholderBucketARNs: []string{"arn:aws:s3:::tvm-demo-bucket", "arn:aws-cn:s3:::cn-bucket"},
		PlaceholderPrefixes:   []string{"data/acme/", "data/acme/*"},
	}
	for k, w := range want {
		if !slices.Equal(v[k].([]string), w.([]string)) {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if len(v) != len(want) {
		t.Errorf("Values has %d placeholders, want %d", len(v), len(want))
	}
	if b.Prefix("acme") != "data/acme/" {
		t.Errorf("Prefix = %q", b.Prefix("acme"))
	}
	long := mustBind(t, Settings{Buckets: []string{demoBucket}, PrefixFormat: strings.Repeat("a", 900) + "/{tenant}/"})
	if _, err := long.Values(strings.Repeat("é", 100)); err == nil {
		t.Error("a 1102-byte prefix was accepted")
	}
}

func TestCheckTenants(t *testing.T) {
	b := mustBind(t, Settings{Buckets: []string{demoBucket}})
	long := mustBind(t, Settings{Buckets: []string{demoBucket}, PrefixFormat: strings.Repeat("a", 900) + "/{tenant}/"})
	tests := []struct {
		b       *binding
		pattern string
		want    string // "" = accepted
	}{
		{b, tenant.DefaultPattern, ""},
		{b, `^[a-zé]{1,100}$`, ""},
		{b, `^[A-Za-z0-9][A-Za-z0-9!_.'()-]{0,63}$`, ""},
		{b, `^[a-z0-9#]{1,32}$`, `admits the character '#'`},
		{b, `^[a-z+]{1,32}$`, `admits the character '+'`},
		{b, `^[a-z×]{1,32}$`, `admits the character '×'`},
		{b, `^[a-z.]{1,3}$`, `admits the tenant id "."`},
		{b, `^(?:ab|\.\.)$`, `admits the tenant id ".."`},
		{long, tenant.DefaultPattern, ""},
		{long, `^[a-z]{1,128}$`, "key prefix is 1030 bytes"},
	}
	for _, tc := range tests {
		p, err := tenant.Compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		err = tc.b.CheckTenants(p)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.pattern, err)
			}
			continue
		}
		var se *policies.SettingError
		if !errors.As(err, &se) || se.Field != "prefix_format" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckTenants = %v, want prefix_format error containing %q", tc.pattern, err, tc.want)
		}
	}
}
