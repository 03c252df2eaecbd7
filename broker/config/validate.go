package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

var (
	profileNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	// role/<path/>name: path and name characters per IAM.
	roleARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$`)
	tableARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:dynamodb:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)
	externalRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	tagRE      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	templateRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
)

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
	pattern, _ := CompileTenantPattern(c.Auth.TenantPattern) // reported by Auth.validate
	c.STS.validate(v)
	c.validateProfiles(v, pattern)
	c.validateLimits(v)
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
	if len(c.Proof.Tenants) != 2 {
		v.add("proof.tenants", "must list exactly two tenants")
	} else if c.Proof.Tenants[0] == c.Proof.Tenants[1] {
		v.add("proof.tenants", "the two tenants must differ")
	}
	for i, t := range c.Proof.Tenants {
		if pattern != nil && !pattern.MatchString(t) {
			v.add(fmt.Sprintf("proof.tenants[%d]", i), "does not match auth.tenant_pattern")
		}
	}
	return v.err()
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
	if err := checkClaimName(a.TenantClaim); err != nil {
		v.add(p+"tenant_claim", "%v", err)
	}
	if err := checkClaimName(a.SubjectClaim); err != nil {
		v.add(p+"subject_claim", "%v", err)
	}
	if _, err := CompileTenantPattern(a.TenantPattern); err != nil {
		v.add(p+"tenant_pattern", "%v", err)
	}
	if a.MaxTokenBytes < 1024 || a.MaxTokenBytes > 1<<20 {
		v.add(p+"max_token_bytes", "must be between 1024 and 1048576")
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

func checkClaimName(name string) error {
	switch {
	case name == "":
		return errors.New("required")
	case len(name) > 256:
		return errors.New("longer than 256 bytes")
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("contains a control character")
	}
	return nil
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
	if s.Region != "" && !regionRE.MatchString(s.Region) {
		v.add("sts.region", "not an AWS region name")
	}
	if s.Timeout <= 0 || s.Timeout > 5*time.Minute {
		v.add("sts.timeout", "must be between 1ns and 5m")
	}
	if s.MaxAttempts < 1 || s.MaxAttempts > 10 {
		v.add("sts.max_attempts", "must be between 1 and 10")
	}
}

func (c *Config) validateProfiles(v *validator, pattern *regexp.Regexp) {
	if len(c.Profiles) == 0 {
		v.add("profiles", "at least one profile is required")
	}
	names := map[string]int{}
	for i := range c.Profiles {
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
	}
	switch {
	case c.DefaultProfile == "" && len(c.Profiles) > 1:
		v.add("default_profile", "required when more than one profile is configured")
	case c.DefaultProfile != "":
		if _, ok := c.Profile(c.DefaultProfile); !ok {
			v.add("default_profile", "no profile named %q", c.DefaultProfile)
		}
	}
}

func (pr *Profile) validate(v *validator, f string, pattern *regexp.Regexp) {
	if len(pr.RoleARN) < 20 || len(pr.RoleARN) > 2048 || !roleARNRE.MatchString(pr.RoleARN) || strings.ContainsAny(pr.RoleARN, "*?") {
		v.add(f+"role_arn", "not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)")
	}
	if !templateRE.MatchString(pr.Template) {
		if pr.Template == "" {
			v.add(f+"template", "required")
		} else {
			v.add(f+"template", "must match %s", templateRE)
		}
	}
	if len(pr.TableARNs) == 0 {
		v.add(f+"table_arns", "at least one table ARN is required")
	}
	for i, arn := range pr.TableARNs {
		ff := fmt.Sprintf("%stable_arns[%d]", f, i)
		switch {
		case !tableARNRE.MatchString(arn):
			v.add(ff, "not a DynamoDB table ARN (arn:<partition>:dynamodb:<region>:<account>:table/<name>, no wildcards)")
		case slices.Index(pr.TableARNs, arn) < i:
			v.add(ff, "duplicate table ARN")
		}
	}
	lk := pr.LeadingKeyFormat
	switch {
	case strings.Count(lk, "{tenant}") != 1:
		v.add(f+"leading_key_format", `must contain "{tenant}" exactly once`)
	case strings.ContainsAny(lk, `*?$"\`) || strings.IndexFunc(lk, unicode.IsControl) >= 0:
		v.add(f+"leading_key_format", `must not contain * ? $ " \ or control characters`)
	case len(lk) > 1024:
		v.add(f+"leading_key_format", "longer than 1024 bytes")
	}
	if pr.DefaultDuration < MinSessionDuration || pr.DefaultDuration > pr.MaxDuration {
		v.add(f+"default_duration", "must be between %s and max_duration", MinSessionDuration)
	}
	if pr.MaxDuration < MinSessionDuration || pr.MaxDuration > MaxSessionDuration {
		v.add(f+"max_duration", "must be between %s and %s", MinSessionDuration, MaxSessionDuration)
	}
	if pr.DefaultDuration%time.Second != 0 {
		v.add(f+"default_duration", "must be a whole number of seconds")
	}
	if pr.MaxDuration%time.Second != 0 {
		v.add(f+"max_duration", "must be a whole number of seconds")
	}
	if pr.ExternalID != "" && (len(pr.ExternalID) < 2 || len(pr.ExternalID) > 1224 || !externalRE.MatchString(pr.ExternalID)) {
		v.add(f+"external_id", `must be 2-1224 characters of [\w+=,.@:/-]`)
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
		if pattern != nil && !pattern.MatchString(t) {
			v.add(fmt.Sprintf("%sallowed_tenants[%d]", f, i), "does not match auth.tenant_pattern")
		}
	}
	if pr.RequiredScope != "" && strings.IndexFunc(pr.RequiredScope, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		v.add(f+"required_scope", "must be one scope without whitespace")
	}
}

func (pr *Profile) validateTags(v *validator, f string) {
	if len(pr.SessionTags) > 50 {
		v.add(f+"session_tags", "at most 50 tags")
	}
	keys := make([]string, 0, len(pr.SessionTags))
	for k := range pr.SessionTags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lower := map[string]string{}
	for _, k := range keys {
		ff := fmt.Sprintf("%ssession_tags[%q]", f, k)
		switch {
		case k == "" || utf8.RuneCountInString(k) > 128 || !tagRE.MatchString(k):
			v.add(ff, `key must be 1-128 characters of letters, digits, spaces and _.:/=+-@`)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			v.add(ff, `key must not start with "aws:"`)
		}
		if prev, dup := lower[strings.ToLower(k)]; dup {
			v.add(ff, "duplicates key %q (tag keys are case-insensitive)", prev)
		}
		lower[strings.ToLower(k)] = k
		val := strings.NewReplacer("{tenant}", "", "{subject}", "").Replace(pr.SessionTags[k])
		if utf8.RuneCountInString(val) > 256 || !tagRE.MatchString(val) {
			v.add(ff, `value must be at most 256 characters of letters, digits, spaces, _.:/=+-@ and the placeholders {tenant}, {subject}`)
		}
	}
	if len(pr.TransitiveTagKeys) > 50 {
		v.add(f+"transitive_tag_keys", "at most 50 keys")
	}
	for i, k := range pr.TransitiveTagKeys {
		if _, ok := pr.SessionTags[k]; !ok {
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
	if ca.RefreshBefore <= ca.ClientWindow || ca.RefreshBefore > time.Hour {
		v.add("cache.refresh_before", "must be more than cache.client_window and at most 1h")
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
}
