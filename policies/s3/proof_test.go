package s3

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/iam"
)

var known = []policies.Target{dynamodb.Target, Target}

func mustTemplate(t *testing.T, name string) *policies.Template {
	t.Helper()
	set, err := policies.LoadTemplates("", known)
	if err != nil {
		t.Fatal(err)
	}
	tpl, ok := set.Get(name)
	if !ok {
		t.Fatalf("template %s not shipped", name)
	}
	return tpl
}

func TestProveShipped(t *testing.T) {
	two := mustBind(t, Settings{Buckets: []string{demoBucket, "arn:aws-us-gov:s3:::gov-bucket"}, PrefixFormat: "org-{tenant}/"})
	tests := map[string]struct {
		template string
		b        policies.Binding
		tenants  [2]string
		rows     int
	}{
		// Per tenant: own rows (granted object actions, 2 per granted
		// listing), 8 core other-tenant rows, 1 unlisted-bucket row, 5
		// denied rows per listing (4 when the format starts with the
		// tenant), 2 admin rows.
		"read":                     {template: "s3-read", b: mustBind(t, Settings{Buckets: []string{demoBucket}}), rows: 2 * (3 + 8 + 1 + 10 + 2)},
		"readwrite":                {template: "s3-readwrite", b: mustBind(t, Settings{Buckets: []string{demoBucket}}), rows: 2 * (7 + 8 + 1 + 10 + 2)},
		"two buckets, own tenants": {template: "s3-read", b: two, tenants: [2]string{"acme", "acme2"}, rows: 2 * 2 * (3 + 8 + 1 + 10 + 2)},
		"tenants reversed":         {template: "s3-readwrite", b: mustBind(t, Settings{Buckets: []string{demoBucket}}), tenants: [2]string{"12", "1"}, rows: 2 * (7 + 8 + 1 + 10 + 2)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep, err := policies.Prove(policies.ProofSpec{Template: mustTemplate(t, tc.template), Bindings: []policies.Binding{tc.b}, Tenants: tc.tenants})
			if err != nil {
				t.Fatalf("Prove: %v", err)
			}
			if !rep.OK || len(rep.Rows) != tc.rows {
				t.Fatalf("report OK=%v with %d rows, want OK with %d", rep.OK, len(rep.Rows), tc.rows)
			}
			allowed, absent := 0, 0
			for _, row := range rep.Rows {
				if row.Got == iam.Allowed {
					allowed++
				}
				if row.Key == PrefixKey && row.Values == nil {
					absent++
				}
			}
			if allowed == 0 || allowed == len(rep.Rows) || absent == 0 {
				t.Errorf("%d of %d rows allowed, %d without prefix: the battery must mix allows and denies", allowed, len(rep.Rows), absent)
			}
		})
	}
}

// laxTarget is the S3 target without its lint rules, so that leaky
// templates reach the proof (which never lints).
type laxTarget struct{ policies.Target }

func (laxTarget) LintStatement(*iam.Statement) *policies.Finding { return nil }

// mutated is a binding whose placeholder values a test rewrites.
type mutated struct {
	*binding
	edit func(policies.Values)
}

func (m mutated) Values(id string) (policies.Values, error) {
	v, err := m.binding.Values(id)
	if err == nil {
		m.edit(v)
	}
	return v, err
}

func replaceAll(key, old, repl string) func(policies.Values) {
	return func(v policies.Values) {
		list := v[key].([]string)
		for i := range list {
			list[i] = strings.ReplaceAll(list[i], old, repl)
		}
	}
}

const (
	readObj  = `{"Sid":"Obj","Effect":"Allow","Action":"s3:GetObject","Resource":["{{s3_object_arns}}"]}`
	listTmpl = `{"Sid":"List","Effect":"Allow","Action":"s3:ListBucket","Resource":["{{s3_bucket_arns}}"],"Condition":{"%s":{"s3:prefix":[%s]}}}`
)

func listCond(op, values string) string {
	return strings.Replace(strings.Replace(listTmpl, "%s", op, 1), "%s", values, 1)
}

