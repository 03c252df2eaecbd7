package vend

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreHasNoHTTPNorSDK checks the vending core's import graph: no
// net/http, no AWS SDK and no Echo (the STS adapter is broker/stsclient,
// the HTTP layer broker/api).
func TestCoreHasNoHTTPNorSDK(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		switch {
		case d == "net/http", strings.HasPrefix(d, "net/http/"),
			strings.HasPrefix(d, "github.com/aws/"), strings.HasPrefix(d, "github.com/labstack/"):
			t.Errorf("broker/vend depends on %s", d)
		}
	}
}
