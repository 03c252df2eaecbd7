package sampleapp

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The operations rows (docs/operations.md): a tenant added to the broker's
// block list file is refused by the running broker (403 tenant_blocked),
// and served again once removed; credentials vended before `tvm-broker
// revoke --apply` are denied by DynamoDB afterwards — under a profile
// whose sessions the revocation recognises by name (read) and one where it
// recognises them by tag (abac-read) — while another tenant's, old and
// new, keep working, and `--remove` lifts the revocation. The rows run
// only when the block list file (Config.BlockFile) and the operator's
// revoke command (Config.RevokeCommand) are given, as the demo does; each
// leaves the stack as it found it.

// Defaults of the operations rows.
const (
	// DefaultBlockedTenant and DefaultRevokedTenant are tenants dedicated
	// to these rows: no other row uses them.
	DefaultBlockedTenant = "3"
	DefaultRevokedTenant = "4"
	// DefaultNewTenant vends for the first time after the revocation.
	DefaultNewTenant = "5"
	// DefaultOpsWait bounds the wait for the broker to apply a change of
	// the block list (it re-reads the file every 500 ms by default).
	DefaultOpsWait = 10 * time.Second
	opsPoll        = 100 * time.Millisecond
)

func addOpsFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.BlockFile, "block-file", c.BlockFile, `the broker's block list file (block_list.file): verify blocks --blocked-tenant through it and unblocks it; "" = no block rows ($TVM_BLOCK_FILE)`)
	fs.StringVar(&c.BlockedTenant, "blocked-tenant", c.BlockedTenant, "tenant the block rows block (used by no other row)")
	fs.StringVar(&c.RevokeCommand, "revoke-command", c.RevokeCommand, `the operator's revoke command, e.g. "tvm-broker revoke --config broker.yaml": verify appends --tenant T --apply, then --remove; "" = no revoke rows ($TVM_REVOKE_COMMAND)`)
	fs.StringVar(&c.RevokedTenant, "revoked-tenant", c.RevokedTenant, "tenant the revoke rows revoke (used by no other row)")
}

