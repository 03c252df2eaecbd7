package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/internal/tlsreload"
	"github.com/tvmkit/tvm/policies"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// minimal is the smallest valid configuration.
const minimal = `
auth:
  issuer: https://idp.example.com
  audiences: [tvm-broker]
  jwks_url: https://idp.example.com/jwks.json
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`

func noEnv(string) string { return "" }

func TestLoadGolden(t *testing.T) {
	got, err := Load(filepath.Join("testdata", "full.yaml"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Listen:    "0.0.0.0:9090",
		PolicyDir: "/etc/tvm/policies",
		Auth: Auth{
			Issuer:               "https://idp.example.com/",
			Audiences:            []string{"tvm-broker", "tvm-broker-2"},
			Algorithms:           []string{"RS256", "ES256"},
			Leeway:               10 * time.Second,
			JWKSURL:              "https://idp.example.com/.well-known/jwks.json",
			JWKSRefresh:          30 * time.Minute,
			JWKSRefreshRateLimit: time.Minute,
			TenantClaim:          "custom:tenant_id",
			SubjectClaim:         "sub",
			TenantPattern:        `^[a-z0-9]{1,32}$`,
			MaxTokenBytes:        4096,
			TokenCache:           TokenCache{MaxEntries: 2000},
		},
		STS: STS{Region: "eu-west-1", Timeout: 5 * time.Second, MaxAttempts: 2},
		Profiles: []Profile{
			{
				Name:              "read",
				RoleARN:           "arn:aws:iam::123456789012:role/tvm-tenant-read",
				Template:          "dynamodb-read",
				TableARNs:         []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"},
				LeadingKeyFormat:  "Tenant#{tenant}",
				DefaultDuration:   15 * time.Minute,
				MaxDuration:       time.Hour,
				ExternalID:        "tvm-ext-1",
				SessionTags:       map[string]string{"tenant": "{tenant}", "user": "{subject}"},
				TransitiveTagKeys: []string{"tenant"},
				Sessions:          PerSubject,
				SourceIdentity:    true,
				AllowedTenants:    []string{"acme", "globex"},
				RequiredScope:     "tvm:read",
				Isolation:         policies.IsolationSessionPolicy,
			},
			{
				Name:     "readwrite",
				RoleARN:  "arn:aws:iam::123456789012:role/teams/tvm-tenant-readwrite",
				Template: "dynamodb-readwrite",
				TableARNs: []string{
					"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo",
					"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-other",
				},
				LeadingKeyFormat:  DefaultLeadingKeyFormat,
				DefaultDuration:   DefaultDuration,
				MaxDuration:       12 * time.Hour,
				Sessions:          PerTenant,
				Isolation:         policies.IsolationSessionPolicy,
				RolePolicyFromIAM: true,
				ExtraActions: []policies.ExtraGrant{{Actions: []string{"sqs:SendMessage"},
					Resources: []string{"arn:aws:sqs:us-east-1:123456789012:tvm-audit"}}},
			},
			{
				Name:             "abac",
				RoleARN:          "arn:aws:iam::123456789012:role/tvm-tenant-abac",
				TableARNs:        []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo-{tenant}"},
				LeadingKeyFormat: DefaultLeadingKeyFormat,
				DefaultDuration:  DefaultDuration,
				MaxDuration:      DefaultMaxDuration,
				SessionTags:      map[string]string{"tenant": "{tenant}"},
				Sessions:         PerTenant,
				Isolation:        policies.IsolationSessionTags,
				// Relative to the configuration file's directory.
				RolePolicyFiles: []string{filepath.Join("testdata", "roles", "tvm-tenant-abac.json"), "/etc/tvm/roles/extra.json"},
			},
		},
		DefaultProfile: "read",
		Cache:          Cache{MaxEntries: 500, RefreshBefore: 10 * time.Minute, ClientWindow: 5 * time.Minute},
		RateLimit:      RateLimit{PerTenantRPS: 2.5, PerTenantBurst: 5, PerSubjectRPS: 1, PerSubjectBurst: 2},
		Server: Server{
			ReadHeaderTimeout: 2 * time.Second,
			ReadTimeout:       3 * time.Second,
			WriteTimeout:      20 * time.Second,
			IdleTimeout:       30 * time.Second,
			RequestTimeout:    15 * time.Second,
			ShutdownTimeout:   10 * time.Second,
			MaxHeaderBytes:    8192,
			MaxBodyBytes:      1024,
			AllowedHosts:      []string{"127.0.0.1:9090", "localhost:9090"},
		},
		Log:   Log{Level: "debug", Format: "text"},
		Proof: Proof{Tenants: []string{"acme", "globex"}},
		PreAuth: PreAuth{PerClientRPS: 2, PerClientBurst: 8, MaxConcurrentVerifications: 16, MaxVerificationWait: 50 * time.Millisecond,
			TrustedProxies: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}},
		BlockList: BlockList{File: filepath.Join("testdata", "blocked.txt"), PollInterval: 250 * time.Millisecond},
		Reload:    Reload{Watch: true, PollInterval: 2 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
}

func TestParseDefaults(t *testing.T) {
	got, err := Parse([]byte(minimal), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Listen: DefaultListen,
		Auth: Auth{
			Issuer:               "https://idp.example.com",
			Audiences:            []string{"tvm-broker"},
			Algorithms:           []string{"RS256", "ES256", "EdDSA"},
			Leeway:               30 * time.Second,
			JWKSURL:              "https://idp.example.com/jwks.json",
			JWKSRefresh:          time.Hour,
			JWKSRefreshRateLimit: 5 * time.Minute,
			TenantClaim:          "tenant_id",
			SubjectClaim:         "sub",
			TenantPattern:        `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`,
			MaxTokenBytes:        8192,
			TokenCache:           TokenCache{MaxEntries: DefaultTokenCacheEntries},
		},
		STS: STS{Timeout: 10 * time.Second, MaxAttempts: 3},
		Profiles: []Profile{{
			Name:             "read",
			RoleARN:          "arn:aws:iam::123456789012:role/tvm-tenant-read",
			Template:         "dynamodb-read",
			TableARNs:        []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"},
			LeadingKeyFormat: "Tenant#{tenant}",
			DefaultDuration:  time.Hour,
			MaxDuration:      time.Hour,
			Sessions:         PerTenant,
			Isolation:        policies.IsolationSessionPolicy,
		}},
		DefaultProfile: "read",
		Cache:          Cache{MaxEntries: 10000, RefreshBefore: 20 * time.Minute, ClientWindow: 5 * time.Minute},
		RateLimit:      RateLimit{PerTenantRPS: 20, PerTenantBurst: 40, PerSubjectRPS: 5, PerSubjectBurst: 10},
		Server: Server{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			RequestTimeout:    25 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxHeaderBytes:    16384,
			MaxBodyBytes:      65536,
		},
		Log:   Log{Level: "info", Format: "json"},
		Proof: Proof{Tenants: []string{"1", "12"}},
		PreAuth: PreAuth{PerClientRPS: DefaultPerClientRPS, PerClientBurst: DefaultPerClientBurst,
			MaxConcurrentVerifications: max(2*runtime.GOMAXPROCS(0), 4), MaxVerificationWait: 100 * time.Millisecond},
		BlockList: BlockList{PollInterval: 500 * time.Millisecond},
		Reload:    Reload{PollInterval: 5 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
	p, ok := got.Profile("")
	if !ok || p.Name != "read" {
		t.Errorf(`Profile("") = %v, %v; want the default profile "read"`, p, ok)
	}
	if _, ok := got.Profile("nope"); ok {
		t.Error(`Profile("nope") found a profile`)
	}
}

func TestParseEnvOverrides(t *testing.T) {
	env := map[string]string{
		EnvListen:    "127.0.0.1:9999",
		EnvIssuer:    "http://127.0.0.1:4566",
		EnvJWKSURL:   "http://127.0.0.1:4566/.well-known/jwks.json",
		EnvSTSRegion: "us-west-2",
		EnvLogLevel:  "warn",
	}
	got, err := Parse([]byte(minimal), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	gotVals := map[string]string{
		EnvListen:    got.Listen,
		EnvIssuer:    got.Auth.Issuer,
		EnvJWKSURL:   got.Auth.JWKSURL,
		EnvSTSRegion: got.STS.Region,
		EnvLogLevel:  got.Log.Level,
	}
	if diff := cmp.Diff(env, gotVals); diff != "" {
		t.Errorf("overrides mismatch (-want +got):\n%s", diff)
	}
}

func TestParseHMACFromEnv(t *testing.T) {
	doc := strings.Replace(minimal, "  jwks_url: https://idp.example.com/jwks.json\n", "  allow_hmac_for_development: true\n", 1)
	secret := strings.Repeat("s", 32)
	got, err := Parse([]byte(doc), func(k string) string {
		if k == EnvHMACSecret {
			return secret
		}
		return ""
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got.Auth.HMACSecret != secret {
		t.Error("HMAC secret not taken from the environment")
	}
	if diff := cmp.Diff([]string{"HS256"}, got.Auth.Algorithms); diff != "" {
		t.Errorf("algorithms (-want +got):\n%s", diff)
	}
	// Without the development switch the same secret is refused.
	doc = strings.Replace(doc, "  allow_hmac_for_development: true\n", "", 1)
	_, err = Parse([]byte(doc), func(k string) string {
		if k == EnvHMACSecret {
			return secret
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "auth.hmac_secret: refused unless allow_hmac_for_development") {
		t.Errorf("Parse = %v, want the hmac_secret refusal", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Error("error message contains the secret")
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want string
	}{
		"unknown top-level key": {minimal + "bogus: 1\n", "field bogus not found"},
		"unknown nested key":    {strings.Replace(minimal, "  audiences:", "  audience: x\n  audiences:", 1), "field audience not found"},
		"second document":       {minimal + "---\nlisten: x\n", "more than one YAML document"},
		"trailing garbage":      {minimal + "---\n: : :\n", "after the document"},
		"duplicate key":         {minimal + "listen: a:1\nlisten: b:2\n", "already defined"},
		"empty":                 {"", "empty document"},
		"not a mapping":         {"[1, 2]\n", "cannot unmarshal"},
		"duration not a duration": {strings.Replace(minimal, "  audiences:", "  leeway: soon\n  audiences:", 1),
			"cannot unmarshal"},
		"duration as bare integer": {strings.Replace(minimal, "  audiences:", "  leeway: 30\n  audiences:", 1),
			"cannot unmarshal"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), noEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load of an oversized file = %v, want a size error", err)
	}
}

// valid returns a fresh valid configuration (the minimal one with defaults).
func valid(t *testing.T) *Config {
	t.Helper()
	c, err := Parse([]byte(minimal), noEnv)
	if err != nil {
		t.Fatalf("Parse(minimal): %v", err)
	}
	return c
}

func TestValidateNamesField(t *testing.T) {
	second := func(c *Config) {
		p := c.Profiles[0]
		p.Name = "write"
		c.Profiles = append(c.Profiles, p)
		c.DefaultProfile = "read"
	}
	tests := map[string]struct {
		mutate func(c *Config)
		want   string
	}{
		"listen":                {func(c *Config) { c.Listen = "8080" }, "listen: not a host:port"},
		"issuer required":       {func(c *Config) { c.Auth.Issuer = "" }, "auth.issuer: required"},
		"issuer http remote":    {func(c *Config) { c.Auth.Issuer = "http://idp.example.com" }, "auth.issuer: must use https"},
		"issuer relative":       {func(c *Config) { c.Auth.Issuer = "/idp" }, "auth.issuer: must be an absolute URL"},
		"issuer other scheme":   {func(c *Config) { c.Auth.Issuer = "ftp://idp.example.com" }, "auth.issuer: scheme"},
		"issuer user info":      {func(c *Config) { c.Auth.Issuer = "https://u:p@idp.example.com" }, "auth.issuer: must not carry user info"},
		"audiences":             {func(c *Config) { c.Auth.Audiences = nil }, "auth.audiences: at least one"},
		"empty audience":        {func(c *Config) { c.Auth.Audiences = []string{" "} }, "auth.audiences[0]: must not be empty"},
		"alg none":              {func(c *Config) { c.Auth.Algorithms = []string{"RS256", "none"} }, `auth.algorithms[1]: "none" is never allowed`},
		"alg unknown":           {func(c *Config) { c.Auth.Algorithms = []string{"RS1"} }, "auth.algorithms[0]: unknown algorithm"},
		"alg duplicate":         {func(c *Config) { c.Auth.Algorithms = []string{"RS256", "RS256"} }, "auth.algorithms[1]: duplicate"},
		"alg HS without switch": {func(c *Config) { c.Auth.Algorithms = []string{"HS256"} }, "auth.algorithms: HS* algorithms need"},
		"alg HS mixed": {func(c *Config) {
			c.Auth.JWKSURL, c.Auth.AllowHMAC, c.Auth.HMACSecret = "", true, strings.Repeat("k", 32)
			c.Auth.Algorithms = []string{"HS256", "RS256"}
		}, "auth.algorithms: HS* algorithms cannot be mixed"},
		"hmac with RS algs": {func(c *Config) {
			c.Auth.JWKSURL, c.Auth.AllowHMAC, c.Auth.HMACSecret = "", true, strings.Repeat("k", 32)
		}, "auth.algorithms: an hmac_secret needs HS* algorithms only"},
		"hmac short": {func(c *Config) {
			c.Auth.JWKSURL, c.Auth.AllowHMAC, c.Auth.HMACSecret = "", true, "short"
			c.Auth.Algorithms = []string{"HS256"}
		}, "auth.hmac_secret: must be at least 32 bytes"},
		"leeway too large":                 {func(c *Config) { c.Auth.Leeway = 6 * time.Minute }, "auth.leeway: must be between"},
		"no key source":                    {func(c *Config) { c.Auth.JWKSURL = "" }, "auth.jwks_url: exactly one key source is required"},
		"two key sources":                  {func(c *Config) { c.Auth.JWKSFile = "keys.json" }, "auth.jwks_file: exactly one key source is allowed"},
		"jwks url http":                    {func(c *Config) { c.Auth.JWKSURL = "http://idp.example.com/jwks" }, "auth.jwks_url: must use https"},
		"empty public key file":            {func(c *Config) { c.Auth.JWKSURL, c.Auth.PublicKeyFiles = "", []string{""} }, "auth.public_key_files[0]: must not be empty"},
		"refresh interval":                 {func(c *Config) { c.Auth.JWKSRefresh = time.Second }, "auth.jwks_refresh_interval:"},
		"refresh rate limit":               {func(c *Config) { c.Auth.JWKSRefreshRateLimit = time.Millisecond }, "auth.jwks_refresh_rate_limit:"},
		"tenant claim control":             {func(c *Config) { c.Auth.TenantClaim = "a\nb" }, "auth.tenant_claim: contains a control character"},
		"subject claim long":               {func(c *Config) { c.Auth.SubjectClaim = strings.Repeat("s", 257) }, "auth.subject_claim: longer than"},
		"tenant claim bad escape":          {func(c *Config) { c.Auth.TenantClaim = `kubernetes\io.namespace` }, "auth.tenant_claim: a backslash at byte 10 escapes nothing"},
		"subject claim trailing backslash": {func(c *Config) { c.Auth.SubjectClaim = `sub\` }, "auth.subject_claim: a backslash at byte 3 escapes nothing"},
		"pattern not compiling":            {func(c *Config) { c.Auth.TenantPattern = "^[a-$" }, "auth.tenant_pattern: does not compile"},
		"pattern unanchored":               {func(c *Config) { c.Auth.TenantPattern = "[a-z]{1,8}" }, "auth.tenant_pattern: must be anchored"},
		"pattern star":                     {func(c *Config) { c.Auth.TenantPattern = `^[a-z*]{1,8}$` }, "auth.tenant_pattern: must not match the character '*'"},
		"max token bytes":                  {func(c *Config) { c.Auth.MaxTokenBytes = 100 }, "auth.max_token_bytes: must be between"},
		"token cache entries":              {func(c *Config) { c.Auth.TokenCache.MaxEntries = -1 }, "auth.token_cache.max_entries: must be between 1 and"},
		"token over header":                {func(c *Config) { c.Auth.MaxTokenBytes = 20000 }, "auth.max_token_bytes: must not exceed server.max_header_bytes"},
		"sts region":                       {func(c *Config) { c.STS.Region = "mars" }, "sts.region: not an AWS region"},
		"sts timeout":                      {func(c *Config) { c.STS.Timeout = -1 }, "sts.timeout: must be between"},
		"sts timeout vs request":           {func(c *Config) { c.STS.Timeout = time.Minute }, "sts.timeout: must be less than server.request_timeout"},
		"sts attempts":                     {func(c *Config) { c.STS.MaxAttempts = 11 }, "sts.max_attempts:"},
		"no profiles":                      {func(c *Config) { c.Profiles, c.DefaultProfile = nil, "" }, "profiles: at least one profile"},
		"profile name":                     {func(c *Config) { c.Profiles[0].Name = "Read"; c.DefaultProfile = "Read" }, "profiles[0].name: must match"},
		"profile duplicate": {func(c *Config) {
			second(c)
			c.Profiles[1].Name = "read"
		}, "profiles[1].name: duplicate of profiles[0]"},
		"role arn":               {func(c *Config) { c.Profiles[0].RoleARN = "arn:aws:iam::123456789012:user/broker" }, "profiles[0].role_arn: not an IAM role ARN"},
		"role arn wildcard":      {func(c *Config) { c.Profiles[0].RoleARN = "arn:aws:iam::123456789012:role/*" }, "profiles[0].role_arn: not an IAM role ARN"},
		"role arn wildcard path": {func(c *Config) { c.Profiles[0].RoleARN = "arn:aws:iam::123456789012:role/*/tvm" }, "profiles[0].role_arn: not an IAM role ARN"},
		"second role arn":        {func(c *Config) { second(c); c.Profiles[1].RoleARN = "role" }, "profiles[1].role_arn: not an IAM role ARN"},
		"template required":      {func(c *Config) { c.Profiles[0].Template = "" }, "profiles[0].template: required"},
		"template path":          {func(c *Config) { c.Profiles[0].Template = "../x" }, "profiles[0].template: must match"},
		"table arns required":    {func(c *Config) { c.Profiles[0].TableARNs = nil }, "profiles[0].table_arns: at least one"},
		"table arn wildcard": {func(c *Config) {
			c.Profiles[0].TableARNs = []string{"arn:aws:dynamodb:us-east-1:123456789012:table/*"}
		}, "profiles[0].table_arns[0]: not a DynamoDB table ARN"},
		"table arn index": {func(c *Config) {
			c.Profiles[0].TableARNs = []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo/index/gsi"}
		}, "profiles[0].table_arns[0]: not a DynamoDB table ARN"},
		"table arn region wildcard": {func(c *Config) {
			c.Profiles[0].TableARNs = []string{"arn:aws:dynamodb:*:123456789012:table/tvm-demo"}
		}, "profiles[0].table_arns[0]: not a DynamoDB table ARN"},
		"table arn duplicate": {func(c *Config) {
			c.Profiles[0].TableARNs = append(c.Profiles[0].TableARNs, c.Profiles[0].TableARNs[0])
		}, "profiles[0].table_arns[1]: duplicate"},
		"leading key no tenant":  {func(c *Config) { c.Profiles[0].LeadingKeyFormat = "Tenant#" }, `profiles[0].leading_key_format: must contain "{tenant}" exactly once`},
		"leading key two tenant": {func(c *Config) { c.Profiles[0].LeadingKeyFormat = "{tenant}#{tenant}" }, `profiles[0].leading_key_format: must contain "{tenant}" exactly once`},
		"leading key wildcard":   {func(c *Config) { c.Profiles[0].LeadingKeyFormat = "Tenant#{tenant}*" }, "profiles[0].leading_key_format: must not contain"},
		"leading key variable":   {func(c *Config) { c.Profiles[0].LeadingKeyFormat = "${aws:username}{tenant}" }, "profiles[0].leading_key_format: must not contain"},
		"default duration short": {func(c *Config) { c.Profiles[0].DefaultDuration = 899 * time.Second }, "profiles[0].default_duration: must be between 15m0s"},
		"default over max":       {func(c *Config) { c.Profiles[0].DefaultDuration = 2 * time.Hour }, "profiles[0].default_duration: must be between"},
		"max over 12h":           {func(c *Config) { c.Profiles[0].MaxDuration = 13 * time.Hour }, "profiles[0].max_duration: must be between"},
		"fractional duration":    {func(c *Config) { c.Profiles[0].MaxDuration = time.Hour + time.Millisecond }, "profiles[0].max_duration: must be a whole number"},
		"external id short":      {func(c *Config) { c.Profiles[0].ExternalID = "x" }, "profiles[0].external_id:"},
		"external id chars":      {func(c *Config) { c.Profiles[0].ExternalID = "a b" }, "profiles[0].external_id:"},
		"external id long":       {func(c *Config) { c.Profiles[0].ExternalID = strings.Repeat("e", 1225) }, "profiles[0].external_id:"},
		"too many tags": {func(c *Config) {
			c.Profiles[0].SessionTags = map[string]string{}
			for i := range 51 {
				c.Profiles[0].SessionTags[strings.Repeat("k", i+1)] = "v"
			}
		}, "profiles[0].session_tags: at most 50"},
		"tag key aws":                   {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"aws:x": "v"} }, `profiles[0].session_tags["aws:x"]: key must not start with "aws:"`},
		"tag key chars":                 {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"a*": "v"} }, `profiles[0].session_tags["a*"]: key must be`},
		"tag key case dup":              {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"Team": "a", "team": "b"} }, `profiles[0].session_tags["team"]: duplicates key "Team"`},
		"tag value chars":               {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"t": "{tenant}*"} }, `profiles[0].session_tags["t"]: value must be`},
		"tag value unknown placeholder": {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"t": "{role}"} }, `profiles[0].session_tags["t"]: value must be`},
		"tag value long":                {func(c *Config) { c.Profiles[0].SessionTags = map[string]string{"t": strings.Repeat("v", 257)} }, `profiles[0].session_tags["t"]: value must be`},
		"transitive unknown":            {func(c *Config) { c.Profiles[0].TransitiveTagKeys = []string{"x"} }, "profiles[0].transitive_tag_keys[0]: not a key of session_tags"},
		"sessions":                      {func(c *Config) { c.Profiles[0].Sessions = "user" }, `profiles[0].sessions: must be "tenant" or "subject"`},
		"source identity per tenant":    {func(c *Config) { c.Profiles[0].SourceIdentity = true }, "profiles[0].source_identity: requires sessions: subject"},
		"allowed tenant":                {func(c *Config) { c.Profiles[0].AllowedTenants = []string{"ok", "*"} }, "profiles[0].allowed_tenants[1]: does not match"},
		"required scope":                {func(c *Config) { c.Profiles[0].RequiredScope = "a b" }, "profiles[0].required_scope:"},
		"default profile missing":       {func(c *Config) { c.DefaultProfile = "nope" }, `default_profile: no profile named "nope"`},
		"default profile needed":        {func(c *Config) { second(c); c.DefaultProfile = "" }, "default_profile: required when more than one"},
		"cache entries":                 {func(c *Config) { c.Cache.MaxEntries = -1 }, "cache.max_entries:"},
		"cache window":                  {func(c *Config) { c.Cache.ClientWindow = time.Hour }, "cache.client_window:"},
		"cache window over a session":   {func(c *Config) { c.Cache.ClientWindow = 14 * time.Minute }, "cache.client_window: must be between 0s and 13m0s"},
		"cache refresh":                 {func(c *Config) { c.Cache.RefreshBefore = time.Minute }, "cache.refresh_before: must be more than cache.client_window + 1m0s"},
		"cache refresh within the serving margin": {func(c *Config) { c.Cache.RefreshBefore = c.Cache.ClientWindow + ServingMargin },
			"cache.refresh_before: must be more than cache.client_window + 1m0s"},
		"tenant rps":           {func(c *Config) { c.RateLimit.PerTenantRPS = -1 }, "rate_limit.per_tenant_rps:"},
		"subject rps NaN":      {func(c *Config) { c.RateLimit.PerSubjectRPS = nan() }, "rate_limit.per_subject_rps:"},
		"tenant burst":         {func(c *Config) { c.RateLimit.PerTenantBurst = -1 }, "rate_limit.per_tenant_burst:"},
		"subject burst":        {func(c *Config) { c.RateLimit.PerSubjectBurst = -1 }, "rate_limit.per_subject_burst:"},
		"client rps":           {func(c *Config) { c.PreAuth.PerClientRPS = -1 }, "pre_auth.per_client_rps:"},
		"client burst":         {func(c *Config) { c.PreAuth.PerClientBurst = -3 }, "pre_auth.per_client_burst:"},
		"verification cap":     {func(c *Config) { c.PreAuth.MaxConcurrentVerifications = -1 }, "pre_auth.max_concurrent_verifications:"},
		"verification wait":    {func(c *Config) { c.PreAuth.MaxVerificationWait = time.Minute }, "pre_auth.max_verification_wait: must be at most 5s"},
		"proxy not an address": {func(c *Config) { c.PreAuth.TrustedProxies = []string{"10.0.0.0/8", "proxy.local"} }, "pre_auth.trusted_proxies[1]: \"proxy.local\" is not an IP address"},
		"proxy host bits":      {func(c *Config) { c.PreAuth.TrustedProxies = []string{"10.1.2.3/8"} }, "did you mean 10.0.0.0/8?"},
		"block list poll":      {func(c *Config) { c.BlockList.PollInterval = time.Millisecond }, "block_list.poll_interval: must be between 50ms and 1m0s"},
		"reload poll":          {func(c *Config) { c.Reload.PollInterval = 2 * time.Hour }, "reload.poll_interval: must be between 1s and 1h0m0s"},
		"read timeout":         {func(c *Config) { c.Server.ReadTimeout = -time.Second }, "server.read_timeout:"},
		"request vs write":     {func(c *Config) { c.Server.RequestTimeout = time.Minute }, "server.request_timeout: must be less than server.write_timeout"},
		"header bytes":         {func(c *Config) { c.Server.MaxHeaderBytes = 100 }, "server.max_header_bytes:"},
		"body bytes":           {func(c *Config) { c.Server.MaxBodyBytes = -1 }, "server.max_body_bytes:"},
		"allowed hosts":        {func(c *Config) { c.Server.AllowedHosts = []string{"http://x/"} }, "server.allowed_hosts[0]:"},
		"tls without key":      {func(c *Config) { c.Server.TLS = TLS{CertFile: "c", ReloadInterval: time.Minute} }, "server.tls: a certificate file and a key file are required"},
		"tls mode alone":       {func(c *Config) { c.Server.TLS = TLS{ClientAuth: "none"} }, "server.tls: a certificate file and a key file are required"},
		"tls unknown mode": {func(c *Config) {
			c.Server.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "optional", ReloadInterval: time.Minute}
		}, `server.tls: client auth "optional" is not "none", "verify-if-given" or "require"`},
		"tls require without CA": {func(c *Config) {
			c.Server.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "require", ReloadInterval: time.Minute}
		}, `server.tls: client auth "require" needs a client CA file`},
		"tls CA without verification": {func(c *Config) {
			c.Server.TLS = TLS{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "none", ReloadInterval: time.Minute}
		}, "server.tls: a client CA file is set but client auth is"},
		"tls reload too often": {func(c *Config) {
			c.Server.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "none", ReloadInterval: time.Millisecond}
		}, "server.tls.reload_interval: must be between 1s and 1h0m0s"},
		"tls reload too rarely": {func(c *Config) {
			c.Server.TLS = TLS{CertFile: "c", KeyFile: "k", ClientAuth: "none", ReloadInterval: 2 * time.Hour}
		}, "server.tls.reload_interval: must be between 1s and 1h0m0s"},
		"log level":     {func(c *Config) { c.Log.Level = "trace" }, "log.level:"},
		"log format":    {func(c *Config) { c.Log.Format = "xml" }, "log.format:"},
		"proof count":   {func(c *Config) { c.Proof.Tenants = []string{"a"} }, "proof.tenants: must list exactly two"},
		"proof same":    {func(c *Config) { c.Proof.Tenants = []string{"a", "a"} }, "proof.tenants: the two tenants must differ"},
		"proof pattern": {func(c *Config) { c.Proof.Tenants = []string{"a", "b/c"} }, "proof.tenants[1]: does not match"},
		"isolation":     {func(c *Config) { c.Profiles[0].Isolation = "tags" }, `profiles[0].isolation: must be "session-policy" or "session-tags"`},
		"session-tags without a tenant tag": {func(c *Config) {
			c.Profiles[0].Isolation, c.Profiles[0].RolePolicyFromIAM = policies.IsolationSessionTags, true
			c.Profiles[0].SessionTags = map[string]string{"tenant": "t-{tenant}"}
		}, `profiles[0].session_tags: isolation: session-tags needs a session tag whose value is exactly "{tenant}"`},
		"session-tags without a role policy": {func(c *Config) {
			c.Profiles[0].Isolation, c.Profiles[0].SessionTags = policies.IsolationSessionTags, map[string]string{"tenant": "{tenant}"}
		}, "profiles[0].isolation: session-tags needs role_policy_files or role_policy_from_iam"},
		"two role policy sources": {func(c *Config) {
			c.Profiles[0].RolePolicyFiles, c.Profiles[0].RolePolicyFromIAM = []string{"role.json"}, true
		}, "profiles[0].role_policy_from_iam: set role_policy_files or role_policy_from_iam, not both"},
		"empty role policy file": {func(c *Config) { c.Profiles[0].RolePolicyFiles = []string{""} }, "profiles[0].role_policy_files[0]: must not be empty"},
		"extra action of a target": {func(c *Config) {
			c.Profiles[0].ExtraActions = []policies.ExtraGrant{{Actions: []string{"dynamodb:Scan"}, Resources: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/x"}}}
		}, "profiles[0].extra_actions[0].actions[0]: an action of the dynamodb isolation target"},
		"extra sts action": {func(c *Config) {
			c.Profiles[0].ExtraActions = []policies.ExtraGrant{{Actions: []string{"sts:AssumeRole"}, Resources: []string{"arn:aws:iam::123456789012:role/x"}}}
		}, "profiles[0].extra_actions[0].actions[0]: sts actions are never allowed"},
		"extra wildcard action": {func(c *Config) {
			c.Profiles[0].ExtraActions = []policies.ExtraGrant{{Actions: []string{"sqs:*"}, Resources: []string{"arn:aws:sqs:us-east-1:123456789012:q"}}}
		}, "profiles[0].extra_actions[0].actions[0]: must name one action"},
		"extra wildcard resource": {func(c *Config) {
			c.Profiles[0].ExtraActions = []policies.ExtraGrant{{Actions: []string{"sqs:SendMessage"}, Resources: []string{"arn:aws:sqs:*:123456789012:q"}}}
		}, "profiles[0].extra_actions[0].resources[0]: must name one resource"},
		"extra without resources": {func(c *Config) {
			c.Profiles[0].ExtraActions = []policies.ExtraGrant{{Actions: []string{"sqs:SendMessage"}}}
		}, "profiles[0].extra_actions[0].resources: at least one resource is required"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := valid(t)
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v\nwant an error containing %q", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("Validate() error %T is not a *FieldError", err)
			}
		})
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestValidateCollectsAll(t *testing.T) {
	c := valid(t)
	c.Auth.Issuer = ""
	c.Profiles[0].RoleARN = "x"
	c.Log.Level = "loud"
	err := c.Validate()
	for _, want := range []string{"auth.issuer: required", "profiles[0].role_arn:", "log.level:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, want)
		}
	}
}

func TestValidateAcceptsLoopbackHTTP(t *testing.T) {
	for _, issuer := range []string{"http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566", "https://idp.example.com/realms/x"} {
		t.Run(issuer, func(t *testing.T) {
			c := valid(t)
			c.Auth.Issuer = issuer
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

func TestAuthValidateAlone(t *testing.T) {
	a := Auth{Issuer: "https://idp.example.com", Audiences: []string{"x"}, PublicKeyFiles: []string{"k.pem"}}
	a.SetDefaults()
	if err := a.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	a.Algorithms = []string{"none"}
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "auth.algorithms[0]") {
		t.Errorf("Validate() = %v, want auth.algorithms[0]", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(minimal))
	if data, err := os.ReadFile(filepath.Join("testdata", "full.yaml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("auth: {leeway: 1h}\n"))
	f.Add([]byte("profiles: [{name: a, max_duration: 99999h}]\n"))
	f.Add([]byte("auth:\n  tenant_pattern: '^(a|b*)+$'\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("rate_limit: {per_tenant_rps: .nan}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, noEnv)
		if err != nil {
			return
		}
		// Whatever parses must validate again and name a default profile.
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate refuses: %v", err)
		}
		if _, ok := c.Profile(""); !ok {
			t.Fatal("accepted config has no default profile")
		}
	})
}

// TestProfileTargets: the keys of a profile that are not its fields must
// each name a registered isolation target, whose Bind checks the settings;
// the DynamoDB keys stay at the profile's top level.
func TestProfileTargets(t *testing.T) {
	tests := map[string]struct {
		yaml string // appended to the minimal profile
		want string // "" = valid
	}{
		"unknown key":         {yaml: "    bogus: 1\n", want: "profiles[0].bogus: unknown field: not a profile field nor a registered isolation target ([dynamodb s3])"},
		"s3 section checked":  {yaml: "    s3: {buckets: [Bad_Bucket], prefix_format: \"t/{tenant}\"}\n", want: "profiles[0].s3.buckets[0]: not an S3 bucket name"},
		"s3 unknown setting":  {yaml: "    s3: {buckets: [tvm-demo-bucket], bucket: x}\n", want: "profiles[0].s3"},
		"dynamodb as section": {yaml: "    dynamodb: {table_arns: [x]}\n", want: "profiles[0].dynamodb: the DynamoDB settings are the profile's table_arns and leading_key_format"},
		"latin-1 key format":  {yaml: "    leading_key_format: \"Mandant§{tenant}\"\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(minimal+tc.yaml), noEnv)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Profiles[0].TargetSettings(); len(got) != 1 || got[0].Target != "dynamodb" || got[0].Field != "" {
					t.Errorf("TargetSettings = %+v", got)
				}
				return
			}
			var fe *FieldError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError containing %q", err, tc.want)
			}
		})
	}
}

func TestTargetSettingsSections(t *testing.T) {
	c := valid(t)
	p := c.Profiles[0]
	var n1, n2 yaml.Node
	if err := yaml.Unmarshal([]byte("{bucket: b}"), &n1); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte("{x: 1}"), &n2); err != nil {
		t.Fatal(err)
	}
	p.Targets = map[string]yaml.Node{"zz": *n2.Content[0], "s3": *n1.Content[0]}
	got := p.TargetSettings()
	if len(got) != 3 || got[0].Target != "dynamodb" || got[1].Target != "s3" || got[1].Field != "s3." || got[2].Target != "zz" {
		t.Fatalf("TargetSettings = %+v", got)
	}
	var into struct {
		Bucket string `yaml:"bucket"`
	}
	if err := got[1].Settings.Decode(&into); err != nil || into.Bucket != "b" {
		t.Errorf("Decode = %v, %+v", err, into)
	}
	if err := got[2].Settings.Decode(&into); err == nil {
		t.Error("an unknown key of a section decoded")
	}
	p.TableARNs = nil
	if got := p.TargetSettings(); len(got) != 2 || got[0].Target != "s3" {
		t.Errorf("without table_arns: %+v", got)
	}
}

// TestValidateProfiles: the subset the compile step relies on, for a
// Config built in code (no auth section).
func TestValidateProfiles(t *testing.T) {
	c := &Config{Profiles: []Profile{{Name: "read", RoleARN: "arn:aws:iam::123456789012:role/r", Template: "dynamodb-read",
		TableARNs: []string{"arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo"}}}}
	c.SetDefaults()
	if err := c.ValidateProfiles(); err != nil {
		t.Fatalf("ValidateProfiles = %v", err)
	}
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted a config without auth")
	}
	c.Auth.TenantPattern = "^a+$"
	c.Profiles[0].SessionTags = map[string]string{"u": "{subject}"}
	err := c.ValidateProfiles()
	for _, want := range []string{"auth.tenant_pattern: must bound", `profiles[0].session_tags["u"]: {subject} needs sessions: subject`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateProfiles = %v, want %q", err, want)
		}
	}
}

// TestTLSSection: the server.tls section parses, takes its defaults only
// when set, and maps onto the reloader's options.
func TestTLSSection(t *testing.T) {
	base := `
auth:
  issuer: https://idp.example.com/
  audiences: [tvm-broker]
  jwks_url: https://idp.example.com/jwks.json
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
`
	c, err := Parse([]byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.TLS.Enabled() || c.Server.TLS != (TLS{}) {
		t.Errorf("TLS without a section: %+v", c.Server.TLS)
	}
	c, err = Parse([]byte(base+`
server:
  tls:
    cert_file: /tls/tls.crt
    key_file: /tls/tls.key
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TLS{CertFile: "/tls/tls.crt", KeyFile: "/tls/tls.key", ClientAuth: tlsreload.ClientAuthNone, ReloadInterval: 30 * time.Second}
	if !c.Server.TLS.Enabled() || c.Server.TLS != want {
		t.Errorf("TLS = %+v, want %+v", c.Server.TLS, want)
	}
	c, err = Parse([]byte(base+`
server:
  tls:
    cert_file: /tls/tls.crt
    key_file: /tls/tls.key
    client_auth: verify-if-given
    client_ca_file: /tls/ca.crt
    reload_interval: -1s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantOpts := tlsreload.Options{CertFile: "/tls/tls.crt", KeyFile: "/tls/tls.key", ClientCAFile: "/tls/ca.crt",
		ClientAuth: tlsreload.ClientAuthVerifyIfGiven, PollInterval: -time.Second}
	if got := c.Server.TLS.ReloaderOptions(); got.CertFile != wantOpts.CertFile || got.KeyFile != wantOpts.KeyFile ||
		got.ClientCAFile != wantOpts.ClientCAFile || got.ClientAuth != wantOpts.ClientAuth || got.PollInterval != wantOpts.PollInterval {
		t.Errorf("ReloaderOptions = %+v, want %+v", got, wantOpts)
	}
	if _, err := Parse([]byte(base+"server:\n  tls:\n    certfile: x\n"), nil); err == nil || !strings.Contains(err.Error(), "field certfile not found") {
		t.Errorf("unknown tls key: %v", err)
	}
}

// TestLoadResolvesRelativePaths checks that file paths in a configuration are
// relative to the configuration file, not to the process's working directory.
func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	doc := `
policy_dir: policies
auth:
  issuer: https://idp.example.com/
  audiences: [tvm-broker]
  public_key_files: [keys/a.pem, /etc/tvm/b.pem]
server:
  tls: {cert_file: tls/tls.crt, key_file: /etc/tvm/tls.key, client_auth: require, client_ca_file: ca.crt}
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
    role_policy_files: [roles/read.json, /etc/tvm/roles/read2.json]
`
	path := filepath.Join(dir, "broker.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := map[string]struct{ got, want string }{
		"policy_dir":            {c.PolicyDir, filepath.Join(dir, "policies")},
		"relative key file":     {c.Auth.PublicKeyFiles[0], filepath.Join(dir, "keys", "a.pem")},
		"absolute key file":     {c.Auth.PublicKeyFiles[1], "/etc/tvm/b.pem"},
		"empty jwks_file stays": {c.Auth.JWKSFile, ""},
		"relative TLS cert":     {c.Server.TLS.CertFile, filepath.Join(dir, "tls", "tls.crt")},
		"absolute TLS key":      {c.Server.TLS.KeyFile, "/etc/tvm/tls.key"},
		"relative client CA":    {c.Server.TLS.ClientCAFile, filepath.Join(dir, "ca.crt")},
		"relative role policy":  {c.Profiles[0].RolePolicyFiles[0], filepath.Join(dir, "roles", "read.json")},
		"absolute role policy":  {c.Profiles[0].RolePolicyFiles[1], "/etc/tvm/roles/read2.json"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestRolesFromIAM lists each role whose policies are read from IAM once,
// in profile order.
func TestRolesFromIAM(t *testing.T) {
	c := &Config{Profiles: []Profile{
		{RoleARN: "arn:aws:iam::123456789012:role/b", RolePolicyFromIAM: true},
		{RoleARN: "arn:aws:iam::123456789012:role/a"},
		{RoleARN: "arn:aws:iam::123456789012:role/c", RolePolicyFromIAM: true},
		{RoleARN: "arn:aws:iam::123456789012:role/b", RolePolicyFromIAM: true},
	}}
	want := []string{"arn:aws:iam::123456789012:role/b", "arn:aws:iam::123456789012:role/c"}
	if diff := cmp.Diff(want, c.RolesFromIAM()); diff != "" {
		t.Errorf("RolesFromIAM (-want +got):\n%s", diff)
	}
}
