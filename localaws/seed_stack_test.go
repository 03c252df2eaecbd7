package localaws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// seedPolicy is the seed's session policy (getCredentials.ts in
// martzcodes/blog-isolation): Query only, ForAllValues:StringLike on
// dynamodb:LeadingKeys, on the table ARN and on TableArn/*, without a
// Version.
func seedPolicy(who string) string {
	st := func(resource string) string {
		return `{"Action":"dynamodb:Query","Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["Tenant#` + who + `"]}},` +
			`"Effect":"Allow","Resource":"` + resource + `"}`
	}
	return `{"Statement":[` + st(tableARN) + `,` + st(tableARN+"/*") + `]}`
}

// seedStackYAML adds the seed's noGrant pair to the built-in configuration,
// which already has its grant pair (tvm-seed-function, tvm-seed-tenant):
// a function role with no table access, and the role it assumes, trusted
// by that function role's ARN and granted nothing.
func seedStackYAML() string {
	return strings.Replace(string(testConfigYAML()), "    roles:\n", `    roles:
      - name: tvm-seed-nogrant-function
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"sts:AssumeRole"}}'
      - name: tvm-seed-nogrant-tenant
        trust_policy: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/tvm-seed-nogrant-function"},"Action":"sts:AssumeRole"}}'
`, 1)
}

// TestSeedStack reproduces the seed blog post's stack and its experiments:
// the reader functions run as sessions of their function roles (whose
// identity policies hold DynamoDB read and no sts:AssumeRole), the tenant
// roles trust the function roles by ARN, and the vended credentials carry
// the seed's session policy. AssumeRole succeeds as on AWS, and every
// experiment gives the post's result.
func TestSeedStack(t *testing.T) {
	st := startStackYAML(t, "", seedStackYAML())
	seed(t, st)
	ctx := context.Background()
	const acct = "arn:aws:iam::123456789012:role/"
	// The Lambda service's part: sessions of the function roles.
	function := func(role string) (*dynamodb.Client, *sts.Client) {
		out, err := st.sts(adminKey, adminSecret).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String(acct + role), RoleSessionName: aws.String("reader")})
		if err != nil {
			t.Fatalf("Lambda assuming %s: %v", role, err)
		}
		c := out.Credentials
		return sessionClient(st, out), st.stsSession(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	}
	grantDB, grantSTS := function("tvm-seed-function")
	noGrantDB, noGrantSTS := function("tvm-seed-nogrant-function")
	// getCredentials(who): AssumeRole from the function's own session.
	vend := func(fn *sts.Client, role, who string) *dynamodb.Client {
		out, err := fn.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(acct + role),
			RoleSessionName: aws.String("userSession" + who), Policy: aws.String(seedPolicy(who))})
		if err != nil {
			t.Fatalf("getCredentials(%s) on %s: %v", who, role, err)
		}
		return sessionClient(st, out)
	}
	tenant1, tenant2 := vend(grantSTS, "tvm-seed-tenant", "1"), vend(grantSTS, "tvm-seed-tenant", "2")
	noGrant1 := vend(noGrantSTS, "tvm-seed-nogrant-tenant", "1")

	query := func(db *dynamodb.Client, what string, gsi bool) (int, string) {
		in := queryInput("", "PK", "Tenant#"+what)
		if gsi {
			in = queryInput("gsi", "PK1", "Tenant#"+what)
		}
		out, err := db.Query(ctx, in)
		if err != nil {
			code, _ := errCode(err)
			return -1, code
		}
		return len(out.Items), ""
	}
	const denied = "AccessDeniedException"
	cases := map[string]struct {
		db    *dynamodb.Client
		what  string
		gsi   bool
		items int
		code  string
	}{
		"/grant/1: tenant 1 has 1 item on its PK":                {grantDB, "1", false, 1, ""},
		"/grant/2: tenant 2 has 2 items on its PK":               {grantDB, "2", false, 2, ""},
		"/grant/1/1: tenant 1 has 2 items on the GSI":            {grantDB, "1", true, 2, ""},
		"/grant/2/1: tenant 2 has 1 item on the GSI":             {grantDB, "2", true, 1, ""},
		"/noGrant/1: no grant, no read":                          {noGrantDB, "1", false, -1, denied},
		"/noGrant/1/1: no grant, no read on the GSI":             {noGrantDB, "1", true, -1, denied},
		"/noGrant/1?credentials=1: the vended role has no grant": {noGrant1, "1", false, -1, denied},
		"/grant/1?credentials=1: own PK items":                   {tenant1, "1", false, 1, ""},
		"/grant/2?credentials=1: not tenant 2's":                 {tenant1, "2", false, -1, denied},
		"/grant/1?credentials=2: not tenant 1's":                 {tenant2, "1", false, -1, denied},
		"/grant/2?credentials=2: own PK items":                   {tenant2, "2", false, 2, ""},
		"/grant/1/1?credentials=1: the 2 Tenant#1 PK1 items":     {tenant1, "1", true, 2, ""},
		"/grant/2/1?credentials=1: not Tenant#2 PK1 items":       {tenant1, "2", true, -1, denied},
		"/grant/1/1?credentials=2: not Tenant#1 PK1 items":       {tenant2, "1", true, -1, denied},
		"/grant/2/1?credentials=2: the 1 Tenant#2 PK1 item":      {tenant2, "2", true, 1, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			items, code := query(tc.db, tc.what, tc.gsi)
			if items != tc.items || code != tc.code {
				t.Errorf("got %d items, error %q; want %d, %q", items, code, tc.items, tc.code)
			}
		})
	}
}
