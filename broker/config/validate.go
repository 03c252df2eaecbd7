package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tvmkit/tvm/broker/auth/claimpath"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

// FieldError is one validation problem; Field is the YAML path of the field,
// e.g. "profiles[1].role_arn".
type FieldError struct {
	Field   string
	Problem string
}

// Error implements error as "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// KnownAlgorithms are the JWT algorithms the broker can verify.
var KnownAlgorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
}

// MinHMACSecretBytes is the shortest HMAC secret accepted.
const MinHMACSecretBytes = 32

// profileNameRE is the rule for profile names.
var profileNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// SubjectPlaceholder in a session tag value is replaced by the caller's
// subject (per-subject sessions only); tenant.Placeholder by the tenant id.
const SubjectPlaceholder = "{subject}"

// validator collects field errors.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// Validate checks the whole configuration and returns every problem found,
// joined with errors.Join; each is a *FieldError naming the field. Call
// SetDefaults first (Parse and Load do).
func (c *Config) Validate() error {
	v := &validator{}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		v.add("listen", "not a host:port address")
	}
	c.Auth.validate(v, "auth.")
	if c.Auth.MaxTokenBytes > c.Server.MaxHeaderBytes && c.Server.MaxHeaderBytes > 0 {
		v.add("auth.max_token_bytes", "must not exceed server.max_header_bytes (%d)", c.Server.MaxHeaderBytes)
	}
	pattern, _ := tenant.Compile(c.Auth.TenantPattern) // reported by Auth.validate
	c.STS.validate(v)
	c.validateProfiles(v, pattern)
	c.validateLimits(v)
	c.validateOperations(v)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.add("log.format", "must be json or text")
	}
	return v.err()
}

// ValidateProfiles checks what the profile compile step relies on —
// auth.tenant_pattern, profiles, default_profile and proof — and returns
// every problem as Validate does. Validate includes it. Call SetDefaults
// first.
func (c *Config) ValidateProfiles() error {
	each, global := c.ProfileProblems()
	return errors.Join(append([]error{global}, each...)...)
}

// ProfileProblems is ValidateProfiles with the problems sorted by owner:
// each[i] holds those of profiles[i] (nil when it is valid), global those
// of the configuration as a whole (auth.tenant_pattern, no profiles,
// default_profile, proof). The compile step uses it to report every
// profile.
func (c *Config) ProfileProblems() (each []error, global error) {
	g := &validator{}
	pattern, err := tenant.Compile(c.Auth.TenantPattern)
	if err != nil {
		g.add("auth.tenant_pattern", "%v", err)
	}
	pv, per := c.profileProblems(pattern)
	g.errs = append(g.errs, pv.errs...)
	for _, v := range per {
		each = append(each, v.err())
	}
	return each, g.err()
}

// Validate checks the auth section alone (field names are prefixed
// "auth."). Call SetDefaults first.
func (a *Auth) Validate() error {
	v := &validator{}
	a.validate(v, "auth.")
	return v.err()
}

func (a *Auth) validate(v *validator, p string) {
	if a.Issuer == "" {
		v.add(p+"issuer", "required")
	} else if err := CheckURL(a.Issuer); err != nil {
		v.add(p+"issuer", "%v", err)
	}
	if len(a.Audiences) == 0 {
		v.add(p+"audiences", "at least one audience is required")
	}
	for i, aud := range a.Audiences {
		if strings.TrimSpace(aud) == "" {
			v.add(fmt.Sprintf("%saudiences[%d]", p, i), "must not be empty")
		}
	}
	a.validateAlgorithms(v, p)
	if a.Leeway < 0 || a.Leeway > MaxLeeway {
		v.add(p+"leeway", "must be between 0s and %s", MaxLeeway)
	}

	var sources []string
	if a.JWKSURL != "" {
		sources = append(sources, "jwks_url")
		if err := CheckURL(a.JWKSURL); err != nil {
			v.add(p+"jwks_url", "%v", err)
		}
	}
	if a.Discovery {
		sources = append(sources, "discovery")
	}
	if a.JWKSFile != "" {
		sources = append(sources, "jwks_file")
	}
	if len(a.PublicKeyFiles) > 0 {
		sources = append(sources, "public_key_files")
		for i, f := range a.PublicKeyFiles {
			if f == "" {
				v.add(fmt.Sprintf("%spublic_key_files[%d]", p, i), "must not be empty")
			}
		}
	}
	if a.HMACSecret != "" {
		sources = append(sources, "hmac_secret")
		switch {
		case !a.AllowHMAC:
			v.add(p+"hmac_secret", "refused unless allow_hmac_for_development is true")
		case len(a.HMACSecret) < MinHMACSecretBytes:
			v.add(p+"hmac_secret", "must be at least %d bytes", MinHMACSecretBytes)
		}
	}
	switch len(sources) {
	case 0:
		v.add(p+"jwks_url", "exactly one key source is required (jwks_url, discovery, jwks_file, public_key_files or hmac_secret)")
	case 1:
	default:
		v.add(p+sources[1], "exactly one key source is allowed, found %s", strings.Join(sources, ", "))
	}
	if a.JWKSRefresh < time.Minute || a.JWKSRefresh > 24*time.Hour {
		v.add(p+"jwks_refresh_interval", "must be between 1m and 24h")
	}
	if a.JWKSRefreshRateLimit < time.Second || a.JWKSRefreshRateLimit > 24*time.Hour {
		v.add(p+"jwks_refresh_rate_limit", "must be between 1s and 24h")
	}
	if _, err := claimpath.Parse(a.TenantClaim); err != nil {
		v.add(p+"tenant_claim", "%v", err)
	}
	if _, err := claimpath.Parse(a.SubjectClaim); err != nil {
		v.add(p+"subject_claim", "%v", err)
	}
	if _, err := tenant.Compile(a.TenantPattern); err != nil {
		v.add(p+"tenant_pattern", "%v", err)
	}
	if a.MaxTokenBytes < 1024 || a.MaxTokenBytes > 1<<20 {
		v.add(p+"max_token_bytes", "must be between 1024 and 1048576")
	}
	if n := a.TokenCache.MaxEntries; n < 1 || n > MaxTokenCacheEntries {
		v.add(p+"token_cache.max_entries", "must be between 1 and %d", MaxTokenCacheEntries)
	}
}

