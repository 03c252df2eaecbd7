package sampleapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of Main.
const (
	ExitOK     = 0
	ExitDenied = 1 // query: AccessDeniedException; verify: a row did not match
	ExitError  = 2 // any other failure, usage errors included
)

const usage = `usage: tvm-sample [global flags] <command> [flags]

Commands:
  seed     create the pooled table and the per-tenant tables (with their GSI) if absent,
           write their items; create the bucket if absent, write one object per tenant
           prefix (idempotent)
  query    the seed's reader experiment: query one tenant's partition
  verify   run every isolation experiment and print expected vs actual

Global flags (also accepted after the command):
`

// Main runs the tvm-sample command line and returns its exit status.
// getenv supplies defaults: AWS_ENDPOINT_URL, AWS_REGION, TVM_BROKER_URL,
// TVM_IDP_URL, TVM_TOKEN_FILE, TVM_TABLE, TVM_SILO_TABLE,
// TVM_NO_GRANT_ROLE_ARN, TVM_BUCKET, TVM_BLOCK_FILE, TVM_REVOKE_COMMAND.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{newEnv: NewEnv, seed: SeedStack, stdout: stdout, stderr: stderr}
	return a.main(ctx, args, getenv)
}

// app is the command line with its dependencies, replaceable in tests.
type app struct {
	newEnv         func(ctx context.Context, c Config) (*Env, error)
	seed           func(ctx context.Context, c Config, w io.Writer) error
	stdout, stderr io.Writer
}

func (a *app) main(ctx context.Context, args []string, getenv func(string) string) int {
	stdout, stderr := a.stdout, a.stderr
	cfg := ConfigFromEnv(getenv)
	fs := flag.NewFlagSet("tvm-sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addGlobalFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitError
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ExitError
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "seed":
		return a.seedCmd(ctx, rest, cfg)
	case "query":
		return a.queryCmd(ctx, rest, cfg)
	case "verify":
		return a.verifyCmd(ctx, rest, cfg)
	case "help":
		fs.SetOutput(stdout)
		fs.Usage()
		return ExitOK
	}
	fmt.Fprintf(stderr, "tvm-sample: unknown command %q\n", cmd)
	fs.Usage()
	return ExitError
}

// ConfigFromEnv returns DefaultConfig with the environment's overrides.
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := DefaultConfig()
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&cfg.Endpoint, "AWS_ENDPOINT_URL")
	set(&cfg.Region, "AWS_REGION")
	set(&cfg.BrokerURL, "TVM_BROKER_URL")
	set(&cfg.IdPURL, "TVM_IDP_URL")
	set(&cfg.TokenFile, "TVM_TOKEN_FILE")
	set(&cfg.Table, "TVM_TABLE")
	set(&cfg.SiloTable, "TVM_SILO_TABLE")
	set(&cfg.NoGrantRoleARN, "TVM_NO_GRANT_ROLE_ARN")
	set(&cfg.Bucket, "TVM_BUCKET")
	set(&cfg.BlockFile, "TVM_BLOCK_FILE")
	set(&cfg.RevokeCommand, "TVM_REVOKE_COMMAND")
	return cfg
}

func addGlobalFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Endpoint, "endpoint", c.Endpoint, `AWS endpoint for DynamoDB and STS ($AWS_ENDPOINT_URL); "" = real AWS`)
	fs.StringVar(&c.BrokerURL, "broker", c.BrokerURL, "tvm broker base URL ($TVM_BROKER_URL)")
	fs.StringVar(&c.IdPURL, "idp", c.IdPURL, "dev IdP base URL that mints tokens via POST /idp/token ($TVM_IDP_URL)")
	fs.StringVar(&c.TokenFile, "token-file", c.TokenFile, `token file per tenant instead of the dev IdP; "{tenant}" is replaced by the tenant ($TVM_TOKEN_FILE)`)
	fs.StringVar(&c.Table, "table", c.Table, "DynamoDB table ($TVM_TABLE)")
	fs.StringVar(&c.Index, "index", c.Index, "global secondary index on PK1/SK1")
	fs.StringVar(&c.Region, "region", c.Region, "AWS region ($AWS_REGION)")
	fs.StringVar(&c.Profile, "profile", c.Profile, "broker profile of the grant experiments (the seed's /grant)")
	fs.StringVar(&c.NoGrantProfile, "nogrant-profile", c.NoGrantProfile, "broker profile of the no-grant experiments (the seed's /noGrant)")
	fs.StringVar(&c.NoGrantRoleARN, "no-grant-role", c.NoGrantRoleARN, `role the app assumes to act as the no-grant role; "" = role/tvm-no-grant in the caller's account ($TVM_NO_GRANT_ROLE_ARN)`)
	fs.StringVar(&c.SiloTable, "silo-table", c.SiloTable, `a tenant's own table (silo and bridge rows); "{tenant}" is replaced by the tenant ($TVM_SILO_TABLE)`)
	fs.StringVar(&c.SiloProfile, "silo-profile", c.SiloProfile, "broker profile of the silo rows (a table per tenant)")
	fs.StringVar(&c.BridgeProfile, "bridge-profile", c.BridgeProfile, "broker profile of the bridge rows (a table per tenant and LeadingKeys)")
	fs.StringVar(&c.ABACProfile, "abac-profile", c.ABACProfile, "broker profile of the ABAC rows (session tags, the role's policy isolates)")
	fs.StringVar(&c.ABACRole, "abac-role", c.ABACRole, "the ABAC profile's role, which the app assumes without tags: a name in the caller's account, or an ARN")
	fs.BoolVar(&c.AllowInsecureHTTP, "allow-insecure-http", c.AllowInsecureHTTP, "allow plain http to a non-loopback broker (test networks only)")
	addS3Flags(fs, c)
	addOpsFlags(fs, c)
}

