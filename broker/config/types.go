// Package config loads and validates the broker's configuration: one strict
// YAML file (unknown keys are errors) plus environment overrides for secrets.
package config

import "time"

// Config is the whole broker configuration.
type Config struct {
	// Listen is the HTTP listen address (flag --listen overrides).
	Listen string `yaml:"listen"`
	// PolicyDir, when set, is a directory of policy templates that override
	// or extend the embedded ones.
	PolicyDir string    `yaml:"policy_dir"`
	Auth      Auth      `yaml:"auth"`
	STS       STS       `yaml:"sts"`
	Profiles  []Profile `yaml:"profiles"`
	// DefaultProfile names the profile used when a request names none.
	DefaultProfile string    `yaml:"default_profile"`
	Cache          Cache     `yaml:"cache"`
	RateLimit      RateLimit `yaml:"rate_limit"`
	Server         Server    `yaml:"server"`
	Log            Log       `yaml:"log"`
	// Proof configures the start-up isolation proof of every profile.
	Proof Proof `yaml:"proof"`
}

// Auth configures JWT verification.
type Auth struct {
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	// Algorithms allowed in the JWT header; default RS256, ES256, EdDSA.
	// "none" is always refused; HS* only with AllowHMAC.
	Algorithms []string      `yaml:"algorithms"`
	Leeway     time.Duration `yaml:"leeway"`
	// Exactly one key source: JWKSURL, Discovery, JWKSFile, PublicKeyFiles, HMACSecret.
	JWKSURL string `yaml:"jwks_url"`
	// Discovery fetches <issuer>/.well-known/openid-configuration and uses its jwks_uri.
	Discovery      bool     `yaml:"discovery"`
	JWKSFile       string   `yaml:"jwks_file"`
	PublicKeyFiles []string `yaml:"public_key_files"`
	// HMACSecret is for development only and refused unless AllowHMAC is set.
	// Prefer the TVM_AUTH_HMAC_SECRET environment variable.
	HMACSecret string `yaml:"hmac_secret"`
	AllowHMAC  bool   `yaml:"allow_hmac_for_development"`
	// JWKSRefresh is the background refresh interval of a remote JWKS.
	JWKSRefresh time.Duration `yaml:"jwks_refresh_interval"`
	// JWKSRefreshRateLimit bounds refreshes triggered by unknown kids.
	JWKSRefreshRateLimit time.Duration `yaml:"jwks_refresh_rate_limit"`
	// TenantClaim names the claim holding the tenant id: a plain claim name
	// (may contain ':' or '/', e.g. "custom:tenant_id", "https://example.com/tenant")
	// or a nested path written with '.' segments, e.g. "org.tenant".
	// An exact top-level name match wins over a nested path.
	TenantClaim string `yaml:"tenant_claim"`
	// SubjectClaim names the claim identifying the caller (default "sub").
	SubjectClaim string `yaml:"subject_claim"`
	// TenantPattern is the regular expression a tenant id must match in full.
	TenantPattern string `yaml:"tenant_pattern"`
	// MaxTokenBytes bounds the Authorization header (default 8192).
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// RequireJTI, ... keep the surface small: add fields only with tests.
}

// STS configures the STS client. The endpoint comes from the SDK's standard
// configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS), the broker's own
// credentials from the SDK default chain.
type STS struct {
	Region string `yaml:"region"`
	// Timeout bounds one AssumeRole call including retries.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts of AssumeRole on throttling (default 3).
	MaxAttempts int `yaml:"max_attempts"`
}

// SessionScope says how sessions are shared.
type SessionScope string

// Session scopes.
const (
	// PerTenant: one session (and cache entry) per tenant; the session name
	// carries a hash of the subject that first requested it.
	PerTenant SessionScope = "tenant"
	// PerSubject: one session per (tenant, subject); SourceIdentity may carry the subject.
	PerSubject SessionScope = "subject"
)

// Profile is one named way of vending credentials.
type Profile struct {
	Name    string `yaml:"name"`
	RoleARN string `yaml:"role_arn"`
	// Template names a policy template (embedded or from PolicyDir), e.g. "dynamodb-read".
	Template  string   `yaml:"template"`
	TableARNs []string `yaml:"table_arns"`
	// LeadingKeyFormat renders the partition-key value from the tenant id;
	// "{tenant}" is replaced by the validated id. Default "Tenant#{tenant}".
	LeadingKeyFormat string        `yaml:"leading_key_format"`
	DefaultDuration  time.Duration `yaml:"default_duration"`
	MaxDuration      time.Duration `yaml:"max_duration"`
	ExternalID       string        `yaml:"external_id"`
	// SessionTags are passed to AssumeRole; values may use "{tenant}" and "{subject}".
	SessionTags map[string]string `yaml:"session_tags"`
	// TransitiveTagKeys lists tag keys that survive role chaining.
	TransitiveTagKeys []string     `yaml:"transitive_tag_keys"`
	Sessions          SessionScope `yaml:"sessions"`
	// SourceIdentity sets AssumeRole's SourceIdentity to the (sanitized) subject.
	SourceIdentity bool `yaml:"source_identity"`
	// AllowedTenants, when set, restricts the profile to these tenant ids.
	AllowedTenants []string `yaml:"allowed_tenants"`
	// RequiredScope, when set, must appear in the token's "scope"/"scp" claim.
	RequiredScope string `yaml:"required_scope"`
}

// Cache configures the credential cache.
type Cache struct {
	// MaxEntries bounds the cache (LRU); default 10000.
	MaxEntries int `yaml:"max_entries"`
	// RefreshBefore: refresh in the background when less than this remains
	// (default 15m). Never serve credentials with less than ClientWindow left.
	RefreshBefore time.Duration `yaml:"refresh_before"`
	// ClientWindow is the AWS SDKs' expiry window (5m); credentials closer to
	// expiry than this plus a margin are never served.
	ClientWindow time.Duration `yaml:"client_window"`
	Disabled     bool          `yaml:"disabled"`
}

// RateLimit configures per-tenant and per-subject token buckets.
type RateLimit struct {
	PerTenantRPS    float64 `yaml:"per_tenant_rps"`
	PerTenantBurst  int     `yaml:"per_tenant_burst"`
	PerSubjectRPS   float64 `yaml:"per_subject_rps"`
	PerSubjectBurst int     `yaml:"per_subject_burst"`
	Disabled        bool    `yaml:"disabled"`
}

// Server configures HTTP limits and timeouts.
type Server struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	RequestTimeout    time.Duration `yaml:"request_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	// AllowedHosts, when set, are the only Host header values accepted
	// (DNS-rebinding defence for loopback deployments).
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json (default) or text
}

// Proof configures the start-up isolation proof.
type Proof struct {
	// Disabled skips the proof (refused unless explicitly set; logged loudly).
	Disabled bool `yaml:"disabled"`
	// Tenants are the two sample tenants the proof renders (default "tenant-a", "tenant-b").
	Tenants []string `yaml:"tenants"`
}
