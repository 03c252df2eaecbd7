package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Defaults applied by Parse (and Load) to fields left unset. Those owned by
// the tenant model, the STS rules or an isolation target are theirs, named
// here for configuration readers.
//
// Sessions: DefaultDuration (1h) and DefaultRefreshBefore (20m) serve every
// AWS SDK's credential refresh without a call back per API call. botocore
// (the AWS CLI, boto3) asks again when less than 15 minutes are left and
// must get a new set under 10; with 15-minute sessions every set it got was
// already inside that window, so it came back to the broker before every
// API call and, under 10 minutes, waited for it (and met the per-subject
// rate limit). A 1-hour set renewed 20 minutes ahead (less up to 3.5
// minutes of jitter, when the refresher or a hit renews it) is never handed
// out inside botocore's window while its tenant is active, and costs one
// AssumeRole per replica every 40 minutes instead of every 7.5.
const (
	DefaultListen               = "127.0.0.1:8080"
	DefaultLeeway               = 30 * time.Second
	MaxLeeway                   = 5 * time.Minute
	DefaultTenantClaim          = "tenant_id"
	DefaultSubjectClaim         = "sub"
	DefaultTenantPattern        = tenant.DefaultPattern
	DefaultMaxTokenBytes        = 8192
	DefaultTokenCacheEntries    = 10000
	MaxTokenCacheEntries        = 1_000_000
	DefaultJWKSRefresh          = time.Hour
	DefaultJWKSRefreshRateLimit = 5 * time.Minute
	DefaultLeadingKeyFormat     = dynamodb.DefaultLeadingKeyFormat
	DefaultDuration             = time.Hour
	DefaultMaxDuration          = time.Hour
	MinSessionDuration          = stsrules.MinDuration
	MaxSessionDuration          = stsrules.MaxDuration
	DefaultCacheMaxEntries      = 10000
	DefaultRefreshBefore        = 20 * time.Minute
	DefaultClientWindow         = 5 * time.Minute
	DefaultPerTenantRPS         = 20
	DefaultPerTenantBurst       = 40
	DefaultPerSubjectRPS        = 5
	DefaultPerSubjectBurst      = 10
	DefaultReadHeaderTimeout    = 5 * time.Second
	DefaultReadTimeout          = 10 * time.Second
	DefaultWriteTimeout         = 30 * time.Second
	DefaultIdleTimeout          = 60 * time.Second
	DefaultRequestTimeout       = 25 * time.Second
	DefaultShutdownTimeout      = 20 * time.Second
	DefaultMaxHeaderBytes       = 16 << 10
	DefaultMaxBodyBytes         = 64 << 10
	DefaultSTSTimeout           = 10 * time.Second
	DefaultSTSMaxAttempts       = 3
	DefaultLogLevel             = "info"
	DefaultLogFormat            = "json"
)

// Bounds of the credential cache's serving rule.
const (
	// ServingMargin is added to cache.client_window: credentials with less
	// than ClientWindow+ServingMargin left are never served, fresh or cached.
	ServingMargin = time.Minute
	// MaxClientWindow bounds cache.client_window so that a fresh session of
	// MinSessionDuration stays servable for at least a minute.
	MaxClientWindow = MinSessionDuration - ServingMargin - time.Minute
)

// DefaultAlgorithms are the JWT algorithms allowed when none are configured
// and the key source is not an HMAC secret.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// DefaultProofTenants are the sample tenants of the isolation proof
// (tenant.ProofTenants): "12" starts with "1", so a template that matches
// tenant keys by prefix (the published `{tenant}*` StringLike bug) fails the
// proof.
var DefaultProofTenants = slices.Clone(tenant.ProofTenants[:])

// Environment variables read by Parse and Load.
const (
	EnvHMACSecret = "TVM_AUTH_HMAC_SECRET"
	EnvListen     = "TVM_LISTEN"
	EnvIssuer     = "TVM_AUTH_ISSUER"
	EnvJWKSURL    = "TVM_AUTH_JWKS_URL"
	EnvSTSRegion  = "TVM_STS_REGION"
	EnvLogLevel   = "TVM_LOG_LEVEL"
	EnvBlockList  = "TVM_BLOCK_LIST_FILE"
)

// maxFileBytes bounds a configuration file.
const maxFileBytes = 1 << 20

// Load reads the YAML file at path and returns the configuration after
// environment overrides (read through getenv; nil means none), defaults and
// Validate.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := filelimit.Read(path, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolvePaths(filepath.Dir(path))
	return c, nil
}

// resolvePaths makes the file paths of the configuration (policy_dir,
// auth.jwks_file, auth.public_key_files, server.tls, block_list.file,
// profiles[].role_policy_files) that are relative absolute against
// base, the directory of the configuration file, so that a configuration
// means the same thing whatever the working directory of the process.
func (c *Config) resolvePaths(base string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.PolicyDir = abs(c.PolicyDir)
	c.Auth.JWKSFile = abs(c.Auth.JWKSFile)
	for i, p := range c.Auth.PublicKeyFiles {
		c.Auth.PublicKeyFiles[i] = abs(p)
	}
	c.Server.TLS.resolvePaths(abs)
	c.BlockList.File = abs(c.BlockList.File)
	for i := range c.Profiles {
		files := c.Profiles[i].RolePolicyFiles
		for j, p := range files {
			files[j] = abs(p)
		}
	}
}

