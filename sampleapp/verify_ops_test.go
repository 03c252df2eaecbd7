package sampleapp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tvmkit/tvm/client"
)

// opsEnv is the fake stack's Env with the operations rows on: Block edits
// the fake broker's block list, Revoke revokes in the fake DynamoDB every
// session vended so far for the tenant.
func (fs *fakeStack) opsEnv(t *testing.T) *Env {
	t.Helper()
	e := fs.env()
	vend, cached := e.Vend, map[[2]string]aws.CredentialsProvider{}
	e.Vend = func(tenant, profile string) aws.CredentialsProvider { // one provider per tenant and profile, as NewEnv's
		k := [2]string{tenant, profile}
		if cached[k] == nil {
			cached[k] = vend(tenant, profile)
		}
		return cached[k]
	}
	e.VendFresh = func(tenant, profile string) aws.CredentialsProvider {
		return client.New(e.Config.BrokerURL, TokenSource(e.Config, tenant), func(o *client.Options) { o.Profile = profile })
	}
	e.Block = func(_ context.Context, tenant string, blocked bool) error {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if fs.blocked == nil {
			fs.blocked = map[string]bool{}
		}
		fs.blocked[tenant] = blocked
		return nil
	}
	e.Revoke = func(_ context.Context, tenant string, apply bool) error {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if fs.revoked == nil {
			fs.revoked = map[string]int{}
		}
		fs.revoked[tenant] = 0
		if apply {
			fs.revoked[tenant] = fs.vends
		}
		return nil
	}
	return e
}

func opsRows(rep Report) []Row {
	var out []Row
	for _, r := range rep.Rows {
		if strings.Contains(r.Experiment, "tenant 3") || strings.Contains(r.Experiment, "tenant 4") ||
			strings.Contains(r.Experiment, "tenant 5") || strings.Contains(r.Experiment, "revocation") {
			out = append(out, r)
		}
	}
	return out
}

func TestVerifyOpsRows(t *testing.T) {
	fs := newFakeStack(t)
	rep := fs.opsEnv(t).Verify(context.Background())
	rows := opsRows(rep)
	want := []string{
		"broker: tenant 3 (read) before the block|allowed, 0 items",
		"broker: tenant 3 once the block list file lists it (no restart)|refused (403 tenant_blocked)",
		"broker: tenant 3 once the block list file no longer lists it|allowed, 0 items",
		"vended tenant 4 (read), issued before the revocation: Query table Tenant#4|allowed, 0 items",
		"vended tenant 4 (abac-read), issued before the revocation: Query table Tenant#4|allowed, 0 items",
		"operator: tvm-broker revoke --tenant 4 --apply|done",
		"vended tenant 4 (read), issued before the revocation: Query table Tenant#4|denied (AccessDeniedException)",
		"vended tenant 4 (abac-read), issued before the revocation: Query table Tenant#4|denied (AccessDeniedException)",
		"vended tenant 2 (read), issued before tenant 4's revocation: Query table Tenant#2|allowed, 2 items",
		"vended tenant 5 (read), issued after tenant 4's revocation: Query table Tenant#5|allowed, 0 items",
		"operator: tvm-broker revoke --tenant 4 --remove|done",
		"vended tenant 4 (read), issued before the revocation, once removed: Query table Tenant#4|allowed, 0 items",
	}
	if len(rows) != len(want) {
		t.Fatalf("%d operations rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, r := range rows {
		if got := r.Experiment + "|" + r.Actual; got != want[i] || !r.Pass {
			t.Errorf("row %d: %q pass %v, want %q", i, got, r.Pass, want[i])
		}
	}
	if !rep.OK {
		t.Error("report not OK")
	}
}

// TestVerifyOpsRowsFail: a broker that ignores the block list and a
// revocation that denies nothing fail their rows.
func TestVerifyOpsRowsFail(t *testing.T) {
	fs := newFakeStack(t)
	e := fs.opsEnv(t)
	e.Config.OpsWait = 1 // one try
	e.Block = func(context.Context, string, bool) error { return nil }
	e.Revoke = func(_ context.Context, _ string, apply bool) error {
		if apply {
			return errors.New("AccessDenied")
		}
		return nil
	}
	rep := e.Verify(context.Background())
	failed := map[string]bool{}
	for _, r := range opsRows(rep) {
		if !r.Pass {
			failed[r.Experiment] = true
		}
	}
	for _, name := range []string{
		"broker: tenant 3 once the block list file lists it (no restart)",
		"operator: tvm-broker revoke --tenant 4 --apply",
		"vended tenant 4 (read), issued before the revocation: Query table Tenant#4",
	} {
		if !failed[name] {
			t.Errorf("row %q passed", name)
		}
	}
	if rep.OK {
		t.Error("report OK")
	}
}

// TestBlockFile: the block list edit adds and removes exactly the tenant's
// line, keeping the others.
func TestBlockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocked.txt")
	if err := os.WriteFile(path, []byte("# list\n7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	block := blockFile(path)
	read := func() string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := block(context.Background(), "3", true); err != nil || read() != "# list\n7\n3\n" {
		t.Errorf("after blocking 3: %q, %v", read(), err)
	}
	if err := block(context.Background(), "3", true); err != nil || read() != "# list\n7\n3\n" {
		t.Errorf("blocking 3 twice: %q, %v", read(), err)
	}
	if err := block(context.Background(), "3", false); err != nil || read() != "# list\n7\n" {
		t.Errorf("after unblocking 3: %q, %v", read(), err)
	}
	if err := blockFile(filepath.Join(t.TempDir(), "none"))(context.Background(), "3", true); err == nil {
		t.Error("a missing block list was created")
	}
}

// TestRevokeCommand runs the command with the tenant and the mode
// appended, and reports its output on failure.
func TestRevokeCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "revoke.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+filepath.Join(dir, "args")+"\n[ \"$5\" = --apply ] || { echo refused >&2; exit 3; }\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	run := revokeCommand(script + " --config x.yaml")
	if err := run(context.Background(), "4", true); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), "4", false)
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "--tenant 4 --remove") {
		t.Errorf("failing command: %v", err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if string(args) != "--config x.yaml --tenant 4 --apply\n--config x.yaml --tenant 4 --remove\n" {
		t.Errorf("args %q", args)
	}
}
