package sampleapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runCLI runs the command line over the fake stack and returns the exit
// status, stdout, stderr and the Config the command built.
func runCLI(t *testing.T, fs *fakeStack, env map[string]string, args ...string) (int, string, string, Config) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var got Config
	a := &app{
		stdout: &stdout, stderr: &stderr,
		newEnv: func(_ context.Context, c Config) (*Env, error) {
			got = c
			if err := c.Validate(); err != nil {
				return nil, err
			}
			e := fs.env()
			e.Config.Profile, e.Config.NoGrantProfile = c.Profile, c.NoGrantProfile
			return e, nil
		},
		seed: func(_ context.Context, c Config, w io.Writer) error {
			got = c
			_, err := io.WriteString(w, "seeded\n")
			return err
		},
	}
	code := a.main(context.Background(), args, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String(), got
}

func TestQueryCommand(t *testing.T) {
	fs := newFakeStack(t)
	for name, tc := range map[string]struct {
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		"ownIdentity": {
			args: []string{"query", "--tenant", "1"}, wantCode: ExitOK,
			wantStdout: []string{"app identity (read): Query table tvm-demo PK = Tenant#1", "allowed: 1 item", "PK=Tenant#1 SK=Item#1 PK1=Tenant#1 SK1=Item#1"},
		},
		"vendedOwnGSI": {
			args: []string{"query", "--tenant", "1", "--gsi", "--as", "1"}, wantCode: ExitOK,
			wantStdout: []string{"vended tenant 1 (read): Query GSI tvm-demo/gsi PK1 = Tenant#1", "allowed: 2 items", "PK=Tenant#2 SK=Item#3 PK1=Tenant#1"},
		},
		"vendedOtherTenant": {
			args: []string{"query", "--tenant", "2", "--as", "1"}, wantCode: ExitDenied,
			wantStdout: []string{"DENIED AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"},
		},
		"noGrantRole": {
			args: []string{"--profile", "nogrant", "query", "--tenant", "1", "--no-credentials"}, wantCode: ExitDenied,
			wantStdout: []string{"app identity (nogrant)", "DENIED AccessDeniedException"},
		},
		"noGrantVended": {
			args: []string{"query", "--tenant", "1", "--gsi", "--as", "1", "--profile", "nogrant"}, wantCode: ExitDenied,
			wantStdout: []string{"vended tenant 1 (nogrant)", "DENIED AccessDeniedException"},
		},
		"wildcardTenant": {
			args: []string{"query", "--tenant", "1", "--as", "*"}, wantCode: ExitError,
			wantStderr: "REFUSED by the broker (401 invalid_tenant): tenant claim fails the tenant pattern",
		},
		"missingTenant":   {args: []string{"query"}, wantCode: ExitError, wantStderr: "--tenant is required"},
		"exclusiveFlags":  {args: []string{"query", "--tenant", "1", "--as", "1", "--no-credentials"}, wantCode: ExitError, wantStderr: "exclusive"},
		"extraArgument":   {args: []string{"query", "--tenant", "1", "now"}, wantCode: ExitError, wantStderr: `unexpected argument "now"`},
		"badEndpoint":     {args: []string{"query", "--tenant", "1", "--endpoint", "localhost"}, wantCode: ExitError, wantStderr: "not an http(s) URL"},
		"queryHelp":       {args: []string{"query", "-h"}, wantCode: ExitOK, wantStderr: "AssumeRole into --no-grant-role"},
		"noCommand":       {args: nil, wantCode: ExitError, wantStderr: "Commands:"},
		"unknownCommand":  {args: []string{"delete"}, wantCode: ExitError, wantStderr: `unknown command "delete"`},
		"globalHelp":      {args: []string{"-h"}, wantCode: ExitOK, wantStderr: "-endpoint"},
		"helpCommand":     {args: []string{"help"}, wantCode: ExitOK, wantStdout: []string{"verify"}},
		"unknownFlag":     {args: []string{"query", "--tenant", "1", "--bogus"}, wantCode: ExitError, wantStderr: "flag provided but not defined: -bogus"},
		"seed":            {args: []string{"seed"}, wantCode: ExitOK, wantStdout: []string{"seeded"}},
		"seedExtraArg":    {args: []string{"seed", "twice"}, wantCode: ExitError, wantStderr: "unexpected argument"},
		"verifyUnknownFl": {args: []string{"verify", "--yaml"}, wantCode: ExitError, wantStderr: "-yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr, _ := runCLI(t, fs, nil, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, stderr)
			}
		})
	}
}

