package sts

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// chainConfig has a source role whose sessions chain into two targets: one
// whose trust allows only sts:AssumeRole, one that also allows
// sts:TagSession and sts:SetSourceIdentity.
const chainConfig = `
accounts:
  - id: "123456789012"
    users:
      - name: admin
        access_keys: [{id: AKIAADMIN00000000001, secret: adminSecretKey00000000000000000000000001}]
        policies:
          - name: all
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'
    roles:
      - name: src
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"}}}'
        policies:
          - name: chain
            document: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}}'
      - name: next-plain
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::123456789012:role/src"}}}'
      - name: next-full
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Principal":{"AWS":"arn:aws:iam::123456789012:role/src"}}}'
`

// TestAssumeRoleChainingInherits checks what a chained session carries
// over from its caller, as AWS does: a source identity persists and "can't
// be changed", and chaining with it needs sts:SetSourceIdentity in the
// target's trust policy ("Permissions required to set source identity":
// with role chaining, "permissions for sts:SetSourceIdentity are required
// in both the permissions policy of the principal who is assuming the role
// and in the role trust policy of the target role. Otherwise, the assume
// role operation will fail."); a session tag whose key is that of an
// inherited transitive tag fails the call (STS API reference, AssumeRole
// Tags: "If you pass a session tag with the same key as an inherited tag,
// the operation fails.").
func TestAssumeRoleChainingInherits(t *testing.T) {
	e := newConfigEnv(t, chainConfig)
	ctx := context.Background()
	const role = "arn:aws:iam::123456789012:role/"
	admin := e.client("AKIAADMIN00000000001", "adminSecretKey00000000000000000000000001", "")
	session := func(mod func(*sts.AssumeRoleInput)) *sts.Client {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role + "src"), RoleSessionName: aws.String("first")}
		mod(in)
		out, err := admin.AssumeRole(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		return e.client(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	}
	withSourceID := session(func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("alice") })
	withTransitive := session(func(in *sts.AssumeRoleInput) {
		in.Tags = []ststypes.Tag{{Key: aws.String("tenant"), Value: aws.String("1")}}
		in.TransitiveTagKeys = []string{"tenant"}
	})
	tags := func(kv ...string) func(*sts.AssumeRoleInput) {
		return func(in *sts.AssumeRoleInput) {
			for i := 0; i < len(kv); i += 2 {
				in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
			}
		}
	}
	const srcSession = "arn:aws:sts::123456789012:assumed-role/src/first"

	cases := map[string]struct {
		client *sts.Client
		target string
		mod    func(*sts.AssumeRoleInput)
		code   string // "" = allowed
		msg    string
		wantSI string
	}{
		"inherited source identity, trust allows sts:SetSourceIdentity": {withSourceID, "next-full", nil, "", "", "alice"},
		"inherited source identity, trust lacks sts:SetSourceIdentity": {withSourceID, "next-plain", nil, "AccessDenied",
			trustDenied(srcSession, "sts:SetSourceIdentity", role+"next-plain"), ""},
		"same source identity passed again": {withSourceID, "next-full", func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("alice") }, "", "", "alice"},
		"source identity changed": {withSourceID, "next-full", func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("mallory") }, "AccessDenied",
			"The source identity of a role session cannot be changed by role chaining.", ""},
		"no source identity, plain trust":        {withTransitive, "next-plain", nil, "", "", ""},
		"new tag beside an inherited one":        {withTransitive, "next-full", tags("team", "a"), "", "", ""},
		"tag with an inherited transitive key":   {withTransitive, "next-full", tags("tenant", "2"), "InvalidParameterValue", inheritedTagMessage, ""},
		"inherited key in another case":          {withTransitive, "next-full", tags("team", "a", "TENANT", "2"), "InvalidParameterValue", inheritedTagMessage, ""},
		"inherited key with the inherited value": {withTransitive, "next-full", tags("tenant", "1"), "InvalidParameterValue", inheritedTagMessage, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(role + tc.target), RoleSessionName: aws.String("second")}
			if tc.mod != nil {
				tc.mod(in)
			}
			out, err := tc.client.AssumeRole(ctx, in)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := aws.ToString(out.SourceIdentity); got != tc.wantSI {
					t.Errorf("source identity %q, want %q", got, tc.wantSI)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || ae.ErrorMessage() != tc.msg {
				t.Fatalf("err = %v\nwant %s: %s", err, tc.code, tc.msg)
			}
		})
	}
}
