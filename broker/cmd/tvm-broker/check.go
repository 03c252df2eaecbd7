package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/profiles"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/targets"
)

// check validates the configuration and proves every profile, printing one
// table row per profile (and, with --rows, every proof row), then loads the
// TLS files as serve would (checkTLS).
func check(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := newSubcommand("check", stderr)
	rows := cmd.fs.Bool("rows", false, "print every row of every isolation proof")
	skipTLS := cmd.fs.Bool("skip-tls", false, "do not load server.tls's files (checking a configuration away from its certificates)")
	cfg, code, ok := cmd.load(args, stderr, getenv)
	if !ok {
		return code
	}
	templates, err := policies.LoadTemplates(cfg.PolicyDir, targets.All())
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker check: policy templates: %v\n", err)
		return exitFailure
	}
	set, err := profiles.Check(cfg, templates, profiles.Options{Roles: fetchRoles(context.Background(), cfg, cfg.RolesFromIAM())})
	var reports []profiles.Report
	if set != nil {
		reports = set.Reports()
	}
	printChecks(stdout, reports, cfg.Proof.Disabled, *rows)
	err = errors.Join(err, checkKeys(stdout, cfg.Auth))
	if *skipTLS {
		fmt.Fprintln(stdout, "tls: files not checked (--skip-tls)")
	} else {
		err = errors.Join(err, checkTLS(stdout, &cfg.Server, cfg.Listen, time.Now()))
	}
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker check: FAILED: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "ok: %d profiles checked\n", len(reports))
	return exitOK
}

// checkKeys loads the token verification keys as serve would
// (auth.CheckKeys: files read, URLs not fetched) and prints what it checked.
func checkKeys(w io.Writer, a config.Auth) error {
	summary, err := auth.CheckKeys(a)
	if err != nil {
		fmt.Fprintf(w, "auth keys: FAIL: %v\n", err)
		return fmt.Errorf("auth: %w", err)
	}
	fmt.Fprintf(w, "auth keys: ok: %s\n", summary)
	return nil
}

// printChecks writes the per-profile table, then every UNPROVEN grant
// and, with rows, every proof row.
func printChecks(w io.Writer, reports []profiles.Report, proofDisabled, rows bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tTEMPLATE\tISOLATION\tROLE_POLICY\tPOLICY_SIZE\tPROOF\tRESULT")
	for _, r := range reports {
		proof := "not run"
		switch {
		case proofDisabled:
			proof = "disabled"
		case r.Proof != nil:
			passed := 0
			for _, row := range r.Proof.Rows {
				if row.OK {
					passed++
				}
			}
			proof = fmt.Sprintf("%d/%d rows", passed, len(r.Proof.Rows))
		}
		size := "-"
		if r.PolicySize > 0 {
			size = strconv.Itoa(r.PolicySize)
		}
		result := "ok"
		if !r.OK() {
			result = "FAIL: " + r.Err.Error()
		}
		tmpl := r.Template
		if tmpl == "" {
			tmpl = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Profile, tmpl, r.Isolation, r.RolePolicy, size, proof, result)
	}
	_ = tw.Flush()
	for _, r := range reports {
		for _, u := range r.Unproven {
			fmt.Fprintf(w, "UNPROVEN: profile %s: %s\n", r.Profile, u)
		}
	}
	if !rows {
		return
	}
	for _, r := range reports {
		if r.Proof == nil {
			continue
		}
		fmt.Fprintf(w, "\nprofile %s:\n", r.Profile)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ROW\tACTION\tRESOURCE\tWANT\tGOT\tOK")
		for _, row := range r.Proof.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", row.Name, row.Action, row.Resource, row.Want, row.Got, row.OK)
		}
		_ = tw.Flush()
	}
}

// render prints the session policy that a tenant gets from a profile.
func render(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := newSubcommand("render", stderr)
	profileName := cmd.fs.String("profile", "", "profile name (default: the configured default profile)")
	tenant := cmd.fs.String("tenant", "", "tenant id (required)")
	cfg, code, ok := cmd.load(args, stderr, getenv, "tenant")
	if !ok {
		return code
	}
	pc, ok := cfg.Profile(*profileName)
	if !ok {
		fmt.Fprintf(stderr, "tvm-broker render: no profile %q\n", *profileName)
		return exitUsage
	}
	templates, err := policies.LoadTemplates(cfg.PolicyDir, targets.All())
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker render: policy templates: %v\n", err)
		return exitFailure
	}
	// The compile step, as at start-up; a profile that compiled renders even
	// when its proof fails, to show what the tenant would get, and render
	// then says the broker refuses it and exits non-zero. Only the rendered
	// profile's role is read through IAM.
	var arns []string
	if pc.RolePolicyFromIAM {
		arns = []string{pc.RoleARN}
	}
	set, err := profiles.Check(cfg, templates, profiles.Options{Roles: fetchRoles(context.Background(), cfg, arns)})
	if set == nil {
		fmt.Fprintf(stderr, "tvm-broker render: %v\n", err)
		return exitFailure
	}
	p, ok := set.Profile(*profileName)
	if !ok {
		fmt.Fprintf(stderr, "tvm-broker render: profile %q: %v\n", *profileName, err)
		return exitFailure
	}
	if err := set.Pattern().Check(*tenant); err != nil {
		fmt.Fprintf(stderr, "tvm-broker render: tenant refused: %v\n", err)
		return exitFailure
	}
	r, err := p.Render(*tenant)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-broker render: %v\n", err)
		return exitFailure
	}
	var refused error
	for _, rep := range set.Reports() {
		if rep.Profile == p.Name() && !rep.OK() {
			refused = rep.Err
		}
	}
	verdict := func() int {
		if refused == nil {
			return exitOK
		}
		fmt.Fprintf(stderr, "tvm-broker render: profile %s is refused: the broker does not serve it: %v\n", p.Name(), refused)
		return exitFailure
	}
	if len(r.JSON) == 0 {
		fmt.Fprintf(stderr, "profile %s sends no session policy (isolation: %s): the role's policy isolates, with the session tags\n", p.Name(), p.Isolation())
		return verdict()
	}
	var out bytes.Buffer
	if err := json.Indent(&out, r.JSON, "", "  "); err != nil {
		fmt.Fprintf(stderr, "tvm-broker render: %v\n", err)
		return exitFailure
	}
	out.WriteByte('\n')
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return exitFailure
	}
	fmt.Fprintf(stderr, "profile %s, template %s, %d characters (STS limit %d), sha256 %s\n", p.Name(), p.TemplateName(), r.Size, stsrules.MaxPolicySize, r.Hash)
	return verdict()
}
