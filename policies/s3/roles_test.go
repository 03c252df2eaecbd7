package s3

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// The role policies of the S3 demo live in deploy/aws/policies (one home),
// and are deployed twice: in the local AWS's built-in configuration and in
// the CloudFormation template (with the stack's bucket). The tests below
// evaluate them and check that both deployments carry them unchanged.

const (
	rolePolicyDir = "../../deploy/aws/policies"
	broadRoleFile = "tvm-tenant-s3.json"
	abacRoleFile  = "tvm-tenant-abac-s3.json"
)

func readRolePolicy(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(rolePolicyDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseRolePolicy(t *testing.T, name string) *iam.Policy {
	t.Helper()
	p, err := iam.Parse(name, readRolePolicy(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proveRole proves a profile over the demo bucket whose sessions assume a
// role with the policy role, as the broker does: with template (nil =
// session-tags isolation, the tenant in the session tag "tenant").
func proveRole(t *testing.T, role *iam.Policy, template *policies.Template) (*policies.ProofReport, error) {
	t.Helper()
	spec := policies.ProofSpec{
		Template: template,
		Bindings: []policies.Binding{mustBind(t, Settings{Buckets: []string{demoBucket}})},
		Role:     policies.Role{ARN: "arn:aws:iam::123456789012:role/tvm-tenant-test", Known: true, Policies: []*iam.Policy{role}},
	}
	if template == nil {
		spec.Isolation = policies.IsolationSessionTags
		spec.Session.Tags = func(tn, _ string) []iam.Tag { return []iam.Tag{{Key: "tenant", Value: tn}} }
	}
	return policies.Prove(spec)
}

// TestABACRolePolicy: the ABAC role policy, proven for role sessions
// tagged tenant=1 and tenant=12 without a session policy, passes the same
// battery as a session policy, with an own-tenant row for each granted
// object action and listing; a session without the tag gets nothing (the
// proof repeats every row without the tags).
func TestABACRolePolicy(t *testing.T) {
	role := parseRolePolicy(t, abacRoleFile)
	rep, err := proveRole(t, role, nil)
	if err != nil {
		t.Fatalf("Prove: %v", err)
	}
	own, untagged := 0, 0
	for _, r := range rep.Rows {
		switch {
		case strings.HasSuffix(r.Name, "session without tags"):
			untagged++
		case r.Want == iam.Allowed:
			own++
		}
	}
	// GetObject, PutObject, DeleteObject, AbortMultipartUpload, ListParts
	// and ListBucket (own prefix and below), for each of the two tenants;
	// every row again without the tags.
	if own != 2*7 || untagged != len(rep.Rows)-untagged {
		t.Errorf("%d own rows, %d of %d without tags; want 14, and every row once without the tags", own, untagged, len(rep.Rows))
	}
	session := func(tags ...iam.Tag) func(s step) iam.Decision {
		sess := &iam.Session{
			Principal: "arn:aws:sts::123456789012:assumed-role/tvm-tenant-abac/t",
			Tags:      tags,
			Identity:  []*iam.Policy{role},
		}
		return func(s step) iam.Decision { return sess.Evaluate(catalogue.Full(s.action), s.resource, nil) }
	}
	// The tag key matches case-insensitively; another key does not count.
	if d := session(iam.Tag{Key: "Tenant", Value: "1"})(step{action: actionGet, resource: bucketARN + "/tenants/1/x"}); !d.Allowed() {
		t.Errorf("tag key Tenant: %s", d.Outcome)
	}
	if d := session(iam.Tag{Key: "team", Value: "1"})(step{action: actionGet, resource: bucketARN + "/tenants/1/x"}); d.Allowed() {
		t.Error("tag team=1 reached tenant 1's prefix")
	}
}

// TestABACRolePolicyLeaky: a leak in an ABAC role policy fails the proof
// naming the row.
func TestABACRolePolicyLeaky(t *testing.T) {
	base := string(readRolePolicy(t, abacRoleFile))
	tests := map[string]struct{ old, new, row string }{
		"wildcard after the tag": {old: "${aws:PrincipalTag/tenant}/*", new: "${aws:PrincipalTag/tenant}*",
			row: `tenant "1": GetObject other tenant's object`},
		"list prefix without the delimiter": {old: `"tenants/${aws:PrincipalTag/tenant}/",`, new: `"tenants/${aws:PrincipalTag/tenant}",`,
			row: `tenant "1": ListBucket own prefix without the delimiter`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("the role policy no longer holds %q", tc.old)
			}
			role, err := iam.Parse("leaky", []byte(strings.Replace(base, tc.old, tc.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = proveRole(t, role, nil)
			var pe *policies.ProofError
			if !errors.As(err, &pe) || pe.Row.Name != tc.row {
				t.Fatalf("Prove = %v, want the first failing row %q", err, tc.row)
			}
		})
	}
}

// TestBroadRoleNeedsTheSessionPolicy: the tvm-tenant-s3 role alone reaches
// every tenant; with the shipped session policies the battery passes.
func TestBroadRoleNeedsTheSessionPolicy(t *testing.T) {
	role := parseRolePolicy(t, broadRoleFile)
	for _, name := range []string{"s3-read", "s3-readwrite"} {
		if rep, err := proveRole(t, role, mustTemplate(t, name)); err != nil || !rep.OK {
			t.Errorf("%s over the broad role: %v", name, err)
		}
	}
	alone := iam.Evaluate(iam.Request{Principal: "arn:aws:sts::123456789012:assumed-role/tvm-tenant-s3/t-1",
		Action: "s3:GetObject", Resource: bucketARN + "/tenants/12/x"}, iam.Input{Identity: []*iam.Policy{role}})
	if !alone.Allowed() {
		t.Error("the role alone does not reach tenant 12: it is meant to be broad")
	}
}

// jsonValue decodes a JSON document into a comparable tree.
func jsonValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLocalRolesCarryThePolicies: the local AWS's built-in configuration
// attaches the two documents unchanged.
func TestLocalRolesCarryThePolicies(t *testing.T) {
	data, err := os.ReadFile("../../localaws/identity/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Accounts []struct {
			ID    string
			Roles []struct {
				Name     string
				Policies []struct{ Name, Document string }
			}
		}
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, a := range cfg.Accounts {
		for _, r := range a.Roles {
			for _, p := range r.Policies {
				for role, file := range map[string]string{"tvm-tenant-s3": broadRoleFile, "tvm-tenant-abac": abacRoleFile} {
					if r.Name == role && reflect.DeepEqual(jsonValue(t, []byte(p.Document)), jsonValue(t, readRolePolicy(t, file))) {
						found[role] = true
					}
				}
			}
		}
	}
	for _, role := range []string{"tvm-tenant-s3", "tvm-tenant-abac"} {
		if !found[role] {
			t.Errorf("default.yaml: role %s does not carry its policy from deploy/aws/policies", role)
		}
	}
}

// TestCloudFormationCarriesThePolicies: the CloudFormation template's
// documents, with its intrinsic functions resolved for a bucket named
// tvm-demo-bucket, equal the files.
func TestCloudFormationCarriesThePolicies(t *testing.T) {
	data, err := os.ReadFile("../../deploy/aws/cloudformation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	resources := lookup(root.Content[0], "Resources")
	refs := map[string]string{"DemoBucket": demoBucket, "DemoBucket.Arn": bucketARN}
	for path, file := range map[string]string{
		"TenantS3Role.Properties.Policies.0.PolicyDocument": broadRoleFile,
		"TenantAbacS3Policy.Properties.PolicyDocument":      abacRoleFile,
	} {
		n := resources
		for _, k := range strings.Split(path, ".") {
			if n = lookup(n, k); n == nil {
				t.Fatalf("cloudformation.yaml: no Resources.%s", path)
			}
		}
		got := resolveCFN(t, n, refs)
		if want := jsonValue(t, readRolePolicy(t, file)); !reflect.DeepEqual(got, want) {
			gotJSON, _ := json.Marshal(got)
			t.Errorf("cloudformation.yaml %s differs from %s:\n%s", path, file, gotJSON)
		}
	}
}

// lookup returns a mapping's value for key, or a sequence's element at
// index key.
func lookup(n *yaml.Node, key string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		var i int
		if _, err := fmt.Sscan(key, &i); err == nil && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

// resolveCFN turns a template node into a JSON tree, resolving !GetAtt,
// !Ref, !Sub (${Name} only) and !Join with refs.
func resolveCFN(t *testing.T, n *yaml.Node, refs map[string]string) any {
	t.Helper()
	ref := func(name string) string {
		v, ok := refs[name]
		if !ok {
			t.Fatalf("cloudformation.yaml: unresolved reference %s", name)
		}
		return v
	}
	switch n.Tag {
	case "!GetAtt", "!Ref":
		return ref(n.Value)
	case "!Sub":
		out := n.Value
		for name, v := range refs {
			out = strings.ReplaceAll(out, "${"+name+"}", v)
		}
		return out
	case "!Join":
		sep := n.Content[0].Value
		var parts []string
		for _, p := range n.Content[1].Content {
			parts = append(parts, resolveCFN(t, p, refs).(string))
		}
		return strings.Join(parts, sep)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = resolveCFN(t, n.Content[i+1], refs)
		}
		return m
	case yaml.SequenceNode:
		var s []any
		for _, c := range n.Content {
			s = append(s, resolveCFN(t, c, refs))
		}
		return s
	}
	return n.Value
}