// TestProveLeaky: each leak (a template or binding values gone wrong)
// fails the proof at the row that shows it.
func TestProveLeaky(t *testing.T) {
	base := mustBind(t, Settings{Buckets: []string{demoBucket}})
	prefixes := `"{{s3_prefixes}}"`
	tests := map[string]struct {
		doc  string
		edit func(policies.Values)
		row  string // the first failing row; "" = the proof passes
	}{
		"shipped shape passes":     {doc: doc(readObj, listCond("StringLike", prefixes))},
		"deny repairing a leak":    {doc: doc(readObj, listCond("StringLike", prefixes+`,""`), `{"Effect":"Deny","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":""}}}`)},
		"object without delimiter": {doc: doc(readObj), edit: replaceAll(PlaceholderObjectARNs, "/*", "*"), row: `tenant "1": GetObject other tenant's object`},
		"prefix without delimiter": {doc: doc(readObj, listCond("StringLike", prefixes)), edit: replaceAll(PlaceholderPrefixes, "1/", "1"),
			row: `tenant "1": ListBucket other tenant's prefix`},
		"empty prefix allowed":       {doc: doc(readObj, listCond("StringLike", prefixes+`,""`)), row: `tenant "1": ListBucket with prefix ""`},
		"common prefix allowed":      {doc: doc(readObj, listCond("StringLike", prefixes+`,"tenants/"`)), row: `tenant "1": ListBucket with the common prefix tenants/`},
		"missing prefix allowed":     {doc: doc(readObj, listCond("StringLikeIfExists", prefixes)), row: `tenant "1": ListBucket without prefix`},
		"versions without condition": {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:ListBucketVersions","Resource":["{{s3_bucket_arns}}"]}`), row: `tenant "1": ListBucketVersions other tenant's prefix`},
		"multipart listing granted":  {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:ListBucketMultipartUploads","Resource":["{{s3_bucket_arns}}"]}`), row: `tenant "1": ListBucketMultipartUploads`},
		"bucket policy granted":      {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:PutBucketPolicy","Resource":["{{s3_bucket_arns}}"]}`), row: `tenant "1": PutBucketPolicy`},
		"bucket read granted":        {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:GetBucketPolicy","Resource":["{{s3_bucket_arns}}"]}`), row: `tenant "1": GetBucketPolicy`},
		"every bucket":               {doc: doc(readObj), edit: replaceAll(PlaceholderObjectARNs, demoBucket, "*"), row: `tenant "1": GetObject own prefix in a bucket the profile does not name`},
		"wrong bucket":               {doc: doc(readObj), edit: replaceAll(PlaceholderObjectARNs, demoBucket, "other-bucket"), row: `tenant "1": GetObject own object (the profile grants the tenant nothing under its prefix)`},
		"shared prefix named": {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tvm-demo-bucket/shared/*"}`),
			row: `tenant "1": GetObject on arn:aws:s3:::tvm-demo-bucket/shared/* named by the policy`},
		"shared list prefix named": {doc: doc(readObj, listCond("StringLike", prefixes+`,"shared/*"`)), row: `tenant "1": ListBucket prefix "shared/*" named by the policy`},
		"copy source from other":   {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tvm-demo-bucket/tenants/12/*"}`), row: `tenant "1": GetObject other tenant's object`},
		"multipart into other": {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:PutObject","Resource":["{{s3_object_arns}}","arn:aws:s3:::tvm-demo-bucket/tenants/12/*"]}`),
			row: `tenant "1": PutObject into other tenant's prefix`},
		"tagging granted broadly": {doc: doc(readObj, `{"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::tvm-demo-bucket/tenants/*"}`),
			row: `tenant "1": PutObjectTagging other tenant's object`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tpl, err := policies.ParseTemplate("leaky", "test", []byte(tc.doc), []policies.Target{laxTarget{Target}})
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			var b policies.Binding = base
			if tc.edit != nil {
				b = mutated{binding: base, edit: tc.edit}
			}
			rep, err := policies.Prove(policies.ProofSpec{Template: tpl, Bindings: []policies.Binding{b}})
			if tc.row == "" {
				if err != nil {
					t.Fatalf("Prove: %v", err)
				}
				return
			}
			var pe *policies.ProofError
			if !errors.As(err, &pe) || rep == nil || rep.OK {
				t.Fatalf("Prove = %v, want a *ProofError", err)
			}
			if pe.Row.Name != tc.row {
				t.Fatalf("first failing row %q, want %q (%v)", pe.Row.Name, tc.row, err)
			}
		})
	}
}

// TestPlanGrants: which rows apply follows from the grants alone.
func TestPlanGrants(t *testing.T) {
	bk := bucket{partition: "aws", name: demoBucket}
	count := func(steps []step, want iam.Outcome) int {
		n := 0
		for _, s := range steps {
			if s.want == want {
				n++
			}
		}
		return n
	}
	names := func(m map[string]bool) grants {
		return grants{names: m, on: func(action, _ string) bool { return m[action] }}
	}
	none := plan(names(map[string]bool{}), bk, "tenants/1/", "tenants/12/", "tenants/")
	if count(none, iam.Allowed) != 0 || count(none, iam.ImplicitDeny) != 8+1+10+2 {
		t.Errorf("no grants: %d allowed, %d denied rows", count(none, iam.Allowed), count(none, iam.ImplicitDeny))
	}
	all := map[string]bool{}
	for _, a := range actions {
		all[a.name] = true
	}
	every := plan(names(all), bk, "tenants/1/", "tenants/12/", "")
	// Granted somewhere, but on none of this bucket's resources: no own rows.
	elsewhere := plan(grants{names: all, on: func(string, string) bool { return false }}, bk, "tenants/1/", "tenants/12/", "")
	if n := count(elsewhere, iam.Allowed); n != 0 {
		t.Errorf("grants on other resources only: %d allowed rows, want 0", n)
	}
	objects := 0
	for _, a := range actions {
		if a.kind == kindObject {
			objects++
		}
	}
	if got, want := count(every, iam.Allowed), objects+4; got != want {
		t.Errorf("every grant: %d allowed rows, want %d", got, want)
	}
	for _, s := range every {
		if s.listed && s.want == iam.ImplicitDeny && len(s.values) == 1 && s.values[0] == "tenants/1" {
			return
		}
	}
	t.Error("no row lists the own prefix without its delimiter")
}

// TestProveFollowsGrants (issue 14 on S3): stricter profiles are accepted
// with own rows for exactly what they grant, a template narrowing further
// on the keys a real request carries keeps its own rows allowed, and a
// profile granting its tenant nothing under its prefix is refused.
func TestProveFollowsGrants(t *testing.T) {
	prefixes := `"{{s3_prefixes}}"`
	objects := func(actions string, cond string) string {
		st := `{"Sid":"Obj","Effect":"Allow","Action":[` + actions + `],"Resource":["{{s3_object_arns}}"]`
		if cond != "" {
			st += `,"Condition":` + cond
		}
		return st + `}`
	}
	tests := map[string]struct {
		doc  string
		own  []string // the own-tenant rows of tenant "1"; nil = refused
		fail string   // the first failing row when refused
	}{
		"get only":   {doc: doc(objects(`"s3:GetObject"`, "")), own: []string{"GetObject own object"}},
		"write only": {doc: doc(objects(`"s3:PutObject"`, "")), own: []string{"PutObject own object"}},
		"list only": {doc: doc(listCond("StringLike", prefixes)),
			own: []string{"ListBucket own prefix", "ListBucket below own prefix"}},
		"versions listing": {doc: doc(strings.Replace(listCond("StringLike", prefixes), "s3:ListBucket", "s3:ListBucketVersions", 1)),
			own: []string{"ListBucketVersions own prefix", "ListBucketVersions below own prefix"}},
		"narrowed by transport, region and account": {doc: doc(objects(`"s3:GetObject"`,
			`{"Bool":{"aws:SecureTransport":"true"},"StringEquals":{"aws:RequestedRegion":"us-east-1","aws:ResourceAccount":"${aws:PrincipalAccount}"}}`)),
			own: []string{"GetObject own object"}},
		"object grant on a bucket ARN only": {doc: doc(`{"Sid":"Obj","Effect":"Allow","Action":"s3:GetObject","Resource":["{{s3_bucket_arns}}"]}`, listCond("StringLike", prefixes)),
			own: []string{"ListBucket own prefix", "ListBucket below own prefix"}},
		// A condition on a key the request chooses narrows: the own row
		// is allowed for some value of it (and the denial rows hold for
		// every value).
		"source IP required": {doc: doc(objects(`"s3:GetObject"`, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)),
			own: []string{"GetObject own object"}},
		"grants nothing usable": {doc: doc(objects(`"s3:GetObject"`, `{"StringEquals":{"s3:prefix":"x/"}}`)),
			fail: `tenant "1": GetObject own object`},
	}
	b := mustBind(t, Settings{Buckets: []string{demoBucket}})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tpl, err := policies.ParseTemplate("t", "test", []byte(tc.doc), known)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			rep, err := policies.Prove(policies.ProofSpec{Template: tpl, Bindings: []policies.Binding{b}})
			if tc.own == nil {
				var pe *policies.ProofError
				if !errors.As(err, &pe) || pe.Row.Name != tc.fail {
					t.Fatalf("Prove = %v, want the first failing row %q", err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prove: %v", err)
			}
			var own []string
			for _, r := range rep.Rows {
				if r.Tenant == "1" && r.Want == iam.Allowed {
					own = append(own, strings.TrimPrefix(r.Name, `tenant "1": `))
				}
			}
			if !slices.Equal(own, tc.own) {
				t.Errorf("own rows %q, want %q", own, tc.own)
			}
		})
	}
}

// TestRenderResourceScope (issue 14 on S3): a constant S3 resource in a
// template must lie within the profile's buckets and the tenant's prefix
// once rendered (rule resource-scope); S3 ARNs name no account.
func TestRenderResourceScope(t *testing.T) {
	b := []policies.Binding{mustBind(t, Settings{Buckets: []string{demoBucket}})}
	tests := map[string]struct {
		resource string
		rule     string // "" = renders
	}{
		"the profile's bucket, named":   {resource: bucketARN},
		"another bucket":                {resource: "arn:aws:s3:::other-bucket", rule: policies.RuleResourceScope},
		"a shared prefix of the bucket": {resource: bucketARN + "/shared/*", rule: policies.RuleResourceScope},
		"another partition":             {resource: "arn:aws-cn:s3:::" + demoBucket, rule: policies.RuleResourceScope},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := doc(readObj, `{"Sid":"Const","Effect":"Allow","Action":"s3:GetObject","Resource":"`+tc.resource+`"}`)
			tpl, err := policies.ParseTemplate("t", "test", []byte(d), known)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			_, err = tpl.Render("1", b)
			var le *policies.LintError
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("Render: %v", err)
			case tc.rule != "" && (!errors.As(err, &le) || le.Rule != tc.rule || le.Text != tc.resource):
				t.Fatalf("Render = %v, want rule %s naming %s", err, tc.rule, tc.resource)
			}
		})
	}
}
