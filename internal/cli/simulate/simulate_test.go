package simulate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/policies/iam"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	tableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"
	indexARN = tableARN + "/index/gsi"

	sessionDoc = `{"Version":"2012-10-17","Statement":[{"Sid":"TenantItems","Effect":"Allow",
	  "Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"],
	  "Resource":["arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo","arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo/index/*"],
	  "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#1"]},"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
	roleDoc = `{"Version":"2012-10-17","Statement":[{"Sid":"ReadTable","Effect":"Allow",
	  "Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:Scan"],
	  "Resource":["arn:aws:dynamodb:*:123456789012:table/tvm-demo","arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"]}]}`
	denyDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
	  {"Sid":"NoDelete","Effect":"Deny","Action":"dynamodb:Delete*","Resource":"*"}]}`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMainDecisions(t *testing.T) {
	dir := t.TempDir()
	sess := writeFile(t, dir, "session.json", sessionDoc)
	role := writeFile(t, dir, "role.json", roleDoc)
	deny := writeFile(t, dir, "deny.json", denyDoc)
	principal := DefaultPrincipal

	cases := map[string]struct {
		args []string
		code int
		want Result
	}{
		"own tenant allowed by the session statement": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:GetItem", "--resource", tableARN, "--context", "dynamodb:LeadingKeys=Tenant#1"},
			code: ExitAllowed,
			want: Result{Decision: iam.Allowed, Allowed: true, Kind: iam.SessionPolicy, Policy: sess, Statement: 0, Sid: "TenantItems"},
		},
		"other tenant on the index: no session policy allows": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:Query", "--resource", indexARN, "--context", "dynamodb:LeadingKeys=Tenant#2"},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.SessionPolicy, Statement: -1,
				Message: "User: " + principal + " is not authorized to perform: dynamodb:Query on resource: " + indexARN + " because no session policy allows the dynamodb:Query action"},
		},
		"mixed batch": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:BatchGetItem", "--resource", tableARN, "--context", "dynamodb:LeadingKeys=Tenant#1,Tenant#2"},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.SessionPolicy, Statement: -1,
				Message: "User: " + principal + " is not authorized to perform: dynamodb:BatchGetItem on resource: " + tableARN + " because no session policy allows the dynamodb:BatchGetItem action"},
		},
		"repeated context key accumulates values": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:BatchGetItem", "--resource", tableARN,
				"--context", "dynamodb:LeadingKeys=Tenant#1", "--context", "dynamodb:LeadingKeys=Tenant#2"},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.SessionPolicy, Statement: -1,
				Message: "User: " + principal + " is not authorized to perform: dynamodb:BatchGetItem on resource: " + tableARN + " because no session policy allows the dynamodb:BatchGetItem action"},
		},
		"Scan without leading keys is stopped by the Null guard": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:Scan", "--resource", tableARN},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.SessionPolicy, Statement: -1,
				Message: "User: " + principal + " is not authorized to perform: dynamodb:Scan on resource: " + tableARN + " because no session policy allows the dynamodb:Scan action"},
		},
		"empty LeadingKeys set": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:Query", "--resource", tableARN, "--context", "dynamodb:LeadingKeys="},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.SessionPolicy, Statement: -1,
				Message: "User: " + principal + " is not authorized to perform: dynamodb:Query on resource: " + tableARN + " because no session policy allows the dynamodb:Query action"},
		},
		"role does not allow: identity-based message": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:PutItem", "--resource", tableARN, "--context", "dynamodb:LeadingKeys=Tenant#1",
				"--principal", "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1"},
			code: ExitDenied,
			want: Result{Decision: iam.ImplicitDeny, Kind: iam.IdentityPolicy, Statement: -1,
				Message: "User: arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1 is not authorized to perform: dynamodb:PutItem on resource: " + tableARN + " because no identity-based policy allows the dynamodb:PutItem action"},
		},
		"session policy alone is the identity policy": {
			args: []string{"--policy", sess, "--action", "dynamodb:GetItem", "--resource", indexARN, "--context", "dynamodb:LeadingKeys=Tenant#1"},
			code: ExitAllowed,
			want: Result{Decision: iam.Allowed, Allowed: true, Kind: iam.IdentityPolicy, Policy: sess, Statement: 0, Sid: "TenantItems"},
		},
		"explicit deny in a role policy": {
			args: []string{"--role-policy", role, "--role-policy", deny, "--action", "dynamodb:DeleteTable", "--resource", tableARN},
			code: ExitDenied,
			want: Result{Decision: iam.ExplicitDeny, Kind: iam.IdentityPolicy, Policy: deny, Statement: 1, Sid: "NoDelete",
				Message: "User: " + principal + " is not authorized to perform: dynamodb:DeleteTable on resource: " + tableARN + " with an explicit deny in an identity-based policy"},
		},
		"explicit deny in the session policy": {
			args: []string{"--policy", deny, "--role-policy", role, "--action", "dynamodb:DeleteItem", "--resource", tableARN},
			code: ExitDenied,
			want: Result{Decision: iam.ExplicitDeny, Kind: iam.SessionPolicy, Policy: deny, Statement: 1, Sid: "NoDelete",
				Message: "User: " + principal + " is not authorized to perform: dynamodb:DeleteItem on resource: " + tableARN + " with an explicit deny in a session policy"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(append(tc.args, "--json"), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			var got Result
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("output %q: %v", stdout.String(), err)
			}
			if got.Reason == "" {
				t.Error("empty reason")
			}
			got.Reason = ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}

func TestMainText(t *testing.T) {
	dir := t.TempDir()
	sess := writeFile(t, dir, "session.json", sessionDoc)
	role := writeFile(t, dir, "role.json", roleDoc)
	cases := map[string]struct {
		args  []string
		code  int
		lines []string
	}{
		"allow": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:Query", "--resource", indexARN, "--context", "dynamodb:LeadingKeys=Tenant#1"},
			code: ExitAllowed,
			lines: []string{
				"decision:  Allow",
				`statement: statement 0 (Sid "TenantItems") of session policy "` + sess + `"`,
				"reason:    allowed by statement 0",
			},
		},
		"deny": {
			args: []string{"--policy", sess, "--role-policy", role, "--action", "dynamodb:Query", "--resource", indexARN, "--context", "dynamodb:LeadingKeys=Tenant#2"},
			code: ExitDenied,
			lines: []string{
				"decision:  ImplicitDeny",
				"statement: none (no session policy allows the request)",
				"reason:    implicit deny: no session policy allows dynamodb:Query",
				"message:   User: " + DefaultPrincipal + " is not authorized to perform: dynamodb:Query on resource: " + indexARN + " because no session policy allows the dynamodb:Query action",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			out := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(out) != len(tc.lines) {
				t.Fatalf("got %d lines, want %d:\n%s", len(out), len(tc.lines), stdout.String())
			}
			for i, want := range tc.lines {
				if !strings.HasPrefix(out[i], want) {
					t.Errorf("line %d = %q, want prefix %q", i, out[i], want)
				}
			}
		})
	}
}

