// Package config loads and validates the broker's configuration: one strict
// YAML file (unknown keys are errors) plus environment overrides for secrets.
//
// # Wire format
//
// The file is a single YAML document whose keys are the yaml tags of [Config]
// and its nested types. Durations are Go duration strings ("30s", "15m",
// "1h"); a bare integer is refused for a duration. A second document, an
// unknown key or a duplicated key is an error.
//
// Environment overrides are applied after the file is parsed and before
// defaults and validation:
//
//	TVM_AUTH_HMAC_SECRET  auth.hmac_secret (development only)
//	TVM_LISTEN            listen
//	TVM_AUTH_ISSUER       auth.issuer
//	TVM_AUTH_JWKS_URL     auth.jwks_url
//	TVM_STS_REGION        sts.region
//	TVM_LOG_LEVEL         log.level
//	TVM_BLOCK_LIST_FILE   block_list.file
//
// # Concurrency
//
// Load and Parse are safe for concurrent use. A *Config is a plain value: it
// is safe to read from many goroutines once loaded, and must not be mutated
// after it has been handed to other packages.
package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/policies"
)

// Config is the whole broker configuration.
type Config struct {
	// Listen is the HTTP listen address, host:port (flag --listen and
	// TVM_LISTEN override). Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// PolicyDir, when set, is a directory of policy templates that override
	// or extend the embedded ones. Like every file path in the configuration,
	// a relative path is resolved against the configuration file's directory.
	PolicyDir string `yaml:"policy_dir"`
	// Auth configures JWT verification.
	Auth Auth `yaml:"auth"`
	// STS configures the STS client used for AssumeRole.
	STS STS `yaml:"sts"`
	// Profiles are the named ways of vending credentials; at least one.
	Profiles []Profile `yaml:"profiles"`
	// DefaultProfile names the profile used when a request names none.
	// Default: the only profile when exactly one is configured; required
	// otherwise.
	DefaultProfile string `yaml:"default_profile"`
	// Cache configures the credential cache.
	Cache Cache `yaml:"cache"`
	// RateLimit configures the per-tenant and per-subject request limits.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Server configures HTTP limits and timeouts.
	Server Server `yaml:"server"`
	// Log configures structured logging.
	Log Log `yaml:"log"`
	// Proof configures the start-up isolation proof of every profile.
	Proof Proof `yaml:"proof"`
	// PreAuth limits requests before their token is verified.
	PreAuth PreAuth `yaml:"pre_auth"`
	// BlockList names the live block list file.
	BlockList BlockList `yaml:"block_list"`
	// Reload configures configuration reloads beyond SIGHUP.
	Reload Reload `yaml:"reload"`
}