func TestVerifyCommand(t *testing.T) {
	fs := newFakeStack(t)
	code, stdout, stderr, _ := runCLI(t, fs, nil, "verify")
	if code != ExitOK || !strings.Contains(stdout, "PASS: 39 of 39") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, _, _ = runCLI(t, fs, nil, "verify", "--json")
	var rep Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != ExitOK || !rep.OK || len(rep.Rows) != wantRows {
		t.Fatalf("--json: exit %d, err %v, report %+v", code, err, rep)
	}
	fs.leaky = true
	code, stdout, _, _ = runCLI(t, fs, nil, "verify")
	if code != ExitDenied || !strings.Contains(stdout, "FAIL: 32 of 39") {
		t.Fatalf("leaky stack: exit %d, want %d\n%s", code, ExitDenied, stdout)
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	fs := newFakeStack(t)
	def := DefaultConfig()
	with := func(f func(*Config)) Config {
		c := def
		f(&c)
		return c
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
		want Config
	}{
		"defaults": {args: []string{"seed"}, want: def},
		"environment": {
			env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1",
				"TVM_BROKER_URL": "https://broker.example.com", "TVM_IDP_URL": "http://127.0.0.1:9001",
				"TVM_TOKEN_FILE": "/tokens/{tenant}.jwt", "TVM_TABLE": "t", "TVM_NO_GRANT_ROLE_ARN": "arn:aws:iam::1:role/n",
				"TVM_SILO_TABLE": "orders-{tenant}"},
			args: []string{"seed"},
			want: with(func(c *Config) {
				c.Endpoint, c.Region, c.BrokerURL, c.IdPURL = "http://127.0.0.1:9000", "eu-west-1", "https://broker.example.com", "http://127.0.0.1:9001"
				c.TokenFile, c.Table, c.NoGrantRoleARN = "/tokens/{tenant}.jwt", "t", "arn:aws:iam::1:role/n"
				c.SiloTable = "orders-{tenant}"
			}),
		},
		"realAWS": {
			env:  map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"},
			args: []string{"--endpoint", "", "seed"},
			want: with(func(c *Config) { c.Endpoint = "" }),
		},
		"flagsBeforeAndAfterCommand": {
			args: []string{"--table", "a", "--region", "us-west-2", "seed", "--table", "b", "--index", "byOwner",
				"--broker", "https://tvm.example.com", "--idp", "https://idp.example.com", "--profile", "rw",
				"--nogrant-profile", "ng", "--no-grant-role", "arn:aws:iam::2:role/x", "--token-file", "/t/{tenant}",
				"--allow-insecure-http", "--silo-table", "t-{tenant}", "--silo-profile", "s", "--bridge-profile", "br",
				"--abac-profile", "ab", "--abac-role", "arn:aws:iam::2:role/abac"},
			want: with(func(c *Config) {
				c.Table, c.Region, c.Index, c.BrokerURL, c.IdPURL = "b", "us-west-2", "byOwner", "https://tvm.example.com", "https://idp.example.com"
				c.Profile, c.NoGrantProfile, c.NoGrantRoleARN, c.TokenFile, c.AllowInsecureHTTP = "rw", "ng", "arn:aws:iam::2:role/x", "/t/{tenant}", true
				c.SiloTable, c.SiloProfile, c.BridgeProfile, c.ABACProfile, c.ABACRole = "t-{tenant}", "s", "br", "ab", "arn:aws:iam::2:role/abac"
			}),
		},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr, got := runCLI(t, fs, tc.env, tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b Config) bool { return a == b })); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	for name, tc := range map[string]struct {
		mutate  func(*Config)
		wantErr string
	}{
		"default":         {mutate: func(*Config) {}},
		"realAWS":         {mutate: func(c *Config) { c.Endpoint = "" }},
		"tokenFileNoIdP":  {mutate: func(c *Config) { c.IdPURL, c.TokenFile = "", "/t/{tenant}" }},
		"noTable":         {mutate: func(c *Config) { c.Table = "" }, wantErr: "missing configuration: table"},
		"noTokenSource":   {mutate: func(c *Config) { c.IdPURL = "" }, wantErr: "idp or token-file"},
		"several":         {mutate: func(c *Config) { c.Region, c.Index = "", "" }, wantErr: "index, region"},
		"endpointNoHost":  {mutate: func(c *Config) { c.Endpoint = "http://" }, wantErr: "not an http(s) URL"},
		"endpointNotHTTP": {mutate: func(c *Config) { c.Endpoint = "ftp://x" }, wantErr: "not an http(s) URL"},
		"noModelProfiles": {mutate: func(c *Config) { c.SiloProfile, c.ABACRole = "", "" }, wantErr: "abac-role, silo-profile"},
		"siloTableFixed":  {mutate: func(c *Config) { c.SiloTable = "tvm-demo-1" }, wantErr: `silo-table "tvm-demo-1": must contain {tenant}`},
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSeedCommandError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr,
		seed: func(context.Context, Config, io.Writer) error { return errors.New("table unreachable") }}
	if code := a.main(context.Background(), []string{"seed"}, func(string) string { return "" }); code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr.String(), "table unreachable") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