func TestMainUsageErrors(t *testing.T) {
	dir := t.TempDir()
	sess := writeFile(t, dir, "session.json", sessionDoc)
	bad := writeFile(t, dir, "bad.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*","Condition":{"StringEqualz":{"dynamodb:LeadingKeys":"x"}}}}`)
	base := []string{"--action", "dynamodb:GetItem", "--resource", tableARN}
	cases := map[string]struct {
		args   []string
		stderr string
	}{
		"no policy":            {args: base, stderr: "give --policy, --role-policy or both"},
		"no action":            {args: []string{"--policy", sess, "--resource", tableARN}, stderr: "--action is required"},
		"no resource":          {args: []string{"--policy", sess, "--action", "dynamodb:GetItem"}, stderr: "--resource is required"},
		"empty principal":      {args: append([]string{"--policy", sess, "--principal", ""}, base...), stderr: "--principal must not be empty"},
		"missing file":         {args: append([]string{"--policy", filepath.Join(dir, "nope.json")}, base...), stderr: "nope.json"},
		"unknown operator":     {args: append([]string{"--policy", bad}, base...), stderr: "Invalid Condition type : StringEqualz"},
		"bad role policy":      {args: append([]string{"--policy", sess, "--role-policy", bad}, base...), stderr: "Invalid Condition type"},
		"context without =":    {args: append([]string{"--policy", sess, "--context", "dynamodb:LeadingKeys"}, base...), stderr: "want key=v1,v2"},
		"context without key":  {args: append([]string{"--policy", sess, "--context", "=x"}, base...), stderr: "want key=v1,v2"},
		"unknown flag":         {args: append([]string{"--policy", sess, "--tenant", "1"}, base...), stderr: "flag provided but not defined"},
		"positional arguments": {args: append([]string{"--policy", sess, "extra"}, base...), stderr: `unexpected argument "extra"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tc.args, &stdout, &stderr); code != ExitUsage {
				t.Fatalf("exit %d, want %d", code, ExitUsage)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"-h"}, &stdout, &stderr); code != ExitAllowed {
			t.Errorf("exit %d, want 0", code)
		}
		if !strings.Contains(stderr.String(), "usage: simulate") {
			t.Errorf("stderr: %q", stderr.String())
		}
	})
}