func (a *Auth) validateAlgorithms(v *validator, p string) {
	if len(a.Algorithms) == 0 {
		v.add(p+"algorithms", "at least one algorithm is required")
		return
	}
	hmac, other := 0, 0
	seen := map[string]bool{}
	for i, alg := range a.Algorithms {
		f := fmt.Sprintf("%salgorithms[%d]", p, i)
		switch {
		case strings.EqualFold(alg, "none"):
			v.add(f, `"none" is never allowed`)
			continue
		case !slices.Contains(KnownAlgorithms, alg):
			v.add(f, "unknown algorithm %q (known: %s)", alg, strings.Join(KnownAlgorithms, ", "))
			continue
		case seen[alg]:
			v.add(f, "duplicate algorithm %q", alg)
		}
		seen[alg] = true
		if strings.HasPrefix(alg, "HS") {
			hmac++
		} else {
			other++
		}
	}
	if hmac > 0 {
		if !a.AllowHMAC || a.HMACSecret == "" {
			v.add(p+"algorithms", "HS* algorithms need allow_hmac_for_development and an hmac_secret")
		}
		if other > 0 {
			v.add(p+"algorithms", "HS* algorithms cannot be mixed with public-key algorithms")
		}
	} else if a.HMACSecret != "" {
		v.add(p+"algorithms", "an hmac_secret needs HS* algorithms only")
	}
}

// CheckURL reports whether raw is acceptable as an issuer or key URL: an
// absolute https URL with a host and no user info or fragment, or an http
// URL whose host is a loopback address or "localhost" (for the local stack).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	switch {
	case u.Host == "" || !u.IsAbs():
		return errors.New("must be an absolute URL with a host")
	case u.User != nil:
		return errors.New("must not carry user info")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not carry a fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("must use https (http is allowed only for a loopback host)")
	default:
		return fmt.Errorf("scheme %q not allowed, must be https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (s *STS) validate(v *validator) {
	if s.Region != "" {
		if err := stsrules.CheckRegion(s.Region); err != nil {
			v.add("sts.region", "%v", err)
		}
	}
	if s.Timeout <= 0 || s.Timeout > 5*time.Minute {
		v.add("sts.timeout", "must be between 1ns and 5m")
	}
	if s.MaxAttempts < 1 || s.MaxAttempts > 10 {
		v.add("sts.max_attempts", "must be between 1 and 10")
	}
}

// validateProfiles checks profiles, default_profile and proof; pattern is
// the compiled auth.tenant_pattern (nil when it does not compile, reported
// elsewhere).
func (c *Config) validateProfiles(v *validator, pattern *tenant.Pattern) {
	global, each := c.profileProblems(pattern)
	for _, pv := range each {
		v.errs = append(v.errs, pv.errs...)
	}
	v.errs = append(v.errs, global.errs...)
}