// Auth configures JWT verification.
type Auth struct {
	// Issuer is the exact expected "iss" claim: an absolute https URL
	// (http only for a loopback host, for the local stack). Required.
	// TVM_AUTH_ISSUER overrides it.
	Issuer string `yaml:"issuer"`
	// Audiences lists the accepted "aud" values; a token must carry at least
	// one of them. At least one is required.
	Audiences []string `yaml:"audiences"`
	// Algorithms allowed in the JWT header; default RS256, ES256, EdDSA
	// (HS256 when the key source is an HMAC secret). Known: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384,
	// HS512. "none" is always refused; HS* only with AllowHMAC and an HMAC
	// secret, and then only HS*.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew tolerated on exp, nbf and iat; 0 or unset
	// means 30s; at most 5m.
	Leeway time.Duration `yaml:"leeway"`
	// JWKSURL is a remote JWK Set (https; http only for a loopback host).
	// Exactly one key source must be set: JWKSURL, Discovery, JWKSFile,
	// PublicKeyFiles or HMACSecret. TVM_AUTH_JWKS_URL overrides it.
	JWKSURL string `yaml:"jwks_url"`
	// Discovery fetches <issuer>/.well-known/openid-configuration once at
	// start, requires its "issuer" to equal Issuer and uses its jwks_uri as
	// a remote JWK Set. Keys are never fetched from a token's iss/jku/x5u.
	Discovery bool `yaml:"discovery"`
	// JWKSFile is a local JWK Set file, read once at start.
	JWKSFile string `yaml:"jwks_file"`
	// PublicKeyFiles are PEM files holding RSA, ECDSA or Ed25519 public keys
	// ("PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE" blocks). A key's kid
	// is its file name without the extension; a token whose kid names no
	// file is tried against every key of its algorithm's type.
	PublicKeyFiles []string `yaml:"public_key_files"`
	// HMACSecret is a shared HS256/384/512 secret of at least 32 bytes, for
	// development only and refused unless AllowHMAC is set. Prefer the
	// TVM_AUTH_HMAC_SECRET environment variable to writing it in the file.
	HMACSecret string `yaml:"hmac_secret"`
	// AllowHMAC must be true for HMACSecret and HS* algorithms to be accepted.
	AllowHMAC bool `yaml:"allow_hmac_for_development"`
	// JWKSRefresh is the background refresh interval of a remote JWK Set
	// (JWKSURL or Discovery); default 1h, between 1m and 24h.
	JWKSRefresh time.Duration `yaml:"jwks_refresh_interval"`
	// JWKSRefreshRateLimit is the minimum interval between refreshes of a
	// remote JWK Set triggered by a token with an unknown kid; default 5m,
	// between 1s and 24h. A token with an unknown kid arriving while the
	// limit is exhausted is refused without a fetch.
	JWKSRefreshRateLimit time.Duration `yaml:"jwks_refresh_rate_limit"`
	// TenantClaim names the claim holding the tenant id (default
	// "tenant_id"): a plain claim name (may contain ':' or '/', e.g.
	// "custom:tenant_id", "https://example.com/tenant") or a nested path
	// written with '.' segments, e.g. "org.tenant", which also names a
	// top-level claim of exactly that name; a token with both is refused as
	// ambiguous. In a path with a backslash, "\." is a literal dot inside a
	// key and "\\" a backslash, and only the keys are looked up:
	// 'kubernetes\.io.namespace' is the namespace of a Kubernetes
	// service-account token (package broker/auth/claimpath). The value must
	// be a JSON string matching TenantPattern.
	TenantClaim string `yaml:"tenant_claim"`
	// SubjectClaim names the claim identifying the caller (default "sub"),
	// with the same naming rules as TenantClaim. Its value must be a
	// non-empty string of at most 256 characters without control characters.
	SubjectClaim string `yaml:"subject_claim"`
	// TenantPattern is the regular expression a tenant id must match in
	// full; default ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$. It must be anchored
	// (^...$), bound the length (at most 128 characters), never match the
	// empty string and never match any of * ? " $ / \ { }, whitespace,
	// control characters or characters above U+00FF (package
	// policies/tenant). Start-up also refuses a pattern admitting an id that
	// some profile could not serve (a key or policy too long, a character a
	// session tag value cannot hold).
	TenantPattern string `yaml:"tenant_pattern"`
	// MaxTokenBytes bounds the Authorization header (default 8192, between
	// 1024 and server.max_header_bytes). Larger headers get 431.
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// TokenCache configures the verified-token cache (see TokenCache).
	TokenCache TokenCache `yaml:"token_cache"`
}

// TokenCache configures the verified-token cache: the claims of a token
// whose signature and registered claims verified, keyed by the SHA-256 of
// the exact token, kept until the token's exp (never longer) and served
// only while the key set still holds the key that verified it. The tenant,
// subject and scope checks run on every request, cached or not.
type TokenCache struct {
	// MaxEntries bounds the cache (LRU); default 10000, at most 1000000.
	MaxEntries int `yaml:"max_entries"`
	// Disabled turns the cache off: every request verifies its signature.
	Disabled bool `yaml:"disabled"`
}

// STS configures the STS client. The endpoint comes from the SDK's standard
// configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS), the broker's own
// credentials from the SDK default chain.
type STS struct {
	// Region of the STS endpoint, e.g. "us-east-1"; empty means the SDK
	// default chain (AWS_REGION, shared config). TVM_STS_REGION overrides it.
	Region string `yaml:"region"`
	// Timeout bounds one AssumeRole call including retries (default 10s, at
	// most 5m and less than server.request_timeout).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts of AssumeRole on throttling (default 3, between 1 and 10).
	MaxAttempts int `yaml:"max_attempts"`
}

// SessionScope says how sessions are shared.
type SessionScope string

