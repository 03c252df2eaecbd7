package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/broker/config"
)

// TestRevokePrints: without --apply, revoke prints each role's
// revocation without calling AWS; flag combinations are checked.
func TestRevokePrints(t *testing.T) {
	code, out, errOut := runCLI("revoke", "--config", exampleConfig, "--tenant", "1", "--before", "2026-11-30T12:00:00Z")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "# role arn:aws:iam::123456789012:role/"); n != 6 {
		t.Errorf("%d roles printed, want the example's 6:\n%s", n, out)
	}
	for _, want := range []string{
		"# role arn:aws:iam::123456789012:role/tvm-tenant-read, inline policy tvm-revoke@1@20261130T120000Z (",
		"by session name: read",
		"# role arn:aws:iam::123456789012:role/tvm-tenant-abac, inline policy tvm-revoke@1@20261130T120000Z (",
		"by session tag: abac-read",
		`"aws:TokenIssueTime": "2026-11-30T12:00:00Z"`,
		`"*:t-1@read"`,
		`"aws:PrincipalTag/tenant": "1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Each printed policy is valid JSON.
	for _, block := range strings.Split(out, "# role ")[1:] {
		_, doc, _ := strings.Cut(block, "\n")
		if !json.Valid([]byte(doc)) {
			t.Errorf("not JSON: %s", doc)
		}
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no tenant":         {[]string{}, "--tenant is required"},
		"two modes":         {[]string{"--tenant", "1", "--apply", "--list"}, "exclude each other"},
		"expired alone":     {[]string{"--expired"}, "--expired goes with --remove"},
		"remove nothing":    {[]string{"--remove"}, "--remove needs --tenant"},
		"remove both":       {[]string{"--remove", "--expired", "--tenant", "1"}, "not both"},
		"bad time":          {[]string{"--tenant", "1", "--before", "yesterday"}, "not RFC 3339"},
		"tenant not served": {[]string{"--tenant", "a*b"}, `tenant "a*b"`},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(append([]string{"revoke", "--config", exampleConfig}, tc.args...)...)
			if code == exitOK || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want a failure with %q", code, errOut, tc.want)
			}
		})
	}
}

func TestCheckOperator(t *testing.T) {
	cfg := &config.Config{Profiles: []config.Profile{{RoleARN: "arn:aws:iam::123456789012:role/tenants/tvm-tenant-read"}}}
	tests := map[string]struct {
		caller, broker string
		refused        bool
	}{
		"operator user":                  {"arn:aws:iam::123456789012:user/admin", "arn:aws:iam::123456789012:user/broker", false},
		"the broker user":                {"arn:aws:iam::123456789012:user/broker", "arn:aws:iam::123456789012:user/broker", true},
		"a session of the broker role":   {"arn:aws:sts::123456789012:assumed-role/tvm-broker/i-0abc", "arn:aws:iam::123456789012:role/svc/tvm-broker", true},
		"the broker role, other account": {"arn:aws:sts::210987654321:assumed-role/tvm-broker/i-0abc", "arn:aws:iam::123456789012:role/tvm-broker", false},
		"a tenant session":               {"arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/t-1@read", "", true},
		"an operator role session":       {"arn:aws:sts::123456789012:assumed-role/ops-admin/alice", "", false},
		"broker unknown":                 {"arn:aws:iam::123456789012:user/broker", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := checkOperator(tc.caller, tc.broker, cfg); (err != nil) != tc.refused {
				t.Errorf("checkOperator = %v, want refused %v", err, tc.refused)
			}
		})
	}
}
