package profiles

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/broker/config"
)

// TestFingerprint: the fingerprint changes with what a session is made of
// and only with that, so a reload keeps the cached credentials of a
// profile whose sessions stay the same.
func TestFingerprint(t *testing.T) {
	base := func() *config.Config { return baseConfig() }
	fp := func(t *testing.T, cfg *config.Config, profile string) string {
		t.Helper()
		set, err := compile(t, cfg)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		p, ok := set.Profile(profile)
		if !ok {
			t.Fatalf("no profile %s", profile)
		}
		return p.Fingerprint()
	}
	ref := map[string]string{"read": fp(t, base(), "read"), "user": fp(t, base(), "user")}
	tests := map[string]struct {
		profile string
		change  func(*config.Config)
		same    bool
	}{
		"nothing":            {"read", func(*config.Config) {}, true},
		"another profile":    {"read", func(c *config.Config) { c.Profiles[1].ExternalID = "other-id" }, true},
		"allowed tenants":    {"user", func(c *config.Config) { c.Profiles[1].AllowedTenants = []string{"acme"} }, true},
		"required scope":     {"user", func(c *config.Config) { c.Profiles[1].RequiredScope = "x" }, true},
		"durations":          {"read", func(c *config.Config) { c.Profiles[0].MaxDuration = 3 * 3600e9 }, true},
		"role":               {"read", func(c *config.Config) { c.Profiles[0].RoleARN = "arn:aws:iam::123456789012:role/other" }, false},
		"template":           {"read", func(c *config.Config) { c.Profiles[0].Template = "dynamodb-readwrite" }, false},
		"leading key format": {"read", func(c *config.Config) { c.Profiles[0].LeadingKeyFormat = "T#{tenant}" }, false},
		"tables":             {"read", func(c *config.Config) { c.Profiles[0].TableARNs = append(c.Profiles[0].TableARNs, testTableARN+"2") }, false},
		"tags":               {"user", func(c *config.Config) { c.Profiles[1].SessionTags["app"] = "tvm2" }, false},
		"external id":        {"user", func(c *config.Config) { c.Profiles[1].ExternalID = "other-id" }, false},
		"session scope":      {"read", func(c *config.Config) { c.Profiles[0].Sessions = config.PerSubject }, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			tc.change(cfg)
			got := fp(t, cfg, tc.profile)
			if same := got == ref[tc.profile]; same != tc.same {
				t.Errorf("fingerprint unchanged = %v, want %v", same, tc.same)
			}
		})
	}
}

// TestFingerprintTargetSection: a target section counts by its content,
// not by where it stands in the file.
func TestFingerprintTargetSection(t *testing.T) {
	fp := func(src string) string {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		cfg := baseConfig()
		cfg.Profiles = cfg.Profiles[:1]
		cfg.Profiles[0].Template, cfg.Profiles[0].TableARNs = "s3-read", nil
		cfg.Profiles[0].Targets = map[string]yaml.Node{"s3": *doc.Content[0]}
		set, err := compile(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := set.Profile("read")
		return p.Fingerprint()
	}
	a, moved, other := fp("{buckets: [bucket-one]}"), fp("\n\n\nbuckets:\n  - bucket-one\n"), fp("{buckets: [bucket-two]}")
	if a != moved || a == other {
		t.Errorf("fingerprints %s (moved %s, other bucket %s): want the first two equal and the third different", a, moved, other)
	}
}

// TestFingerprintTemplateDocument: a template of the same name whose
// document changed (a policy_dir edit) changes the fingerprint.
func TestFingerprintTemplateDocument(t *testing.T) {
	dir := t.TempDir()
	write := func(sid string) {
		doc := `{"Version":"2012-10-17","Statement":[{"Sid":"` + sid + `","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],` +
			`"Resource":["{{table_arns}}","{{index_arns}}"],"Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},` +
			`"Null":{"dynamodb:LeadingKeys":"false"}}}]}`
		if err := os.WriteFile(filepath.Join(dir, "custom.json"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fp := func() string {
		cfg := baseConfig()
		cfg.Profiles = cfg.Profiles[:1]
		cfg.Profiles[0].Template = "custom"
		cfg.SetDefaults()
		set, err := Compile(cfg, loadTemplates(t, dir), Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := set.Profile("read")
		return p.Fingerprint()
	}
	write("A")
	a, again := fp(), fp()
	write("B")
	if b := fp(); a != again || a == b {
		t.Errorf("fingerprints %s %s %s: want the first two equal and the third different", a, again, b)
	}
}