// Parse decodes one strict YAML document (unknown or duplicated keys, a
// second document and trailing garbage are errors), applies environment
// overrides (read through getenv; nil means none) and defaults, and
// validates the result.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: empty document")
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("config: after the document: %w", err)
		}
		return nil, errors.New("config: more than one YAML document")
	}
	c.applyEnv(getenv)
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	if getenv == nil {
		return
	}
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.Auth.HMACSecret, EnvHMACSecret)
	set(&c.Listen, EnvListen)
	set(&c.Auth.Issuer, EnvIssuer)
	set(&c.Auth.JWKSURL, EnvJWKSURL)
	set(&c.STS.Region, EnvSTSRegion)
	set(&c.Log.Level, EnvLogLevel)
	set(&c.BlockList.File, EnvBlockList)
}

// SetDefaults fills every unset field with its default. Parse calls it;
// call it yourself on a Config built in code before Validate.
func (c *Config) SetDefaults() {
	setDefault(&c.Listen, DefaultListen)
	c.Auth.SetDefaults()
	setDefault(&c.STS.Timeout, DefaultSTSTimeout)
	setDefault(&c.STS.MaxAttempts, DefaultSTSMaxAttempts)
	for i := range c.Profiles {
		p := &c.Profiles[i]
		setDefault(&p.LeadingKeyFormat, DefaultLeadingKeyFormat)
		setDefault(&p.DefaultDuration, DefaultDuration)
		setDefault(&p.MaxDuration, DefaultMaxDuration)
		setDefault(&p.Sessions, PerTenant)
		setDefault(&p.Isolation, policies.IsolationSessionPolicy)
	}
	if c.DefaultProfile == "" && len(c.Profiles) == 1 {
		c.DefaultProfile = c.Profiles[0].Name
	}
	setDefault(&c.Cache.MaxEntries, DefaultCacheMaxEntries)
	setDefault(&c.Cache.RefreshBefore, DefaultRefreshBefore)
	setDefault(&c.Cache.ClientWindow, DefaultClientWindow)
	setDefault(&c.RateLimit.PerTenantRPS, DefaultPerTenantRPS)
	setDefault(&c.RateLimit.PerTenantBurst, DefaultPerTenantBurst)
	setDefault(&c.RateLimit.PerSubjectRPS, DefaultPerSubjectRPS)
	setDefault(&c.RateLimit.PerSubjectBurst, DefaultPerSubjectBurst)
	s := &c.Server
	setDefault(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&s.ReadTimeout, DefaultReadTimeout)
	setDefault(&s.WriteTimeout, DefaultWriteTimeout)
	setDefault(&s.IdleTimeout, DefaultIdleTimeout)
	setDefault(&s.RequestTimeout, DefaultRequestTimeout)
	setDefault(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.TLS.setDefaults()
	setDefault(&c.Log.Level, DefaultLogLevel)
	setDefault(&c.Log.Format, DefaultLogFormat)
	if len(c.Proof.Tenants) == 0 {
		c.Proof.Tenants = append([]string(nil), DefaultProofTenants...)
	}
	c.setOperationsDefaults()
}

// SetDefaults fills every unset field of the auth section with its default.
// With an HMAC secret and no algorithms, the default algorithm is HS256.
func (a *Auth) SetDefaults() {
	if len(a.Algorithms) == 0 {
		if a.HMACSecret != "" && a.AllowHMAC {
			a.Algorithms = []string{"HS256"}
		} else {
			a.Algorithms = append([]string(nil), DefaultAlgorithms...)
		}
	}
	setDefault(&a.Leeway, DefaultLeeway)
	setDefault(&a.JWKSRefresh, DefaultJWKSRefresh)
	setDefault(&a.JWKSRefreshRateLimit, DefaultJWKSRefreshRateLimit)
	setDefault(&a.TenantClaim, DefaultTenantClaim)
	setDefault(&a.SubjectClaim, DefaultSubjectClaim)
	setDefault(&a.TenantPattern, DefaultTenantPattern)
	setDefault(&a.MaxTokenBytes, DefaultMaxTokenBytes)
	setDefault(&a.TokenCache.MaxEntries, DefaultTokenCacheEntries)
}

func setDefault[T comparable](dst *T, def T) {
	var zero T
	if *dst == zero {
		*dst = def
	}
}

// Profile returns the profile called name; "" names the default profile.
// The pointer refers into c.Profiles.
func (c *Config) Profile(name string) (*Profile, bool) {
	if name == "" {
		name = c.DefaultProfile
	}
	for i := range c.Profiles {
		if c.Profiles[i].Name == name {
			return &c.Profiles[i], true
		}
	}
	return nil, false
}

// RolesFromIAM returns the role ARNs of the profiles that set
// role_policy_from_iam, each once, in profile order: the roles whose
// policies the broker fetches through the IAM API before compiling the
// profiles.
func (c *Config) RolesFromIAM() []string {
	var out []string
	for _, p := range c.Profiles {
		if p.RolePolicyFromIAM && !slices.Contains(out, p.RoleARN) {
			out = append(out, p.RoleARN)
		}
	}
	return out
}
