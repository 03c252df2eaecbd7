package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/revoke"
	"github.com/tvmkit/tvm/broker/rolepolicy"
)

// revokeCmd is `tvm-broker revoke`: it prints, attaches (--apply), lists
// (--list) or removes (--remove) the revocation of a tenant's sessions
// (package broker/revoke). --apply and --remove run with the operator's
// own AWS credentials (the SDK's default chain, or --profile), never the
// broker's: the broker's role must not be able to change its roles'
// policies, and revoke refuses to run as the broker's identity when it is
// known (--broker-identity) or as a tenant session of one of the
// configuration's roles.
func revokeCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := newSubcommand("revoke", stderr)
	f := revokeFlags{
		tenant:   cmd.fs.String("tenant", "", "tenant whose sessions to revoke (required, except for --list and --remove --expired)"),
		before:   cmd.fs.String("before", "now", `cut-off: sessions issued before it are denied (RFC 3339, or "now": the next whole second)`),
		apply:    cmd.fs.Bool("apply", false, "attach the revocation to every role, with the operator's AWS credentials"),
		list:     cmd.fs.Bool("list", false, "list the revocations on the configuration's roles (of --tenant only, when given)"),
		remove:   cmd.fs.Bool("remove", false, "remove the revocations of --tenant (only the one of --before, when given), or with --expired"),
		expired:  cmd.fs.Bool("expired", false, "with --remove: remove every revocation whose sessions have all expired (12 hours after its cut-off)"),
		profile:  cmd.fs.String("profile", "", "AWS shared config profile of the operator's credentials (default: the SDK's default chain)"),
		brokerID: cmd.fs.String("broker-identity", "", "ARN of the broker's own identity (role or user): refuse to run as it"),
	}
	cfg, code, ok := cmd.load(args, stderr, getenv)
	if !ok {
		return code
	}
	if err := f.check(cmd); err != nil {
		fmt.Fprintf(stderr, "tvm-broker revoke: %v\n%s", err, usage)
		return exitUsage
	}
	var err error
	switch {
	case *f.list:
		err = f.runList(ctx, cfg, stdout)
	case *f.remove:
		err = f.runRemove(ctx, cfg, stdout, stderr)
	default:
		err = f.runPlan(ctx, cfg, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker revoke: %v\n", err)
		return exitFailure
	}
	return exitOK
}

type revokeFlags struct {
	tenant, before, profile, brokerID *string
	apply, list, remove, expired      *bool
	beforeSet                         bool
	cutoff                            time.Time
}

// check validates the flag combination and parses --before.
func (f *revokeFlags) check(cmd *subcommand) error {
	cmd.fs.Visit(func(fl *flag.Flag) { f.beforeSet = f.beforeSet || fl.Name == "before" })
	modes := 0
	for _, b := range []bool{*f.apply, *f.list, *f.remove} {
		if b {
			modes++
		}
	}
	switch {
	case modes > 1:
		return errors.New("--apply, --list and --remove exclude each other")
	case *f.expired && !*f.remove:
		return errors.New("--expired goes with --remove")
	case *f.remove && *f.expired && *f.tenant != "":
		return errors.New("--remove takes --tenant or --expired, not both")
	case *f.remove && !*f.expired && *f.tenant == "":
		return errors.New("--remove needs --tenant (or --expired)")
	case !*f.list && !*f.remove && *f.tenant == "":
		return errors.New("--tenant is required")
	}
	if *f.before == "now" {
		f.cutoff = time.Now().UTC().Truncate(time.Second).Add(time.Second)
		return nil
	}
	t, err := time.Parse(time.RFC3339, *f.before)
	if err != nil {
		return fmt.Errorf("--before %q: not RFC 3339 (2006-01-02T15:04:05Z) nor \"now\"", *f.before)
	}
	f.cutoff = revoke.Cutoff(t) // as the plan rounds it, so --remove --before finds it
	return nil
}

