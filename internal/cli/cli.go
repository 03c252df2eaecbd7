// Package cli holds what the project's commands (tvm-broker, tvm-local,
// tvm-creds and the shared subcommands below this package) have in common:
// the exit statuses, choosing and running a subcommand, ending a command on
// its flags, and the build version.
//
// Its functions hold no state and are safe for concurrent use.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Exit statuses of every command of the project.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Command is one subcommand: it takes the arguments after its name and
// returns the exit status.
type Command func(args []string) int

// Dispatch runs the subcommand of cmds named by the first argument with the
// other arguments. "help", "-h", "-help" and "--help" as the first argument
// print usage (which lists the subcommands) on stdout. With no argument, or
// a first argument that is a flag, it runs def; when def is "" (a program
// with no default command) it prints usage on stderr instead and returns
// ExitUsage. An unknown name prints why and usage on stderr and returns
// ExitUsage. program names the binary in messages.
func Dispatch(program string, args []string, def string, cmds map[string]Command, usage string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return ExitOK
		}
	}
	name := def
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "" && def == "" {
		fmt.Fprintf(stderr, "%s: name a command\n\n%s", program, usage)
		return ExitUsage
	}
	if cmd, ok := cmds[name]; ok {
		return cmd(args)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", program, name, usage)
	return ExitUsage
}

// ParseFlags parses a subcommand's flags (fs must use
// flag.ContinueOnError). When the command should end it returns ok false
// and the exit status: ExitOK for -h/--help (the flag package has printed
// the usage), ExitUsage for a bad flag (it has printed why).
func ParseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	switch err := fs.Parse(args); {
	case err == nil:
		return ExitOK, true
	case errors.Is(err, flag.ErrHelp):
		return ExitOK, false
	default:
		return ExitUsage, false
	}
}

// UsageError ends a command whose arguments err refused: ExitOK for
// flag.ErrHelp (the flag package has printed the usage), else it prints
// "prefix: err" on stderr and returns ExitUsage.
func UsageError(stderr io.Writer, prefix string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	return ExitUsage
}

// Version returns the version a binary was built with: set (the value of a
// -ldflags "-X main.version=..." variable) when not empty, else the main
// module's version, else "(devel)".
func Version(set string) string {
	if set != "" {
		return set
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