func subFlags(name, synopsis, help string, cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tvm-sample "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addGlobalFlags(fs, cfg)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tvm-sample %s %s\n\n%s\nFlags:\n", name, synopsis, help)
		fs.PrintDefaults()
	}
	return fs
}

func parseSub(fs *flag.FlagSet, args []string) (exit int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, true
		}
		return ExitError, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ExitError, true
	}
	return 0, false
}

func (a *app) seedCmd(ctx context.Context, args []string, cfg Config) int {
	stdout, stderr := a.stdout, a.stderr
	fs := subFlags("seed", "", "Creates the pooled table and each tenant's own table (--silo-table for tenants 1, 12\n"+
		"and 2), all PK/SK with a GSI on PK1/SK1, projection ALL, on-demand, with the app's own\n"+
		"identity (the SDK default chain) if absent; writes their items and reads them back;\n"+
		"creates the bucket (--bucket) if absent and writes tenants/1/, tenants/12/ and tenants/2/hello.txt.\n", &cfg, stderr)
	if code, done := parseSub(fs, args); done {
		return code
	}
	if err := a.seed(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "tvm-sample seed: %v\n", err)
		return ExitError
	}
	return ExitOK
}

const queryHelp = `The seed's reader experiment: Query the partition Tenant#<tenant> on the table, or with
--gsi on the GSI's partition key PK1.

  --profile read    (default) the seed's /grant/<tenant>[/gsi]
  --profile nogrant the seed's /noGrant/<tenant>[/gsi]

Credentials:
  --as M            broker-vended credentials for tenant M (?credentials=M): a token for
                    tenant M is minted by the dev IdP (or read from --token-file) and
                    exchanged at the broker for the chosen profile
  --no-credentials  (default) the app's own identity, as the seed's Lambda without
                    ?credentials. For the grant profile that is the SDK default chain
                    (the local admin). For the no-grant profile the app acts as the
                    no-grant role: it calls sts:AssumeRole into --no-grant-role with its
                    own credentials, the role's trust policy must allow that.

Prints the items, or AWS's denial (code and message). Exit status: 0 allowed,
1 denied (AccessDeniedException), 2 any other error (a broker refusal included).
`

func (a *app) queryCmd(ctx context.Context, args []string, cfg Config) int {
	stdout, stderr := a.stdout, a.stderr
	fs := subFlags("query", "--tenant N [--gsi] [--as M | --no-credentials] [--profile P]", queryHelp, &cfg, stderr)
	tenant := fs.String("tenant", "", "tenant whose partition is queried (required)")
	gsi := fs.Bool("gsi", false, "query the GSI instead of the table")
	as := fs.String("as", "", "use broker-vended credentials for this tenant")
	noCreds := fs.Bool("no-credentials", false, "use the app's own identity (the default)")
	if code, done := parseSub(fs, args); done {
		return code
	}
	switch {
	case *tenant == "":
		fmt.Fprintln(stderr, "tvm-sample query: --tenant is required")
		return ExitError
	case *as != "" && *noCreds:
		fmt.Fprintln(stderr, "tvm-sample query: --as and --no-credentials are exclusive")
		return ExitError
	}
	env, err := a.newEnv(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-sample query: %v\n", err)
		return ExitError
	}
	id := Identity{Tenant: *as, Profile: cfg.Profile}
	where := "table " + cfg.Table + " PK"
	if *gsi {
		where = "GSI " + cfg.Table + "/" + cfg.Index + " PK1"
	}
	fmt.Fprintf(stdout, "%s: Query %s = %s\n", id, where, LeadingKey(*tenant))
	return printResult(env.Query(ctx, id, *tenant, *gsi), stdout, stderr)
}

func printResult(r Result, stdout, stderr io.Writer) int {
	switch r.Outcome {
	case Allowed:
		fmt.Fprintf(stdout, "allowed: %s\n", plural(len(r.Items), "item"))
		for _, it := range r.Items {
			fmt.Fprintf(stdout, "  PK=%s SK=%s PK1=%s SK1=%s\n", it.PK, it.SK, it.PK1, it.SK1)
		}
		return ExitOK
	case Denied:
		fmt.Fprintf(stdout, "DENIED %s: %s\n", r.Code, r.Message)
		return ExitDenied
	case Refused:
		fmt.Fprintf(stderr, "REFUSED by the broker (%s): %s\n", r.Code, r.Message)
		return ExitError
	}
	msg := r.Message
	if r.Code != "" {
		msg = r.Code + ": " + msg
	}
	fmt.Fprintf(stderr, "ERROR %s\n", strings.TrimSpace(msg))
	return ExitError
}

func (a *app) verifyCmd(ctx context.Context, args []string, cfg Config) int {
	stdout, stderr := a.stdout, a.stderr
	fs := subFlags("verify", "[--json]", "Runs the seed's experiments and more; prints expected vs actual per row.\n"+
		"Exit status 0 only if every row matches, 1 if one does not, 2 on set-up errors.\n", &cfg, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, done := parseSub(fs, args); done {
		return code
	}
	env, err := a.newEnv(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tvm-sample verify: %v\n", err)
		return ExitError
	}
	rep := env.Verify(ctx)
	write := rep.WriteTable
	if *asJSON {
		write = rep.WriteJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "tvm-sample verify: %v\n", err)
		return ExitError
	}
	if !rep.OK {
		return ExitDenied
	}
	return ExitOK
}
