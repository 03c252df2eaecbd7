package sts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

const (
	abacRole = "arn:aws:iam::123456789012:role/tvm-tenant-abac"
	siloRole = "arn:aws:iam::123456789012:role/tvm-tenant-silo"
)

func tag(k, v string) ststypes.Tag { return ststypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

// TestModelRolesTrust: the ABAC role admits the broker only with the tenant
// tag (present, non-empty, and alone) and admits the sample app's admin
// without tags; the silo role trusts the broker as the pooled roles do.
func TestModelRolesTrust(t *testing.T) {
	e := newEnv(t)
	broker := e.client(brokerKey, brokerSec, "")
	admin := e.client(adminKey, adminSec, "")
	cases := map[string]struct {
		client *sts.Client
		role   string
		tags   []ststypes.Tag
		source string
		denied string // "" = allowed; else the action refused
	}{
		"abac: broker with the tenant tag":          {broker, abacRole, []ststypes.Tag{tag("tenant", "1")}, "", ""},
		"abac: broker with the tag and a source id": {broker, abacRole, []ststypes.Tag{tag("tenant", "12")}, "alice", ""},
		"abac: broker without tags":                 {broker, abacRole, nil, "", "sts:AssumeRole"},
		"abac: broker with an empty tenant tag":     {broker, abacRole, []ststypes.Tag{tag("tenant", "")}, "", "sts:AssumeRole"},
		"abac: broker with another key instead":     {broker, abacRole, []ststypes.Tag{tag("team", "1")}, "", "sts:AssumeRole"},
		"abac: broker with an extra key":            {broker, abacRole, []ststypes.Tag{tag("tenant", "1"), tag("admin", "true")}, "", "sts:AssumeRole"},
		// aws:TagKeys holds the keys as sent and StringEquals compares
		// them case-sensitively: send the key exactly as the trust names
		// it (s3-abac-silo-k8s.md C.3: never rely on case folding).
		"abac: the key as the trust spells it":          {broker, abacRole, []ststypes.Tag{tag("Tenant", "1")}, "", "sts:AssumeRole"},
		"abac: admin without tags (the no-tag session)": {admin, abacRole, nil, "", ""},
		"abac: admin may not tag a session":             {admin, abacRole, []ststypes.Tag{tag("tenant", "1")}, "", "sts:TagSession"},
		"silo: broker":                                  {broker, siloRole, nil, "", ""},
		"silo: broker with tags":                        {broker, siloRole, []ststypes.Tag{tag("tenant", "1")}, "", ""},
		"silo: admin is not trusted":                    {admin, siloRole, nil, "", "sts:AssumeRole"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("probe"), Tags: tc.tags}
			if tc.source != "" {
				in.SourceIdentity = aws.String(tc.source)
			}
			_, err := tc.client.AssumeRole(context.Background(), in)
			if tc.denied == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || !strings.Contains(ae.ErrorMessage(), "perform: "+tc.denied+" on resource: "+tc.role) {
				t.Fatalf("err = %v, want AccessDenied for %s", err, tc.denied)
			}
		})
	}
}

