package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDockerBuildWithoutBuildKit: the Dockerfile uses no BuildKit-only
// instruction (RUN --mount, heredocs), so `docker-compose up --build` works
// with the classic builder, and .dockerignore keeps the build outputs, npm
// installs and VCS data out of the build context.
func TestDockerBuildWithoutBuildKit(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(df), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.Contains(l, "--mount=") || strings.Contains(l, "<<") {
			t.Errorf("Dockerfile line %d needs BuildKit: %s", i+1, l)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{"bin", "**/node_modules", ".git", ".tmp"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}
