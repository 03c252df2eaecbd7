package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// snippet is one fenced shell block of README.md.
type snippet struct {
	line int    // of the opening fence, 1-based
	mark string // the fence's info string after "sh", e.g. "{test}"
	body string
}

// snippetMark is the mark every shell snippet of the README carries:
// {test} (the test runs it), {test: needs the AWS CLI} (it runs it where
// the CLI is installed) or {not-run: why}, shown to the reader.
var snippetMark = regexp.MustCompile(`^\{(test|test: needs the AWS CLI|not-run: [^}]+)\}$`)

// readmeSnippets returns the shell snippets of the README at path: blocks
// fenced with ```sh, indented or not.
func readmeSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out    []snippet
		cur    *snippet
		indent string
		body   strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```sh"):
			indent = line[:len(line)-len(trimmed)]
			cur = &snippet{line: n, mark: strings.TrimSpace(strings.TrimPrefix(trimmed, "```sh"))}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.body = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unterminated snippet", cur.line)
	}
	return out
}

// snippetEnv is a fresh shell's environment: the host's, without any AWS_
// or TVM_ setting, with an empty home and its own temporary directory.
func snippetEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "TVM_") && !strings.HasPrefix(kv, "HOME=") &&
			!strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir(), "TMPDIR="+t.TempDir())
}

// runShell runs script with bash -eu in dir and fails t when it does not
// exit 0.
func runShell(t *testing.T, dir, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-eu", "-c", script)
	cmd.Dir, cmd.Env = dir, snippetEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%v\n--- script:\n%s--- output:\n%s", err, script, out)
	}
}

// TestREADMESnippets runs every shell snippet of README.md as written —
// each in a fresh shell, then all in one shell as a reader following the
// README would — against a stack it starts itself: the local AWS (seeded as
// make stack-up seeds it) and the broker from examples/broker.yaml. The
// snippets name 127.0.0.1:4566, 127.0.0.1:4567 (the fault injection API)
// and 127.0.0.1:8080; tests never use fixed ports, so those addresses, and
// only they, are replaced by the stack's. The working directory holds ./bin (the binaries) and ./examples,
// as the repository's root does after make build.
func TestREADMESnippets(t *testing.T) {
	all := readmeSnippets(t, filepath.Join(repoRoot(t), "README.md"))
	var run []snippet
	for _, sn := range all {
		if !snippetMark.MatchString(sn.mark) {
			t.Errorf("README.md:%d: shell snippet marked %q: mark it {test}, {test: needs the AWS CLI} or {not-run: why}", sn.line, sn.mark)
			continue
		}
		if strings.HasPrefix(sn.mark, "{test") {
			run = append(run, sn)
		}
	}
	if len(run) < 5 {
		t.Fatalf("only %d runnable snippets found in README.md", len(run))
	}
	_, errCLI := exec.LookPath("aws")

	s := startStackWith(t, "", "--admin-listen", listenAny) // as make stack-up starts it
	adminURL := s.local.adminURL(t)
	s.seed(t)
	dir := t.TempDir()
	for name, target := range map[string]string{"bin": binaries(t), "examples": filepath.Join(repoRoot(t), "examples")} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The README's addresses and the stack's. What is left of a snippet
	// without them is checked before the rewrite, as the stack's own ports
	// may contain "8080".
	var toStack, toNothing []string
	for _, a := range [][2]string{{"http://127.0.0.1:4566", s.localURL}, {"http://127.0.0.1:8080", s.brokerURL},
		{"http://127.0.0.1:4567", adminURL}} {
		toStack, toNothing = append(toStack, a[0], a[1]), append(toNothing, a[0], "")
	}
	rewrite, strip := strings.NewReplacer(toStack...), strings.NewReplacer(toNothing...)
	var together strings.Builder
	for _, sn := range run {
		if rest := strip.Replace(sn.body); strings.Contains(rest, ":4566") || strings.Contains(rest, ":4567") || strings.Contains(rest, ":8080") {
			t.Errorf("README.md:%d: the snippet names the stack's ports other than as http://127.0.0.1:4566, :4567 or :8080", sn.line)
			continue
		}
		body := rewrite.Replace(sn.body)
		needsCLI := strings.Contains(sn.mark, "AWS CLI")
		t.Run(fmt.Sprintf("README.md:%d", sn.line), func(t *testing.T) {
			if needsCLI && errCLI != nil {
				t.Skip("the AWS CLI is not installed")
			}
			runShell(t, dir, body)
		})
		if !needsCLI || errCLI == nil {
			fmt.Fprintf(&together, "# README.md:%d\n%s\n", sn.line, body)
		}
	}
	t.Run("all in one shell", func(t *testing.T) { runShell(t, dir, together.String()) })
}
