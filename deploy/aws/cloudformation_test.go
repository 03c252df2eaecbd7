package awsdeploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/policies/iam"
)

const templateFile = "cloudformation.yaml"

// The values the template is resolved with: the local AWS's account, region
// and principals, so that its roles can be compared with the local ones.
const (
	account  = "123456789012"
	region   = "us-east-1"
	broker   = "arn:aws:iam::123456789012:user/broker"
	sampleUp = "arn:aws:iam::123456789012:user/admin"
)

// template is the parsed CloudFormation template.
type template struct {
	params    map[string]*yaml.Node
	resources map[string]*yaml.Node
	outputs   map[string]*yaml.Node
	root      *yaml.Node
}

func mapping(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

func loadTemplate(t *testing.T) *template {
	t.Helper()
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", templateFile, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		t.Fatalf("%s: not one YAML document", templateFile)
	}
	top := mapping(doc.Content[0])
	return &template{params: mapping(top["Parameters"]), resources: mapping(top["Resources"]),
		outputs: mapping(top["Outputs"]), root: doc.Content[0]}
}

// property returns a resource's property node.
func (tp *template) property(resource, name string) *yaml.Node {
	return mapping(mapping(tp.resources[resource])["Properties"])[name]
}

func (tp *template) resourceType(name string) string {
	if n := mapping(tp.resources[name])["Type"]; n != nil {
		return n.Value
	}
	return ""
}

var pseudoParams = map[string]string{
	"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws",
	"AWS::StackName": "tvm-demo", "AWS::URLSuffix": "amazonaws.com",
}

// attributes lists the GetAtt attributes the template may use, by type.
var attributes = map[string][]string{
	"AWS::DynamoDB::Table":    {"Arn", "StreamArn"},
	"AWS::IAM::Role":          {"Arn", "RoleId"},
	"AWS::IAM::ManagedPolicy": {"PolicyArn"},
	"AWS::S3::Bucket":         {"Arn"},
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolver evaluates intrinsic functions; problems collects what does not
// resolve.
type resolver struct {
	tp       *template
	problems []string
}

func (r *resolver) fail(n *yaml.Node, format string, args ...any) string {
	r.problems = append(r.problems, fmt.Sprintf("line %d: ", n.Line)+fmt.Sprintf(format, args...))
	return "<unresolved>"
}

// ref resolves !Ref NAME.
func (r *resolver) ref(n *yaml.Node, name string) string {
	if v, ok := pseudoParams[name]; ok {
		return v
	}
	if p, ok := r.tp.params[name]; ok {
		switch name {
		case "BrokerPrincipalArn":
			return broker
		case "SampleAppPrincipalArn":
			return sampleUp
		}
		if d := mapping(p)["Default"]; d != nil {
			return d.Value
		}
		return r.fail(n, "parameter %s has no value for the test", name)
	}
	switch r.tp.resourceType(name) {
	case "":
		return r.fail(n, "!Ref %s names no parameter or resource", name)
	case "AWS::IAM::ManagedPolicy":
		return "arn:aws:iam::" + account + ":policy/" + name
	}
	return r.physicalName(n, name)
}

// physicalName is the resource's name (TableName, RoleName, BucketName).
func (r *resolver) physicalName(n *yaml.Node, name string) string {
	for _, prop := range []string{"TableName", "RoleName", "BucketName"} {
		if v := r.tp.property(name, prop); v != nil {
			return r.scalar(v)
		}
	}
	return r.fail(n, "resource %s has no name the test can resolve", name)
}

// getAtt resolves !GetAtt RESOURCE.ATTRIBUTE.
func (r *resolver) getAtt(n *yaml.Node, spec string) string {
	res, attr, ok := strings.Cut(spec, ".")
	typ := r.tp.resourceType(res)
	if !ok || typ == "" || !slices.Contains(attributes[typ], attr) {
		return r.fail(n, "!GetAtt %s: no such resource or attribute (%s)", spec, typ)
	}
	switch typ {
	case "AWS::DynamoDB::Table":
		return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + r.physicalName(n, res)
	case "AWS::IAM::Role":
		return "arn:aws:iam::" + account + ":role/" + r.physicalName(n, res)
	case "AWS::S3::Bucket":
		return "arn:aws:s3:::" + r.physicalName(n, res)
	}
	return r.ref(n, res)
}

// sub resolves !Sub "…${VAR}…"; ${!x} is the literal ${x}.
func (r *resolver) sub(n *yaml.Node, s string) string {
	return subVar.ReplaceAllStringFunc(s, func(m string) string {
		v := m[2 : len(m)-1]
		switch {
		case strings.HasPrefix(v, "!"):
			return "${" + v[1:] + "}"
		case strings.Contains(v, "."):
			return r.getAtt(n, v)
		}
		return r.ref(n, v)
	})
}

// scalar resolves a node that must be a string.
func (r *resolver) scalar(n *yaml.Node) string {
	v, ok := r.value(n).(string)
	if !ok {
		return r.fail(n, "not a string")
	}
	return v
}

// value resolves n into plain JSON values.
func (r *resolver) value(n *yaml.Node) any {
	switch n.Tag {
	case "!Ref":
		return r.ref(n, n.Value)
	case "!GetAtt":
		return r.getAtt(n, n.Value)
	case "!Sub":
		return r.sub(n, n.Value)
	case "!Join":
		if n.Kind != yaml.SequenceNode || len(n.Content) != 2 || n.Content[1].Kind != yaml.SequenceNode {
			return r.fail(n, "!Join needs [delimiter, [values]]")
		}
		var parts []string
		for _, c := range n.Content[1].Content {
			parts = append(parts, r.scalar(c))
		}
		return strings.Join(parts, r.scalar(n.Content[0]))
	case "!!str", "!!int", "!!bool", "!!float", "!!map", "!!seq", "!!null", "":
	default:
		return r.fail(n, "tag %s is not a CloudFormation function the template may use", n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = r.value(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, r.value(c))
		}
		return l
	case yaml.AliasNode:
		return r.fail(n, "YAML aliases are not CloudFormation")
	}
	return n.Value
}

// TestTemplateResolves: the template is one YAML document with the
// CloudFormation sections, every resource has a Type, and every intrinsic
// function (everywhere, outputs included) resolves: !Ref names a
// parameter, a resource or a pseudo parameter, !GetAtt an attribute of a
// resource of the template, !Sub variables likewise (an IAM policy
// variable such as ${aws:PrincipalTag/tenant} inside !Sub would be read by
// CloudFormation as a reference and fail the stack).
func TestTemplateResolves(t *testing.T) {
	tp := loadTemplate(t)
	top := mapping(tp.root)
	if v := top["AWSTemplateFormatVersion"]; v == nil || v.Value != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %v", v)
	}
	if len(tp.params) == 0 || len(tp.resources) == 0 || len(tp.outputs) == 0 {
		t.Fatalf("sections: %d parameters, %d resources, %d outputs", len(tp.params), len(tp.resources), len(tp.outputs))
	}
	for name := range tp.resources {
		if _, known := attributes[tp.resourceType(name)]; !known {
			t.Errorf("resource %s: type %q is not one the test knows", name, tp.resourceType(name))
		}
	}
	r := &resolver{tp: tp}
	r.value(tp.root)
	for _, p := range r.problems {
		t.Error(p)
	}
}