// TestPackedPolicySize: STS reports the packed size of the session policy
// and the session tags together whenever either is present (inherited
// transitive tags included), and refuses above 100 %, with AWS's two
// messages (tags alone, or policy and tags); every answer also reports the
// issued token's size and its share of the 4,096-byte maximum.
func TestPackedPolicySize(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	broker := e.client(brokerKey, brokerSec, "")
	pct := func(chars int) int32 { return int32((chars*100 + PolicyPlaintextLimit - 1) / PolicyPlaintextLimit) }
	bigPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("a", 1900) + `","Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}]}`
	latin1Policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Query","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/` +
		strings.Repeat("é", 1500) + `"}]}`
	cases := map[string]struct {
		role   string
		policy string
		tags   []ststypes.Tag
		want   *int32 // nil = no PackedPolicySize element
		err    string // error message prefix
	}{
		"neither":          {role: readRole},
		"policy only":      {role: readRole, policy: tenantRead, want: aws.Int32(pct(len(tenantRead)))},
		"tags only (ABAC)": {role: abacRole, tags: []ststypes.Tag{tag("tenant", "12")}, want: aws.Int32(pct(len("tenant12")))},
		"policy and tags":  {role: readRole, policy: tenantRead, tags: []ststypes.Tag{tag("tenant", "1"), tag("subject", "alice")}, want: aws.Int32(pct(len(tenantRead) + len("tenant1subjectalice")))},
		"multibyte tag":    {role: readRole, tags: []ststypes.Tag{tag("tenant", "é")}, want: aws.Int32(pct(len("tenant") + 2))},
		// The policy counts in characters, as its 2,048 limit does: 1,500
		// é are 1,500 characters but 3,000 UTF-8 bytes.
		"latin1 policy":     {role: readRole, policy: latin1Policy, want: aws.Int32(pct(utf8.RuneCountInString(latin1Policy)))},
		"tags overflow":     {role: readRole, tags: bigTags(), err: "Packed size of session tags consumes"},
		"together overflow": {role: readRole, policy: bigPolicy, tags: []ststypes.Tag{tag("k", strings.Repeat("v", 200))}, err: "Packed policy consumes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("packed"), Tags: tc.tags}
			if tc.policy != "" {
				in.Policy = aws.String(tc.policy)
			}
			out, err := broker.AssumeRole(ctx, in)
			if tc.err != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "PackedPolicyTooLarge" || !strings.HasPrefix(ae.ErrorMessage(), tc.err) {
					t.Fatalf("err = %v, want PackedPolicyTooLarge %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			//lint:ignore SA1019 PackedPolicySize is what AWS and this server return.
			got := out.PackedPolicySize
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("PackedPolicySize = %v, want %v", fmtPtr(got), fmtPtr(tc.want))
			}
			// The token's own size, as STS reports it since September 2026.
			size := int32(len(aws.ToString(out.Credentials.SessionToken)))
			if aws.ToInt32(out.SessionTokenSize) != size || aws.ToInt32(out.SessionTokenUtilization) != (size*100+MaxSessionTokenSize-1)/MaxSessionTokenSize {
				t.Errorf("SessionTokenSize %v, SessionTokenUtilization %v; the token has %d bytes",
					fmtPtr(out.SessionTokenSize), fmtPtr(out.SessionTokenUtilization), size)
			}
		})
	}

	t.Run("inherited transitive tags count", func(t *testing.T) {
		first, err := broker.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(chainer), RoleSessionName: aws.String("first"),
			Tags: []ststypes.Tag{tag("tenant", strings.Repeat("1", 200))}, TransitiveTagKeys: []string{"tenant"}})
		if err != nil {
			t.Fatal(err)
		}
		c := first.Credentials
		chain := e.client(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		out, err := chain.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(chainRole), RoleSessionName: aws.String("chained")})
		if err != nil {
			t.Fatal(err)
		}
		//lint:ignore SA1019 PackedPolicySize is what AWS and this server return.
		got := out.PackedPolicySize
		if want := pct(len("tenant") + 200); got == nil || *got != want {
			t.Errorf("chained PackedPolicySize = %v, want %d", fmtPtr(got), want)
		}
	})
}

func fmtPtr(p *int32) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// TestMinimumSessionTokenSize: the token is at least
// MinimumSessionTokenSize bytes (never above MaxSessionTokenSize), and
// SessionTokenSize / SessionTokenUtilization describe it.
func TestMinimumSessionTokenSize(t *testing.T) {
	e := newEnv(t)
	broker := e.client(brokerKey, brokerSec, "")
	for name, minSize := range map[string]int32{"zero": 0, "below default": 10, "3000": 3000, "4093": 4093, "maximum": MaxSessionTokenSize} {
		t.Run(name, func(t *testing.T) {
			out, err := broker.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(readRole),
				RoleSessionName: aws.String("padded"), MinimumSessionTokenSize: aws.Int32(minSize)})
			if err != nil {
				t.Fatal(err)
			}
			size := int32(len(aws.ToString(out.Credentials.SessionToken)))
			if size < minSize || size > MaxSessionTokenSize {
				t.Errorf("token of %d bytes, want %d-%d", size, minSize, MaxSessionTokenSize)
			}
			if aws.ToInt32(out.SessionTokenSize) != size || aws.ToInt32(out.SessionTokenUtilization) != (size*100+MaxSessionTokenSize-1)/MaxSessionTokenSize {
				t.Errorf("SessionTokenSize %v, SessionTokenUtilization %v; the token has %d bytes",
					fmtPtr(out.SessionTokenSize), fmtPtr(out.SessionTokenUtilization), size)
			}
		})
	}
	_, err := broker.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(readRole),
		RoleSessionName: aws.String("padded"), MinimumSessionTokenSize: aws.Int32(MaxSessionTokenSize + 1)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
		t.Errorf("MinimumSessionTokenSize %d: err = %v, want ValidationError", MaxSessionTokenSize+1, err)
	}
}
