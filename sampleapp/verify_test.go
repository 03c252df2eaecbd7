package sampleapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func failingRows(rep Report) []int {
	var n []int
	for _, r := range rep.Rows {
		if !r.Pass {
			n = append(n, r.N)
		}
	}
	return n
}

func span(from, to int) []int {
	var n []int
	for i := from; i <= to; i++ {
		n = append(n, i)
	}
	return n
}

// wantRows is the number of verify rows: the seed's 16 experiments and 6
// more on the pooled table (rows 1-22), then 17 rows of the silo, bridge
// and ABAC models (23-39).
const wantRows = 39

// wantS3Rows is the number of S3 rows that follow when the environment has
// an S3 client (Env.S3).
const wantS3Rows = 23

func TestVerify(t *testing.T) {
	for name, tc := range map[string]struct {
		setup func(*fakeStack)
		fail  []int // rows expected to fail
	}{
		"isolated": {setup: func(*fakeStack) {}},
		// A session policy without the LeadingKeys condition: every
		// cross-tenant and key-less read must show up as a failed row.
		"leakyPolicy": {setup: func(f *fakeStack) { f.leaky = true }, fail: []int{10, 12, 14, 16, 17, 18, 19}},
		// A broker that answers 503 must never let a "denied" row pass.
		// Every vended row, the models' included; the untagged ABAC session
		// (row 39) is the app's own and does not depend on the broker.
		"brokerFailing":  {setup: func(f *fakeStack) { f.brokerStatus = 503 }, fail: span(7, 38)},
		"wildcardVended": {setup: func(f *fakeStack) { f.acceptAny = true }, fail: []int{22}},
		// Failing to become the no-grant role is an error, not a denial.
		"noGrantUnavailable": {setup: func(f *fakeStack) { f.noGrantErr = errNoGrantAssume }, fail: []int{5, 6}},
		// Same for the ABAC role without tags.
		"abacRoleUnavailable": {setup: func(f *fakeStack) { f.abacErr = errNoGrantAssume }, fail: []int{39}},
		// Only AccessDeniedException counts as denied.
		"otherAWSError": {
			setup: func(f *fakeStack) {
				f.ddbErr = &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Requested resource not found"}
			},
			fail: append(span(1, 21), span(23, 39)...),
		},
		// A silo policy on table/tvm-demo-{tenant}* lets tenant 1 into
		// tvm-demo-12 (not 12 into tvm-demo-1).
		"siloPrefixWildcard": {setup: func(f *fakeStack) { f.siloPrefix = true }, fail: []int{26, 27}},
		// A bridge profile without LeadingKeys is a silo profile: the
		// foreign row in the tenant's own table and Scan get through.
		"bridgeWithoutLeadingKeys": {setup: func(f *fakeStack) { f.bridgeNoKeys = true }, fail: []int{31, 32}},
		// A role tag tenant=1 stands in for the missing session tag.
		"abacRoleTagged": {setup: func(f *fakeStack) { f.roleTag = true }, fail: []int{39}},
	} {
		t.Run(name, func(t *testing.T) {
			fs := newFakeStack(t)
			tc.setup(fs)
			rep := fs.env().Verify(context.Background())
			if len(rep.Rows) != wantRows {
				t.Fatalf("rows = %d, want %d", len(rep.Rows), wantRows)
			}
			if diff := cmp.Diff(tc.fail, failingRows(rep)); diff != "" {
				var b bytes.Buffer
				_ = rep.WriteTable(&b)
				t.Errorf("failing rows (-want +got):\n%s\n%s", diff, b.String())
			}
			if rep.OK != (len(tc.fail) == 0) {
				t.Errorf("OK = %v with failing rows %v", rep.OK, tc.fail)
			}
		})
	}
}