// TestResolverCatchesMistakes: the checks above can fail.
func TestResolverCatchesMistakes(t *testing.T) {
	tp := loadTemplate(t)
	for name, tc := range map[string]struct {
		yaml, want string
	}{
		"unknown ref":       {`!Ref Nope`, "names no parameter or resource"},
		"unknown resource":  {`!GetAtt Nope.Arn`, "no such resource or attribute"},
		"unknown attribute": {`!GetAtt Table.Nope`, "no such resource or attribute"},
		"policy variable in Sub": {`!Sub "Tenant#${aws:PrincipalTag/tenant}"`,
			"aws:PrincipalTag/tenant names no parameter or resource"},
		"unknown function": {`!FindInMap [a, b, c]`, "tag !FindInMap"},
	} {
		t.Run(name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			r := &resolver{tp: tp}
			r.value(n.Content[0])
			if got := strings.Join(r.problems, "; "); !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
	r := &resolver{tp: tp}
	var n yaml.Node
	_ = yaml.Unmarshal([]byte(`!Sub "${!aws:PrincipalTag/tenant} in ${TableName}"`), &n)
	if got := r.value(n.Content[0]); got != "${aws:PrincipalTag/tenant} in tvm-demo" || len(r.problems) != 0 {
		t.Errorf("escaped Sub = %v, %v", got, r.problems)
	}
}

// rolePolicies resolves a role's trust policy and inline policies and
// parses them with the IAM evaluator.
func rolePolicies(t *testing.T, tp *template, resource string) (trust *iam.Policy, perms []*iam.Policy) {
	t.Helper()
	r := &resolver{tp: tp}
	parse := func(what string, n *yaml.Node, trustPolicy bool) *iam.Policy {
		doc, err := json.Marshal(r.value(n))
		if err != nil {
			t.Fatal(err)
		}
		var p *iam.Policy
		if trustPolicy {
			p, err = iam.ParseTrustPolicy(what, doc)
		} else {
			p, err = iam.Parse(what, doc)
		}
		if err != nil {
			t.Fatalf("%s of %s: %v\n%s", what, resource, err, doc)
		}
		return p
	}
	trust = parse("trust policy", tp.property(resource, "AssumeRolePolicyDocument"), true)
	if pols := tp.property(resource, "Policies"); pols != nil {
		for _, pol := range pols.Content {
			m := mapping(pol)
			perms = append(perms, parse("policy "+m["PolicyName"].Value, m["PolicyDocument"], false))
		}
	}
	for _, p := range r.problems {
		t.Error(p)
	}
	return trust, perms
}

// TestManagedPolicyParses: the broker's managed policy is a valid policy.
func TestManagedPolicyParses(t *testing.T) {
	tp := loadTemplate(t)
	for name := range tp.resources {
		if tp.resourceType(name) != "AWS::IAM::ManagedPolicy" {
			continue
		}
		r := &resolver{tp: tp}
		doc, err := json.Marshal(r.value(tp.property(name, "PolicyDocument")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iam.Parse(name, doc); err != nil || len(r.problems) > 0 {
			t.Errorf("%s: %v %v\n%s", name, err, r.problems, doc)
		}
	}
}