// profileProblems returns the problems of the profile section as a whole
// and those of each profile.
func (c *Config) profileProblems(pattern *tenant.Pattern) (global *validator, each []*validator) {
	global = &validator{}
	if len(c.Profiles) == 0 {
		global.add("profiles", "at least one profile is required")
	}
	names := map[string]int{}
	for i := range c.Profiles {
		v := &validator{}
		pr := &c.Profiles[i]
		f := fmt.Sprintf("profiles[%d].", i)
		if !profileNameRE.MatchString(pr.Name) {
			v.add(f+"name", "must match %s", profileNameRE)
		} else if j, dup := names[pr.Name]; dup {
			v.add(f+"name", "duplicate of profiles[%d]", j)
		} else {
			names[pr.Name] = i
		}
		pr.validate(v, f, pattern)
		each = append(each, v)
	}
	switch {
	case c.DefaultProfile == "" && len(c.Profiles) > 1:
		global.add("default_profile", "required when more than one profile is configured")
	case c.DefaultProfile != "":
		if _, ok := c.Profile(c.DefaultProfile); !ok {
			global.add("default_profile", "no profile named %q", c.DefaultProfile)
		}
	}
	if len(c.Proof.Tenants) != 2 {
		global.add("proof.tenants", "must list exactly two tenants")
	} else if c.Proof.Tenants[0] == c.Proof.Tenants[1] {
		global.add("proof.tenants", "the two tenants must differ")
	}
	for i, t := range c.Proof.Tenants {
		if pattern != nil && pattern.Check(t) != nil {
			global.add(fmt.Sprintf("proof.tenants[%d]", i), "does not match auth.tenant_pattern")
		}
	}
	return global, each
}

func (pr *Profile) validate(v *validator, f string, pattern *tenant.Pattern) {
	if err := stsrules.CheckRoleARN(pr.RoleARN); err != nil {
		v.add(f+"role_arn", "%v", err)
	}
	if pr.Template != "" {
		if err := policies.CheckTemplateName(pr.Template); err != nil {
			v.add(f+"template", "%v", err)
		}
	}
	pr.validateIsolation(v, f)
	pr.validateTargets(v, f)
	if err := stsrules.CheckDuration(pr.MaxDuration); err != nil {
		v.add(f+"max_duration", "%v", err)
	}
	switch {
	case pr.DefaultDuration < stsrules.MinDuration || pr.DefaultDuration > pr.MaxDuration:
		v.add(f+"default_duration", "must be between %s and max_duration", stsrules.MinDuration)
	case pr.DefaultDuration%time.Second != 0:
		v.add(f+"default_duration", "must be a whole number of seconds")
	}
	if pr.ExternalID != "" {
		if err := stsrules.CheckExternalID(pr.ExternalID); err != nil {
			v.add(f+"external_id", "%v", err)
		}
	}
	pr.validateTags(v, f)
	switch pr.Sessions {
	case PerTenant:
		if pr.SourceIdentity {
			v.add(f+"source_identity", "requires sessions: subject (a per-tenant session is shared by subjects)")
		}
	case PerSubject:
	default:
		v.add(f+"sessions", `must be "tenant" or "subject"`)
	}
	for i, t := range pr.AllowedTenants {
		if pattern != nil && pattern.Check(t) != nil {
			v.add(fmt.Sprintf("%sallowed_tenants[%d]", f, i), "does not match auth.tenant_pattern")
		}
	}
	if pr.RequiredScope != "" && strings.IndexFunc(pr.RequiredScope, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		v.add(f+"required_scope", "must be one scope without whitespace")
	}
}

// validateIsolation checks isolation, the role policy sources and
// extra_actions.
func (pr *Profile) validateIsolation(v *validator, f string) {
	switch pr.Isolation {
	case policies.IsolationSessionPolicy:
		if pr.Template == "" {
			v.add(f+"template", "required")
		}
	case policies.IsolationSessionTags:
		if !slices.Contains(slices.Collect(maps.Values(pr.SessionTags)), tenant.Placeholder) {
			v.add(f+"session_tags", `isolation: session-tags needs a session tag whose value is exactly "%s"`, tenant.Placeholder)
		}
		if len(pr.RolePolicyFiles) == 0 && !pr.RolePolicyFromIAM {
			v.add(f+"isolation", "session-tags needs role_policy_files or role_policy_from_iam: the role's policy isolates, and the proof must see it")
		}
	default:
		v.add(f+"isolation", `must be "%s" or "%s"`, policies.IsolationSessionPolicy, policies.IsolationSessionTags)
	}
	if len(pr.RolePolicyFiles) > 0 && pr.RolePolicyFromIAM {
		v.add(f+"role_policy_from_iam", "set role_policy_files or role_policy_from_iam, not both")
	}
	for i, file := range pr.RolePolicyFiles {
		if file == "" {
			v.add(fmt.Sprintf("%srole_policy_files[%d]", f, i), "must not be empty")
		}
	}
	for i, g := range pr.ExtraActions {
		if err := policies.CheckExtraGrant(g, targets.All()); err != nil {
			addSettingErrors(v, fmt.Sprintf("%sextra_actions[%d].", f, i), "extra_actions", err)
		}
	}
}