// blockFile returns Env.Block for the block list file path: it adds or
// removes a line holding exactly tenant, replacing the file atomically.
func blockFile(path string) func(ctx context.Context, tenant string, blocked bool) error {
	return func(_ context.Context, tenant string, blocked bool) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("block list: %w", err)
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		lines = slices.DeleteFunc(lines, func(l string) bool { return strings.TrimSpace(l) == tenant })
		if blocked {
			lines = append(lines, tenant)
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".blocked-*")
		if err != nil {
			return fmt.Errorf("block list: %w", err)
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.WriteString(strings.TrimLeft(strings.Join(lines, "\n")+"\n", "\n")); err != nil {
			tmp.Close()
			return fmt.Errorf("block list: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("block list: %w", err)
		}
		return os.Rename(tmp.Name(), path)
	}
}

// revokeCommand returns Env.Revoke running the operator's command (argv
// split at blanks) with --tenant T and --apply or --remove appended.
func revokeCommand(command string) func(ctx context.Context, tenant string, apply bool) error {
	argv := strings.Fields(command)
	return func(ctx context.Context, tenant string, apply bool) error {
		mode := "--remove"
		if apply {
			mode = "--apply"
		}
		args := append(slices.Clone(argv[1:]), "--tenant", tenant, mode)
		out, err := exec.CommandContext(ctx, argv[0], args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", command, strings.Join(args[len(argv)-1:], " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
}

// verifyOps adds the block and revoke rows the configuration asks for.
func (e *Env) verifyOps(ctx context.Context, rep *Report) {
	if e.Block != nil {
		e.blockRows(ctx, rep)
	}
	if e.Revoke != nil {
		e.revokeRows(ctx, rep)
	}
}

// blockRows: vended, blocked through the file, served again.
func (e *Env) blockRows(ctx context.Context, rep *Report) {
	c := e.Config
	t := c.BlockedTenant
	fresh := func() Result {
		if _, err := e.VendFresh(t, c.Profile).Retrieve(ctx); err != nil {
			return credentialsFailure(err)
		}
		return Result{Outcome: Allowed}
	}
	allowed := Expectation{Outcome: Allowed}
	refused := Expectation{Outcome: Refused, Code: "403 tenant_blocked"}
	rep.add(fmt.Sprintf("broker: tenant %s (%s) before the block", t, c.Profile), false, allowed, fresh())
	step := func(blocked bool, name string, want Expectation) {
		if err := e.Block(ctx, t, blocked); err != nil {
			rep.add(name, false, want, Result{Outcome: Failed, Message: err.Error()})
			return
		}
		rep.add(name, false, want, e.waitFor(ctx, fresh, want))
	}
	step(true, fmt.Sprintf("broker: tenant %s once the block list file lists it (no restart)", t), refused)
	step(false, fmt.Sprintf("broker: tenant %s once the block list file no longer lists it", t), allowed)
}

// waitFor polls try until its result matches want or the wait is over,
// and returns the last result.
func (e *Env) waitFor(ctx context.Context, try func() Result, want Expectation) Result {
	wait := e.Config.OpsWait
	if wait <= 0 {
		wait = DefaultOpsWait
	}
	deadline := time.Now().Add(wait)
	for {
		r := try()
		if want.Matches(r) || time.Now().After(deadline) {
			return r
		}
		select {
		case <-ctx.Done():
			return Result{Outcome: Failed, Message: ctx.Err().Error()}
		case <-time.After(opsPoll):
		}
	}
}

// revokeRows: the revoked tenant's credentials work, are denied after
// `revoke --apply` while another tenant's keep working, and work again
// after `revoke --remove`.
func (e *Env) revokeRows(ctx context.Context, rep *Report) {
	c := e.Config
	rt := c.RevokedTenant
	i2, i3 := SeedItems[1], SeedItems[2]
	query := func(id Identity, tenant string) Result { return e.run(ctx, id, queryOp(tenant, false)) }
	read, abac := Identity{Tenant: rt, Profile: c.Profile}, Identity{Tenant: rt, Profile: c.ABACProfile}
	row := func(id Identity, tenant, when string, x Expectation) {
		rep.add(fmt.Sprintf("%s, issued %s: Query table %s", id, when, LeadingKey(tenant)), false, x, query(id, tenant))
	}
	allow := func(items ...Item) Expectation { return Expectation{Outcome: Allowed, Items: items} }
	deny := Expectation{Outcome: Denied}
	operator := func(apply bool, verb string) {
		r := Result{Outcome: Done}
		if err := e.Revoke(ctx, rt, apply); err != nil {
			r = Result{Outcome: Failed, Message: err.Error()}
		}
		rep.add(fmt.Sprintf("operator: tvm-broker revoke --tenant %s %s", rt, verb), false, Expectation{Outcome: Done}, r)
	}
	row(read, rt, "before the revocation", allow())
	row(abac, rt, "before the revocation", allow())
	operator(true, "--apply")
	row(read, rt, "before the revocation", deny)
	row(abac, rt, "before the revocation", deny)
	row(Identity{Tenant: "2", Profile: c.Profile}, "2", "before tenant "+rt+"'s revocation", allow(i2, i3))
	row(Identity{Tenant: DefaultNewTenant, Profile: c.Profile}, DefaultNewTenant, "after tenant "+rt+"'s revocation", allow())
	operator(false, "--remove")
	row(read, rt, "before the revocation, once removed", allow())
}

// opsProviders are the Env fields of the operations rows for c.
func opsProviders(c Config, fresh func(tenant, profile string) aws.CredentialsProvider, e *Env) {
	e.VendFresh = fresh
	if c.BlockFile != "" {
		e.Block = blockFile(c.BlockFile)
	}
	if c.RevokeCommand != "" {
		e.Revoke = revokeCommand(c.RevokeCommand)
	}
}
