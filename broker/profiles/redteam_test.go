package profiles

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
)

// redteamCase is one adversarial fixture (testdata/redteam/NAME.yaml): a
// profile with its template and role policies, and what the profile lets a
// tenant session do on real AWS.
type redteamCase struct {
	// Intent says what the case tries.
	Intent string `yaml:"intent"`
	// AWS is the ground truth on real AWS: "leaky" (tenant A reaches tenant
	// B's data, a key-less read, another service, or more than its own
	// resources) or "safe".
	AWS string `yaml:"aws"`
	// Refused is a text the refusal of a leaky case must contain: the rule
	// or the proof row that names the leak.
	Refused string `yaml:"refused"`
	// ByDesign marks a safe case the broker refuses on purpose (it cannot
	// be proven, or a rule refuses a shape that is one edit away from a
	// leak), saying why; Refused then names the refusal.
	ByDesign string `yaml:"by_design"`
	// Unproven marks a case accepted with an UNPROVEN grant (text it
	// contains): the operator's explicit escape hatch, reported at every
	// start-up.
	Unproven string `yaml:"unproven"`
	// TenantPattern is auth.tenant_pattern ("" = the default).
	TenantPattern string `yaml:"tenant_pattern"`
	// Template is the custom template (policy_dir/custom.json), if any.
	Template string `yaml:"template"`
	// Roles are role policy files, by name, beside the configuration.
	Roles map[string]string `yaml:"roles"`
	// Profile is the one profile, as YAML.
	Profile string `yaml:"profile"`
}

// redteamVerdicts name the four outcomes of a case.
const (
	verdictRefusedLeaky  = "refused (leaky)"
	verdictAcceptedSafe  = "accepted (safe)"
	verdictHole          = "HOLE: accepted and leaky"
	verdictFalseAlarm    = "FALSE ALARM: refused and safe"
	verdictRefusedDesign = "refused by design (safe, unprovable)"
)

// runRedteamCase runs `tvm-broker check`'s compile path on the case —
// config.Load, policies.LoadTemplates of its policy_dir, Check — and
// returns the UNPROVEN grants of the reports and the refusal (nil when
// every profile passed).
func runRedteamCase(t *testing.T, c *redteamCase) (unproven []string, refusal error) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if c.Template != "" {
		write(filepath.Join("policies", "custom.json"), c.Template)
	}
	for name, doc := range c.Roles {
		write(name, doc)
	}
	var cfg strings.Builder
	cfg.WriteString("policy_dir: policies\nauth:\n  issuer: http://127.0.0.1:4566\n  audiences: [tvm-broker]\n" +
		"  jwks_url: http://127.0.0.1:4566/.well-known/jwks.json\n")
	if c.TenantPattern != "" {
		fmt.Fprintf(&cfg, "  tenant_pattern: %q\n", c.TenantPattern)
	}
	cfg.WriteString("sts:\n  region: us-east-1\nprofiles:\n")
	for i, line := range strings.Split(strings.TrimRight(c.Profile, "\n"), "\n") {
		prefix := "    "
		if i == 0 {
			prefix = "  - "
		}
		cfg.WriteString(prefix + line + "\n")
	}
	write("broker.yaml", cfg.String())
	loaded, err := config.Load(filepath.Join(dir, "broker.yaml"), nil)
	if err != nil {
		return nil, err
	}
	templates, err := policies.LoadTemplates(loaded.PolicyDir, targets.All())
	if err != nil {
		return nil, err
	}
	set, err := Check(loaded, templates, Options{})
	if set != nil {
		for _, r := range set.Reports() {
			unproven = append(unproven, r.Unproven...)
		}
	}
	return unproven, err
}

// classify names the outcome of a case.
func (c *redteamCase) classify(refusal error) string {
	switch {
	case refusal != nil && c.AWS == "leaky":
		return verdictRefusedLeaky
	case refusal != nil && c.ByDesign != "":
		return verdictRefusedDesign
	case refusal != nil:
		return verdictFalseAlarm
	case c.AWS == "leaky":
		return verdictHole
	}
	return verdictAcceptedSafe
}

func loadRedteamCases(t *testing.T) map[string]*redteamCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "redteam", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no red-team fixtures: %v", err)
	}
	out := map[string]*redteamCase{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c redteamCase
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		switch {
		case c.Intent == "" || c.Profile == "":
			t.Fatalf("%s: intent and profile are required", f)
		case c.AWS != "leaky" && c.AWS != "safe":
			t.Fatalf("%s: aws must be leaky or safe, not %q", f, c.AWS)
		case c.AWS == "leaky" && (c.Refused == "" || c.ByDesign != "" || c.Unproven != ""):
			t.Fatalf("%s: a leaky case names its refusal (refused) and nothing else", f)
		case c.ByDesign != "" && c.Refused == "":
			t.Fatalf("%s: a by-design refusal names the refusal (refused)", f)
		}
		out[name] = &c
	}
	return out
}

// TestRedteam runs every red-team fixture through the compile path of
// `tvm-broker check` and classifies it: refused naming a rule or row
// (leaky), accepted (safe), refused on purpose (safe but unprovable, with
// the reason), accepted with a reported UNPROVEN grant — and fails on a
// HOLE (accepted and leaky) or a FALSE ALARM (refused and safe).
func TestRedteam(t *testing.T) {
	cases := loadRedteamCases(t)
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	summary := map[string]int{}
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			unproven, refusal := runRedteamCase(t, c)
			verdict := c.classify(refusal)
			summary[verdict]++
			t.Logf("%s: %s", verdict, c.Intent)
			switch verdict {
			case verdictHole:
				t.Errorf("%s (%s)", verdict, c.Intent)
			case verdictFalseAlarm:
				t.Errorf("%s (%s): %v", verdict, c.Intent, refusal)
			case verdictRefusedLeaky, verdictRefusedDesign:
				if !strings.Contains(refusal.Error(), c.Refused) {
					t.Errorf("refused, but not naming %q: %v", c.Refused, refusal)
				}
			case verdictAcceptedSafe:
				if c.Unproven != "" && !strings.Contains(strings.Join(unproven, "\n"), c.Unproven) {
					t.Errorf("accepted without the UNPROVEN grant %q (reported: %q)", c.Unproven, unproven)
				}
				if c.Unproven == "" && len(unproven) > 0 {
					t.Errorf("accepted with unexpected UNPROVEN grants %q", unproven)
				}
			}
			if refusal != nil {
				t.Logf("refusal: %v", refusal)
			}
		})
	}
	t.Logf("red-team summary: %v", summary)
}