func (pr *Profile) validateTags(v *validator, f string) {
	if len(pr.SessionTags) > stsrules.MaxTags {
		v.add(f+"session_tags", "at most %d tags", stsrules.MaxTags)
	}
	keys := make([]string, 0, len(pr.SessionTags))
	for k := range pr.SessionTags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lower := map[string]string{}
	for _, k := range keys {
		ff := fmt.Sprintf("%ssession_tags[%q]", f, k)
		if err := stsrules.CheckTagKey(k); err != nil {
			v.add(ff, "%v", err)
		}
		if prev, dup := lower[strings.ToLower(k)]; dup {
			v.add(ff, "duplicates key %q: keys must differ in more than case", prev)
		}
		lower[strings.ToLower(k)] = k
		val := pr.SessionTags[k]
		if err := stsrules.CheckTagValue(strings.NewReplacer(tenant.Placeholder, "", SubjectPlaceholder, "").Replace(val)); err != nil {
			v.add(ff, "%v, and the placeholders %s, %s", err, tenant.Placeholder, SubjectPlaceholder)
		}
		if pr.Sessions != PerSubject && strings.Contains(val, SubjectPlaceholder) {
			v.add(ff, "%s needs sessions: %s (a per-tenant session is shared by all subjects)", SubjectPlaceholder, PerSubject)
		}
	}
	if len(pr.TransitiveTagKeys) > stsrules.MaxTransitiveTagKeys {
		v.add(f+"transitive_tag_keys", "at most %d keys", stsrules.MaxTransitiveTagKeys)
	}
	for i, k := range pr.TransitiveTagKeys {
		if !slices.ContainsFunc(keys, func(t string) bool { return strings.EqualFold(t, k) }) {
			v.add(fmt.Sprintf("%stransitive_tag_keys[%d]", f, i), "not a key of session_tags")
		}
	}
}

func (c *Config) validateLimits(v *validator) {
	ca := &c.Cache
	if ca.MaxEntries < 1 || ca.MaxEntries > 10_000_000 {
		v.add("cache.max_entries", "must be between 1 and 10000000")
	}
	if ca.ClientWindow < 0 || ca.ClientWindow > MaxClientWindow {
		v.add("cache.client_window", "must be between 0s and %s (a fresh 15m session must be servable)", MaxClientWindow)
	}
	// A set is never served with less than client_window + ServingMargin
	// left, so a refresh due later than that would never run.
	if ca.RefreshBefore <= ca.ClientWindow+ServingMargin || ca.RefreshBefore > time.Hour {
		v.add("cache.refresh_before", "must be more than cache.client_window + %s (nothing is served with less left) and at most 1h", ServingMargin)
	}
	rl := &c.RateLimit
	if !rl.Disabled {
		checkRate := func(field string, rps float64) {
			if math.IsNaN(rps) || math.IsInf(rps, 0) || rps <= 0 || rps > 1e6 {
				v.add(field, "must be a positive number of requests per second (at most 1e6)")
			}
		}
		checkRate("rate_limit.per_tenant_rps", rl.PerTenantRPS)
		checkRate("rate_limit.per_subject_rps", rl.PerSubjectRPS)
		if rl.PerTenantBurst < 1 || rl.PerTenantBurst > 1_000_000 {
			v.add("rate_limit.per_tenant_burst", "must be between 1 and 1000000")
		}
		if rl.PerSubjectBurst < 1 || rl.PerSubjectBurst > 1_000_000 {
			v.add("rate_limit.per_subject_burst", "must be between 1 and 1000000")
		}
	}
	s := &c.Server
	for _, d := range []struct {
		field string
		d     time.Duration
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout},
		{"server.read_timeout", s.ReadTimeout},
		{"server.write_timeout", s.WriteTimeout},
		{"server.idle_timeout", s.IdleTimeout},
		{"server.request_timeout", s.RequestTimeout},
		{"server.shutdown_timeout", s.ShutdownTimeout},
	} {
		if d.d <= 0 || d.d > time.Hour {
			v.add(d.field, "must be between 1ns and 1h")
		}
	}
	if s.RequestTimeout >= s.WriteTimeout {
		v.add("server.request_timeout", "must be less than server.write_timeout")
	}
	if c.STS.Timeout >= s.RequestTimeout {
		v.add("sts.timeout", "must be less than server.request_timeout")
	}
	if s.MaxHeaderBytes < 4096 || s.MaxHeaderBytes > 1<<20 {
		v.add("server.max_header_bytes", "must be between 4096 and 1048576")
	}
	if s.MaxBodyBytes < 1 || s.MaxBodyBytes > 1<<20 {
		v.add("server.max_body_bytes", "must be between 1 and 1048576")
	}
	for i, h := range s.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			v.add(fmt.Sprintf("server.allowed_hosts[%d]", i), "must be a host or host:port")
		}
	}
	s.TLS.validate(v)
}
