package iam

import (
	"strconv"
	"strings"
	"testing"
)

// TestExplainText pins Explain's wording, byte for byte, for every shape
// of decision (the local AWS writes it into every decision log line).
func TestExplainText(t *testing.T) {
	pol := &Policy{Name: `tenant "session"`, Statements: []Statement{
		{Sid: "TenantItems", Conditions: []Condition{{Operator: "ForAllValues:StringEquals", Key: "dynamodb:LeadingKeys"}}},
		{},
	}}
	role := &Policy{Name: "role", Statements: []Statement{{Sid: "ReadTable"}}}
	ask := func(d Decision) Decision {
		d.principal, d.action, d.resource = "arn:aws:sts::123456789012:assumed-role/r/s", "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"
		return d
	}
	tests := map[string]struct {
		d    Decision
		want string
	}{
		"allow without a statement": {ask(Decision{Outcome: Allowed, Reason: "allowed by an identity-based policy"}), "allowed by an identity-based policy"},
		"allow by a session statement with a Sid, also the role's": {
			ask(Decision{Outcome: Allowed, Kind: SessionPolicy, by: hit{pol, 0}, also: hit{role, 0}}),
			`allowed by statement 0 (Sid "TenantItems") of policy "tenant \"session\"" (session policy); also allowed by statement 0 (Sid "ReadTable") of policy "role"`,
		},
		"allow by a statement without a Sid": {
			ask(Decision{Outcome: Allowed, Kind: IdentityPolicy, by: hit{pol, 1}}),
			`allowed by statement 1 of policy "tenant \"session\"" (identity-based policy)`,
		},
		"allow by a resource policy": {
			ask(Decision{Outcome: Allowed, Kind: ResourcePolicy, Grant: GrantRole, by: hit{role, 0}}),
			`allowed by statement 0 (Sid "ReadTable") of policy "role" (resource-based policy), which names the caller's role`,
		},
		"explicit deny without a statement": {ask(Decision{Outcome: ExplicitDeny, Reason: "explicit deny in a session policy"}), "explicit deny in a session policy"},
		"explicit deny": {
			ask(Decision{Outcome: ExplicitDeny, Kind: SessionPolicy, by: hit{pol, 1}}),
			`explicit deny: statement 1 of policy "tenant \"session\"" (session policy) matches dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/t`,
		},
		"implicit deny": {
			ask(Decision{Outcome: ImplicitDeny, Kind: IdentityPolicy}),
			`implicit deny: no identity-based policy allows dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/t`,
		},
		"implicit deny with a failed condition": {
			ask(Decision{Outcome: ImplicitDeny, Kind: SessionPolicy, miss: miss{hit{pol, 0}, 0}}),
			`implicit deny: no session policy allows dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/t` +
				` (statement 0 (Sid "TenantItems") of policy "tenant \"session\"" matches the action and resource but its condition ForAllValues:StringEquals on dynamodb:LeadingKeys is false)`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.d.Explain(); got != tc.want {
				t.Errorf("Explain() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func FuzzWriteQuoted(f *testing.F) {
	for _, s := range []string{"", "TenantItems", `a"b`, `a\b`, "é", "\x00", "\x7f", "~ ", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		writeQuoted(&b, s)
		if got, want := b.String(), strconv.Quote(s); got != want {
			t.Fatalf("writeQuoted(%q) = %s, want %s", s, got, want)
		}
	})
}
