package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	const usage = "usage: prog [run|other]\n"
	tests := map[string]struct {
		args             []string
		code             int
		ran, stdout, err string
	}{
		"default":               {args: nil, code: 3, ran: "run []"},
		"default flags":         {args: []string{"-x", "y"}, code: 3, ran: "run [-x y]"},
		"named":                 {args: []string{"other", "a"}, code: 4, ran: "other [a]"},
		"help":                  {args: []string{"help"}, code: ExitOK, stdout: usage},
		"unknown":               {args: []string{"frobnicate"}, code: ExitUsage, err: "prog: unknown command \"frobnicate\"\n\n" + usage},
		"empty name":            {args: []string{""}, code: ExitUsage, err: "prog: unknown command \"\"\n\n" + usage},
		"flag after name":       {args: []string{"other", "-h"}, code: 4, ran: "other [-h]"},
		"-h lists commands":     {args: []string{"-h"}, code: ExitOK, stdout: usage},
		"--help lists commands": {args: []string{"--help"}, code: ExitOK, stdout: usage},
		"-help lists commands":  {args: []string{"-help", "x"}, code: ExitOK, stdout: usage},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var ran string
			cmd := func(name string, code int) Command {
				return func(args []string) int {
					ran = name + " [" + strings.Join(args, " ") + "]"
					return code
				}
			}
			var stdout, stderr bytes.Buffer
			code := Dispatch("prog", tc.args, "run", map[string]Command{"run": cmd("run", 3), "other": cmd("other", 4)}, usage, &stdout, &stderr)
			if code != tc.code || ran != tc.ran || stdout.String() != tc.stdout || stderr.String() != tc.err {
				t.Errorf("Dispatch = %d, ran %q, stdout %q, stderr %q; want %d, %q, %q, %q",
					code, ran, stdout.String(), stderr.String(), tc.code, tc.ran, tc.stdout, tc.err)
			}
		})
	}
}

// TestDispatchWithoutDefault: a program with no default command never
// runs one it was not asked for.
func TestDispatchWithoutDefault(t *testing.T) {
	const usage = "usage: prog run|other\n"
	tests := map[string]struct {
		args []string
		code int
		ran  string
		err  string
	}{
		"no arguments": {args: nil, code: ExitUsage, err: "prog: name a command\n\n" + usage},
		"only flags":   {args: []string{"--listen", "x"}, code: ExitUsage, err: "prog: name a command\n\n" + usage},
		"named":        {args: []string{"run", "--listen", "x"}, code: 3, ran: "run [--listen x]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var ran string
			var stdout, stderr bytes.Buffer
			code := Dispatch("prog", tc.args, "", map[string]Command{"run": func(args []string) int {
				ran = "run [" + strings.Join(args, " ") + "]"
				return 3
			}}, usage, &stdout, &stderr)
			if code != tc.code || ran != tc.ran || stderr.String() != tc.err || stdout.Len() != 0 {
				t.Errorf("Dispatch = %d, ran %q, stderr %q, stdout %q", code, ran, stderr.String(), stdout.String())
			}
		})
	}
}

func TestParseFlagsAndUsageError(t *testing.T) {
	tests := map[string]struct {
		args   []string
		code   int
		ok     bool
		stderr string // of UsageError on the parse error
	}{
		"parsed":   {args: []string{"-n", "1"}, code: ExitOK, ok: true},
		"help":     {args: []string{"-h"}, code: ExitOK},
		"bad flag": {args: []string{"-zz"}, code: ExitUsage, stderr: "cmd: flag provided but not defined: -zz\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Int("n", 0, "")
			code, ok := ParseFlags(fs, tc.args)
			if code != tc.code || ok != tc.ok {
				t.Errorf("ParseFlags = %d, %v; want %d, %v", code, ok, tc.code, tc.ok)
			}
			fs2 := flag.NewFlagSet("cmd", flag.ContinueOnError)
			fs2.SetOutput(io.Discard)
			fs2.Int("n", 0, "")
			if err := fs2.Parse(tc.args); err != nil {
				var stderr bytes.Buffer
				if got := UsageError(&stderr, "cmd", err); got != tc.code || stderr.String() != tc.stderr {
					t.Errorf("UsageError = %d, %q; want %d, %q", got, stderr.String(), tc.code, tc.stderr)
				}
			}
		})
	}
	var stderr bytes.Buffer
	if got := UsageError(&stderr, "cmd", errors.New("--x is required")); got != ExitUsage || stderr.String() != "cmd: --x is required\n" {
		t.Errorf("UsageError = %d, %q", got, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	if got := Version("v1.2.3"); got != "v1.2.3" {
		t.Errorf("Version(v1.2.3) = %q", got)
	}
	if got := Version(""); got == "" {
		t.Error("Version(\"\") is empty")
	}
}