// Session scopes.
const (
	// PerTenant: one session (and cache entry) per tenant, shared by every
	// subject of that tenant; the session is named t-<tenant>@<profile>.
	PerTenant SessionScope = "tenant"
	// PerSubject: one session per (tenant, subject), named
	// t-<tenant>@<hash of subject>; SourceIdentity may carry the subject.
	PerSubject SessionScope = "subject"
)

// Profile is one named way of vending credentials.
type Profile struct {
	// Name identifies the profile in requests (?profile=NAME); unique,
	// matching ^[a-z0-9][a-z0-9_-]{0,63}$.
	Name string `yaml:"name"`
	// RoleARN is the IAM role to assume,
	// arn:<partition>:iam::<account>:role/<path/><name>.
	RoleARN string `yaml:"role_arn"`
	// Template names a policy template (embedded or from PolicyDir), e.g.
	// "dynamodb-read". Required unless isolation is session-tags.
	Template string `yaml:"template"`
	// TableARNs and LeadingKeyFormat are the settings of the DynamoDB
	// isolation target (package policies/dynamodb validates them).
	//
	// TableARNs are the DynamoDB tables the session policy covers, each
	// arn:<partition>:dynamodb:<region>:<account>:table/<name> with no
	// wildcard; index ARNs (table/<name>/index/*) are derived. At least one
	// unless the profile configures another target.
	TableARNs []string `yaml:"table_arns"`
	// LeadingKeyFormat renders the partition-key value from the tenant id;
	// "{tenant}" is replaced by the validated id and must appear exactly
	// once; '*', '?', '$', '"', '\' and control characters are refused.
	// Default "Tenant#{tenant}".
	LeadingKeyFormat string `yaml:"leading_key_format"`
	// DefaultDuration is the session duration when a request asks for none
	// (default 1h, AssumeRole's own default); 15m <= default_duration <=
	// max_duration.
	DefaultDuration time.Duration `yaml:"default_duration"`
	// MaxDuration is the longest session a request may ask for (default 1h,
	// at most 12h and never above the role's MaxSessionDuration).
	MaxDuration time.Duration `yaml:"max_duration"`
	// ExternalID, when set, is passed to AssumeRole: 2-1224 characters of
	// [\w+=,.@:/-].
	ExternalID string `yaml:"external_id"`
	// SessionTags are passed to AssumeRole (at most 50); values may use
	// "{tenant}" and "{subject}". Keys: 1-128 characters of letters, digits,
	// spaces and _.:/=+-@, not starting with "aws:", unique ignoring case.
	// Values: at most 256 characters of the same set.
	SessionTags map[string]string `yaml:"session_tags"`
	// TransitiveTagKeys lists tag keys that survive role chaining; each must
	// be a key of SessionTags.
	TransitiveTagKeys []string `yaml:"transitive_tag_keys"`
	// Sessions is "tenant" (default: one session per tenant) or "subject"
	// (one session per tenant and subject).
	Sessions SessionScope `yaml:"sessions"`
	// SourceIdentity sets AssumeRole's SourceIdentity to the (sanitized)
	// subject. It requires sessions: subject, so that a cached session is
	// never attributed to another caller.
	SourceIdentity bool `yaml:"source_identity"`
	// AllowedTenants, when set, restricts the profile to these tenant ids
	// (each must match auth.tenant_pattern).
	AllowedTenants []string `yaml:"allowed_tenants"`
	// RequiredScope, when set, must appear in the token's "scope"/"scp" claim.
	RequiredScope string `yaml:"required_scope"`
	// Isolation says what keeps one tenant's session away from another's
	// data: "session-policy" (default) — the template rendered for the
	// tenant, sent as the session policy — or "session-tags" — the role's
	// own policy, through the session tags the broker sets (session_tags
	// must hold a value that is exactly "{tenant}", and the role's policy
	// must be known: role_policy_files or role_policy_from_iam). With
	// session-tags, template is optional: when set, its rendering is sent
	// as a session policy too, narrowing further.
	Isolation policies.Isolation `yaml:"isolation"`
	// RolePolicyFiles are the role's identity-based policy documents as
	// deployed (JSON files, e.g. extracted from the CloudFormation
	// template; relative to the configuration file). The isolation proof
	// then evaluates them intersected with the session policy. Without
	// them (or RolePolicyFromIAM) a session-policy profile is proven
	// against a role that allows everything, and says so at start-up.
	RolePolicyFiles []string `yaml:"role_policy_files"`
	// RolePolicyFromIAM fetches the role's policies through the IAM API
	// (ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, GetPolicy,
	// GetPolicyVersion, GetRole) at start-up and in `tvm-broker check`, with
	// the broker's own credentials; a failed fetch refuses the profile.
	// Exclusive with RolePolicyFiles.
	RolePolicyFromIAM bool `yaml:"role_policy_from_iam"`
	// ExtraActions lets the template grant actions outside every isolation
	// target, on named resources: each entry lists actions (service:Name,
	// no wildcard, never sts: or iam:, never a target's) and resources
	// (full ARNs, no wildcard). Nothing proves them: the start-up log and
	// `tvm-broker check` report each one as UNPROVEN.
	ExtraActions []policies.ExtraGrant `yaml:"extra_actions"`
	// Targets holds every other key of the profile: each must name a
	// registered isolation target (package policies/targets) and holds
	// that target's settings, decoded strictly by the target, e.g.
	//
	//	s3: {bucket: tenant-data, prefix_format: "t-{tenant}/"}
	//
	// A new target thus adds its section without changing these types. (The
	// DynamoDB target's settings are the top-level keys above.)
	Targets map[string]yaml.Node `yaml:",inline"`
}