// runPlan prints the revocation of every role and, with --apply,
// attaches it.
func (f *revokeFlags) runPlan(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	plan, err := revoke.NewPlan(cfg, *f.tenant, f.cutoff)
	if err != nil {
		return err
	}
	if !*f.apply {
		return printPlan(stdout, plan)
	}
	api, err := f.operator(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	results, err := revoke.Apply(ctx, api, plan, time.Now())
	for _, r := range results {
		if r.Err == nil {
			fmt.Fprintf(stdout, "attached %s to %s (%d characters; the role's inline policies now total %d of 10240)\n", r.PolicyName, r.RoleARN, r.Size, r.Total)
		} else {
			fmt.Fprintf(stdout, "FAILED %s on %s: %v\n", r.PolicyName, r.RoleARN, r.Err)
		}
	}
	if err == nil {
		fmt.Fprintf(stdout, "sessions of tenant %s issued before %s are denied on every role of the configuration; "+
			"block the tenant too (block_list.file), or the broker keeps vending it new sessions\n", plan.Tenant, plan.Cutoff.Format(time.RFC3339))
	}
	return err
}

// printPlan writes each role's revocation: a comment line and the policy.
func printPlan(w io.Writer, plan *revoke.Plan) error {
	for _, r := range plan.Roles {
		how := []string{}
		if len(r.ByName) > 0 {
			how = append(how, "by session name: "+strings.Join(r.ByName, ", "))
		}
		if len(r.ByTag) > 0 {
			how = append(how, "by session tag: "+strings.Join(r.ByTag, ", "))
		}
		fmt.Fprintf(w, "# role %s, inline policy %s (%d characters; %s)\n", r.RoleARN, r.PolicyName, r.Size(), strings.Join(how, "; "))
		var doc any
		if err := json.Unmarshal([]byte(r.Document), &doc); err != nil {
			return err
		}
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", out); err != nil {
			return err
		}
	}
	return nil
}

// runList prints the revocations on the configuration's roles.
func (f *revokeFlags) runList(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	api, err := f.iamClient(ctx, cfg)
	if err != nil {
		return err
	}
	revs, err := revoke.List(ctx, api, configRoles(cfg), *f.tenant, time.Now())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tPOLICY\tTENANT\tCUT-OFF\tSIZE\tSTATUS")
	for _, r := range revs {
		status := "active"
		switch {
		case r.Expired:
			status = "expired: every session it denies has expired (--remove --expired)"
		case r.SupersededBy != "":
			status = "active, superseded by " + r.SupersededBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.RoleName, r.PolicyName, r.TenantPart, r.Cutoff.Format(time.RFC3339), r.Size, status)
	}
	return tw.Flush()
}

// runRemove removes the tenant's revocations (or the one of --before),
// or every expired one.
func (f *revokeFlags) runRemove(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	api, err := f.operator(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	revs, err := revoke.List(ctx, api, configRoles(cfg), *f.tenant, time.Now())
	if err != nil {
		return err
	}
	var chosen []revoke.Revocation
	for _, r := range revs {
		if (*f.expired && r.Expired) || (!*f.expired && (!f.beforeSet || r.Cutoff.Equal(f.cutoff))) {
			chosen = append(chosen, r)
		}
	}
	results, err := revoke.Remove(ctx, api, chosen)
	for _, r := range results {
		if r.Err == nil {
			fmt.Fprintf(stdout, "removed %s from %s\n", r.PolicyName, r.RoleARN)
		}
	}
	fmt.Fprintf(stdout, "%d revocation(s) removed\n", len(results))
	return err
}

// configRoles returns the distinct roles of the configuration's profiles.
func configRoles(cfg *config.Config) []revoke.Role {
	var out []revoke.Role
	seen := map[string]bool{}
	for _, p := range cfg.Profiles {
		if seen[p.RoleARN] {
			continue
		}
		seen[p.RoleARN] = true
		if name, err := rolepolicy.RoleName(p.RoleARN); err == nil {
			out = append(out, revoke.Role{ARN: p.RoleARN, Name: name})
		}
	}
	return out
}