func TestVerifyRows(t *testing.T) {
	fs := newFakeStack(t)
	rep := fs.env().Verify(context.Background())
	type row struct {
		Experiment, Expected, Actual string
		Items                        []string
	}
	want := map[int]row{
		1:  {"app identity (read): Query table Tenant#1", "allowed, 1 item", "allowed, 1 item", []string{"Tenant#1/Item#1"}},
		3:  {"app identity (read): Query GSI gsi Tenant#1", "allowed, 2 items", "allowed, 2 items", []string{"Tenant#1/Item#1", "Tenant#2/Item#3"}},
		5:  {"app identity (nogrant): Query table Tenant#1", "denied (AccessDeniedException)", "denied (AccessDeniedException)", nil},
		7:  {"vended tenant 1 (nogrant): Query table Tenant#1", "denied (AccessDeniedException)", "denied (AccessDeniedException)", nil},
		13: {"vended tenant 1 (read): Query GSI gsi Tenant#1", "allowed, 2 items", "allowed, 2 items", []string{"Tenant#1/Item#1", "Tenant#2/Item#3"}},
		19: {"vended tenant 1 (read): BatchGetItem Tenant#1/Item#1 + Tenant#2/Item#2", "denied (AccessDeniedException)", "denied (AccessDeniedException)", nil},
		22: {"broker: token for tenant *", "refused (401 invalid_tenant)", "refused (401 invalid_tenant)", nil},
	}
	got := map[int]row{}
	for _, r := range rep.Rows {
		if _, ok := want[r.N]; ok {
			got[r.N] = row{r.Experiment, r.Expected, r.Actual, r.Items}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if !strings.Contains(rep.Rows[4].Message, "not authorized") {
		t.Errorf("denial message not kept: %q", rep.Rows[4].Message)
	}
}

// TestVerifyModelRows pins the silo, bridge and ABAC rows: who asks, what,
// and the exact items of the allowed ones.
func TestVerifyModelRows(t *testing.T) {
	fs := newFakeStack(t)
	rep := fs.env().Verify(context.Background())
	type row struct {
		Experiment, Expected string
		Items                []string
	}
	deny := "denied (AccessDeniedException)"
	want := []row{
		{"vended tenant 1 (silo-read): Query table tvm-demo-1 Tenant#1", "allowed, 2 items", []string{"Tenant#1/Item#1", "Tenant#1/Item#2"}},
		{"vended tenant 1 (silo-read): Scan table tvm-demo-1", "allowed, 3 items", []string{"Tenant#1/Item#1", "Tenant#1/Item#2", "Tenant#12/Item#9"}},
		{"vended tenant 1 (silo-read): Scan table tvm-demo-2", deny, nil},
		{"vended tenant 1 (silo-read): Scan table tvm-demo-12", deny, nil},
		{"vended tenant 1 (silo-read): Query table tvm-demo-12 Tenant#12", deny, nil},
		{"vended tenant 12 (silo-read): Scan table tvm-demo-12", "allowed, 2 items", []string{"Tenant#12/Item#1", "Tenant#12/Item#2"}},
		{"vended tenant 12 (silo-read): Scan table tvm-demo-1", deny, nil},
		{"vended tenant 1 (bridge-read): Query table tvm-demo-1 Tenant#1", "allowed, 2 items", []string{"Tenant#1/Item#1", "Tenant#1/Item#2"}},
		{"vended tenant 1 (bridge-read): Query table tvm-demo-1 Tenant#12", deny, nil},
		{"vended tenant 1 (bridge-read): Scan table tvm-demo-1", deny, nil},
		{"vended tenant 1 (bridge-read): Query table tvm-demo-12 Tenant#1", deny, nil},
		{"vended tenant 1 (abac-read): Query table Tenant#1", "allowed, 1 item", []string{"Tenant#1/Item#1"}},
		{"vended tenant 1 (abac-read): Query GSI gsi Tenant#1", "allowed, 2 items", []string{"Tenant#1/Item#1", "Tenant#2/Item#3"}},
		{"vended tenant 1 (abac-read): Query table Tenant#2", deny, nil},
		{"vended tenant 1 (abac-read): Query GSI gsi Tenant#2", deny, nil},
		{"vended tenant 12 (abac-read): Query table Tenant#1", deny, nil},
		{"app identity as tvm-tenant-abac (no tags): Query table Tenant#1", deny, nil},
	}
	var got []row
	for _, r := range rep.Rows[22:] {
		slices.Sort(r.Items)
		got = append(got, row{r.Experiment, r.Expected, r.Items})
		if !r.Pass || r.Seed {
			t.Errorf("row %d: pass %v, from seed %v", r.N, r.Pass, r.Seed)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("model rows (-want +got):\n%s", diff)
	}
}

func TestReportWriters(t *testing.T) {
	fs := newFakeStack(t)
	rep := fs.env().Verify(context.Background())
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{
		"#   experiment", "expected", "verdict",
		"22  broker: token for tenant *",
		"tenant 1 sees Tenant#2/Item#3",
		"39  app identity as tvm-tenant-abac (no tags): Query table Tenant#1",
		"PASS: 39 of 39 rows as expected",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}

	fs.leaky = true
	bad := fs.env().Verify(context.Background())
	table.Reset()
	if err := bad.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL: 32 of 39 rows as expected", "row 17: allowed, 3 items [Tenant#1/Item#1"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("failing table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestExpectationMatches(t *testing.T) {
	i1, i2, i3 := SeedItems[0], SeedItems[1], SeedItems[2]
	for name, tc := range map[string]struct {
		x    Expectation
		r    Result
		want bool
	}{
		"sameItemsOtherOrder": {Expectation{Outcome: Allowed, Items: []Item{i1, i3}}, Result{Outcome: Allowed, Items: []Item{i3, i1}}, true},
		"rightCountWrongItem": {Expectation{Outcome: Allowed, Items: []Item{i1, i3}}, Result{Outcome: Allowed, Items: []Item{i1, i2}}, false},
		"tooMany":             {Expectation{Outcome: Allowed, Items: []Item{i1}}, Result{Outcome: Allowed, Items: []Item{i1, i1}}, false},
		"deniedWanted":        {Expectation{Outcome: Denied}, Result{Outcome: Denied, Code: "AccessDeniedException"}, true},
		"deniedOtherCode":     {Expectation{Outcome: Denied}, Result{Outcome: Denied, Code: "AccessDenied"}, false},
		"errorIsNotDenied":    {Expectation{Outcome: Denied}, Result{Outcome: Failed, Code: "AccessDeniedException"}, false},
		"refusedIsNotDenied":  {Expectation{Outcome: Denied}, Result{Outcome: Refused, Code: "403 forbidden"}, false},
		"allowedIsNotDenied":  {Expectation{Outcome: Denied}, Result{Outcome: Allowed}, false},
		"refusedCode":         {Expectation{Outcome: Refused, Code: "401 invalid_tenant"}, Result{Outcome: Refused, Code: "401 invalid_tenant"}, true},
		"refusedOtherCode":    {Expectation{Outcome: Refused, Code: "401 invalid_tenant"}, Result{Outcome: Refused, Code: "401 invalid_token"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.x.Matches(tc.r); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCredentialsFailureKeepsCause(t *testing.T) {
	r := credentialsFailure(errNoGrantAssume)
	if r.Outcome != Failed || !strings.Contains(r.Message, "sts:AssumeRole") {
		t.Errorf("result = %+v", r)
	}
	wrapped := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole",
		Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not trusted"}}
	if r := credentialsFailure(wrapped); r.Outcome != Failed || r.Code != "AccessDenied" {
		t.Errorf("STS AccessDenied classified as %+v, want error", r)
	}
	if r := awsFailure(errors.New("boom")); r.Outcome != Failed {
		t.Errorf("plain error classified as %+v", r)
	}
}