func TestParseContext(t *testing.T) {
	cases := map[string]struct {
		flags []string
		want  map[string][]string
	}{
		"none":          {nil, nil},
		"single":        {[]string{"aws:username=alice"}, map[string][]string{"aws:username": {"alice"}}},
		"multi":         {[]string{"k:a=1,2"}, map[string][]string{"k:a": {"1", "2"}}},
		"empty set":     {[]string{"k:a="}, map[string][]string{"k:a": {}}},
		"accumulates":   {[]string{"k:a=1", "k:a=2", "k:a="}, map[string][]string{"k:a": {"1", "2"}}},
		"equals inside": {[]string{"k:a=x=y"}, map[string][]string{"k:a": {"x=y"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseContext(tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The session's own keys: tags, source identity, token issue time.
func TestMainSessionKeys(t *testing.T) {
	dir := t.TempDir()
	abac := writeFile(t, dir, "abac.json", `{"Version":"2012-10-17","Statement":[{"Sid":"OwnPartition","Effect":"Allow","Action":"dynamodb:Query",
	  "Resource":"`+tableARN+`","Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["Tenant#${aws:PrincipalTag/tenant}"]}}},
	  {"Sid":"Revoke","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}}]}`)
	base := []string{"--role-policy", abac, "--action", "dynamodb:Query", "--resource", tableARN, "--context", "dynamodb:LeadingKeys=Tenant#1"}
	cases := map[string]struct {
		args []string
		code int
	}{
		"tag matches the partition":     {append([]string{"--tag", "tenant=1"}, base...), ExitAllowed},
		"tag key is case-insensitive":   {append([]string{"--tag", "TENANT=1"}, base...), ExitAllowed},
		"other tenant's tag":            {append([]string{"--tag", "tenant=2"}, base...), ExitDenied},
		"no tag":                        {base, ExitDenied},
		"session issued before cut-off": {append([]string{"--tag", "tenant=1", "--token-issue-time", "2025-12-31T23:00:00Z"}, base...), ExitDenied},
		"session issued after cut-off":  {append([]string{"--tag", "tenant=1", "--token-issue-time", "2026-01-01T01:00:00Z"}, base...), ExitAllowed},
		"a tag through --context":       {append([]string{"--context", "aws:PrincipalTag/tenant=1"}, base...), ExitUsage},
		"bad tag":                       {append([]string{"--tag", "tenant"}, base...), ExitUsage},
		"bad time":                      {append([]string{"--token-issue-time", "yesterday"}, base...), ExitUsage},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
}