// Cache configures the credential cache.
type Cache struct {
	// MaxEntries bounds the cache (LRU); default 10000.
	MaxEntries int `yaml:"max_entries"`
	// RefreshBefore: refresh in the background when less than this remains
	// (default 20m, more than ClientWindow + ServingMargin, at most 1h).
	RefreshBefore time.Duration `yaml:"refresh_before"`
	// ClientWindow is the AWS SDKs' expiry window (default 5m, at most 13m);
	// credentials closer to expiry than this plus ServingMargin (1m) are
	// never served, cached or fresh from STS.
	ClientWindow time.Duration `yaml:"client_window"`
	// Disabled turns the cache off: every request calls AssumeRole.
	Disabled bool `yaml:"disabled"`
}

// RateLimit configures per-tenant and per-subject token buckets. Requests
// over the limit get 429 with Retry-After.
type RateLimit struct {
	// PerTenantRPS is the sustained request rate per tenant (default 20).
	PerTenantRPS float64 `yaml:"per_tenant_rps"`
	// PerTenantBurst is the bucket size per tenant (default 40).
	PerTenantBurst int `yaml:"per_tenant_burst"`
	// PerSubjectRPS is the sustained request rate per subject (default 5).
	PerSubjectRPS float64 `yaml:"per_subject_rps"`
	// PerSubjectBurst is the bucket size per subject (default 10).
	PerSubjectBurst int `yaml:"per_subject_burst"`
	// Disabled turns rate limiting off.
	Disabled bool `yaml:"disabled"`
}

// Server configures HTTP limits and timeouts.
type Server struct {
	// ReadHeaderTimeout bounds reading request headers (default 5s).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request (default 10s).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response (default 30s); it must exceed
	// RequestTimeout.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout bounds keep-alive idle connections (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// RequestTimeout bounds handling one request (default 25s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ShutdownTimeout bounds graceful shutdown (default 20s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxHeaderBytes bounds request headers (default 16384).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds request bodies (default 65536).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// AllowedHosts, when set, are the only Host header values accepted
	// (DNS-rebinding defence for loopback deployments), e.g.
	// "127.0.0.1:8080", "localhost:8080".
	AllowedHosts []string `yaml:"allowed_hosts"`
	// TLS, when set, makes the broker serve https (see TLS).
	TLS TLS `yaml:"tls"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error. TVM_LOG_LEVEL overrides it.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// Proof configures the start-up isolation proof.
type Proof struct {
	// Disabled skips the proof (refused unless explicitly set; logged loudly).
	Disabled bool `yaml:"disabled"`
	// Tenants are the two distinct sample tenants the proof renders
	// (default "1" and "12": a prefix match of one on the other fails the proof); each must match auth.tenant_pattern.
	Tenants []string `yaml:"tenants"`
}
