package vend

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies"
)

// STS limits on session tags, ExternalId and role ARNs.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	minExternalID  = 2
	maxExternalID  = 1224
	minRoleARNLen  = 20
	maxRoleARNLen  = 2048
	// placeholderSubject in a session tag value is replaced by the subject.
	placeholderSubject = "{subject}"
)

var (
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	tagKeyRE     = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
)

// prove is policies.Prove; tests replace it to exercise a failing proof.
var prove = policies.Prove

// tagSpec is one configured session tag; Value may hold {tenant} and {subject}.
type tagSpec struct {
	Key, Value string
}

// profile is a compiled, validated config.Profile.
type profile struct {
	name           string
	roleARN        string
	templateName   string
	template       *policies.Template
	tableARNs      []string
	keyFormat      string
	defaultDur     time.Duration
	maxDur         time.Duration
	externalID     string
	tags           []tagSpec // sorted by key
	transitive     []string
	perSubject     bool
	sourceIdentity bool
	allowedTenants map[string]struct{} // nil = every tenant
	requiredScope  string
}

// compileTenantPattern compiles the configured tenant pattern (or the
// default) with config.CompileTenantPattern, the check auth applies too: it
// must be anchored, bound the length and never match a character that is
// unsafe in a policy, even when cfg did not go through config.Validate.
func compileTenantPattern(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		pattern = config.DefaultTenantPattern
	}
	re, err := config.CompileTenantPattern(pattern)
	if err != nil {
		return nil, fmt.Errorf("auth.tenant_pattern: %w", err)
	}
	return re, nil
}

// proofTenants returns the two sample tenants of the start-up proof
// (default policies.DefaultProofTenants, where one extends the other so a
// prefix or wildcard match shows up as a leak).
func proofTenants(cfg config.Proof, re *regexp.Regexp) ([2]string, error) {
	t := policies.DefaultProofTenants
	switch len(cfg.Tenants) {
	case 0:
	case 2:
		t = [2]string{cfg.Tenants[0], cfg.Tenants[1]}
	default:
		return t, fmt.Errorf("proof.tenants: want exactly 2 tenants, got %d", len(cfg.Tenants))
	}
	if t[0] == t[1] {
		return t, fmt.Errorf("proof.tenants: the two tenants must differ")
	}
	for i, tenant := range t {
		if err := policies.CheckTenant(tenant, re); err != nil {
			return t, fmt.Errorf("proof.tenants[%d]: %w", i, err)
		}
	}
	return t, nil
}

// compileProfile validates one profile and resolves its template. field is
// the configuration path used in errors, e.g. "profiles[0]".
func compileProfile(field string, p config.Profile, templates *policies.Set) (*profile, error) {
	bad := func(sub, format string, args ...any) error {
		return fmt.Errorf("%s.%s: %s", field, sub, fmt.Sprintf(format, args...))
	}
	if p.Name == "" {
		return nil, bad("name", "required")
	}
	if err := checkRoleARN(p.RoleARN); err != nil {
		return nil, bad("role_arn", "%v", err)
	}
	if p.Template == "" {
		return nil, bad("template", "required")
	}
	tmpl, ok := templates.Get(p.Template)
	if !ok {
		return nil, bad("template", "unknown template %q (have %s)", p.Template, strings.Join(templates.Names(), ", "))
	}
	if len(p.TableARNs) == 0 {
		return nil, bad("table_arns", "at least one table ARN is required")
	}
	for i, t := range p.TableARNs {
		if err := checkTableARN(t); err != nil {
			return nil, bad(fmt.Sprintf("table_arns[%d]", i), "%v", err)
		}
	}
	keyFormat := p.LeadingKeyFormat
	if keyFormat == "" {
		keyFormat = policies.DefaultLeadingKeyFormat
	}
	if strings.Count(keyFormat, policies.TenantPlaceholder) != 1 {
		return nil, bad("leading_key_format", "must contain %s exactly once", policies.TenantPlaceholder)
	}
	// Zero durations take config's defaults (config.Load sets them already).
	maxDur := p.MaxDuration
	if maxDur == 0 {
		maxDur = max(config.DefaultMaxDuration, p.DefaultDuration)
	}
	if maxDur < config.MinSessionDuration || maxDur > config.MaxSessionDuration || maxDur%time.Second != 0 {
		return nil, bad("max_duration", "%v is not a whole number of seconds in [%v, %v]", maxDur, config.MinSessionDuration, config.MaxSessionDuration)
	}
	defDur := p.DefaultDuration
	if defDur == 0 {
		defDur = min(config.DefaultDuration, maxDur)
	}
	if defDur < config.MinSessionDuration || defDur > maxDur || defDur%time.Second != 0 {
		return nil, bad("default_duration", "%v is not a whole number of seconds in [%v, %v]", defDur, config.MinSessionDuration, maxDur)
	}
	if p.ExternalID != "" {
		if n := len(p.ExternalID); n < minExternalID || n > maxExternalID || !externalIDRE.MatchString(p.ExternalID) {
			return nil, bad("external_id", "must be %d-%d characters of [\\w+=,.@:/-]", minExternalID, maxExternalID)
		}
	}
	var perSubject bool
	switch p.Sessions {
	case "", config.PerTenant:
	case config.PerSubject:
		perSubject = true
	default:
		return nil, bad("sessions", "%q is not %q or %q", p.Sessions, config.PerTenant, config.PerSubject)
	}
	if p.SourceIdentity && !perSubject {
		// A per-tenant session is shared by every subject of the tenant:
		// stamping it with the first subject would misattribute the others.
		return nil, bad("source_identity", "requires sessions: %s", config.PerSubject)
	}
	tags, err := compileTags(p, perSubject)
	if err != nil {
		return nil, fmt.Errorf("%s.%w", field, err)
	}
	var allowed map[string]struct{}
	if len(p.AllowedTenants) > 0 {
		allowed = make(map[string]struct{}, len(p.AllowedTenants))
		for _, t := range p.AllowedTenants {
			allowed[t] = struct{}{}
		}
	}
	return &profile{
		name:           p.Name,
		roleARN:        p.RoleARN,
		templateName:   p.Template,
		template:       tmpl,
		tableARNs:      slices.Clone(p.TableARNs),
		keyFormat:      keyFormat,
		defaultDur:     defDur,
		maxDur:         maxDur,
		externalID:     p.ExternalID,
		tags:           tags,
		transitive:     slices.Clone(p.TransitiveTagKeys),
		perSubject:     perSubject,
		sourceIdentity: p.SourceIdentity,
		allowedTenants: allowed,
		requiredScope:  p.RequiredScope,
	}, nil
}

func checkRoleARN(s string) error {
	if n := len(s); n < minRoleARNLen || n > maxRoleARNLen {
		return fmt.Errorf("must be %d-%d characters", minRoleARNLen, maxRoleARNLen)
	}
	a, err := arn.Parse(s)
	if err != nil {
		return err
	}
	if a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return fmt.Errorf("%q is not an IAM role ARN", s)
	}
	return nil
}

func checkTableARN(s string) error {
	a, err := arn.Parse(s)
	if err != nil {
		return err
	}
	name, ok := strings.CutPrefix(a.Resource, "table/")
	if a.Service != "dynamodb" || !ok || name == "" || strings.ContainsAny(name, "/*?") {
		return fmt.Errorf("%q is not a DynamoDB table ARN (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME)", s)
	}
	return nil
}

func compileTags(p config.Profile, perSubject bool) ([]tagSpec, error) {
	if len(p.SessionTags) > maxTags {
		return nil, fmt.Errorf("session_tags: at most %d tags", maxTags)
	}
	tags := make([]tagSpec, 0, len(p.SessionTags))
	seen := make(map[string]bool, len(p.SessionTags))
	for k, val := range p.SessionTags {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLen || !tagKeyRE.MatchString(k) {
			return nil, fmt.Errorf("session_tags[%q]: key must be 1-%d characters of letters, digits, spaces and _.:/=+-@", k, maxTagKeyLen)
		}
		lower := strings.ToLower(k)
		if strings.HasPrefix(lower, "aws:") {
			return nil, fmt.Errorf("session_tags[%q]: the aws: prefix is reserved", k)
		}
		if seen[lower] {
			return nil, fmt.Errorf("session_tags[%q]: keys must differ in more than case", k)
		}
		seen[lower] = true
		if !perSubject && strings.Contains(val, placeholderSubject) {
			return nil, fmt.Errorf("session_tags[%q]: %s needs sessions: %s (a per-tenant session is shared by all subjects)", k, placeholderSubject, config.PerSubject)
		}
		tags = append(tags, tagSpec{Key: k, Value: val})
	}
	slices.SortFunc(tags, func(a, b tagSpec) int { return strings.Compare(a.Key, b.Key) })
	if len(p.TransitiveTagKeys) > maxTags {
		return nil, fmt.Errorf("transitive_tag_keys: at most %d keys", maxTags)
	}
	for i, k := range p.TransitiveTagKeys {
		if !slices.ContainsFunc(tags, func(t tagSpec) bool { return strings.EqualFold(t.Key, k) }) {
			return nil, fmt.Errorf("transitive_tag_keys[%d]: %q is not a session tag", i, k)
		}
	}
	return tags, nil
}

// ProfileCheck is the result of checking one profile at start-up or by
// `tvm-broker check`.
type ProfileCheck struct {
	// Profile is the profile name (or its configuration path when unnamed).
	Profile string
	// Template is the policy template name.
	Template string
	// PolicySize is the largest rendered policy size (bytes) of the sample tenants.
	PolicySize int
	// Proof is the isolation proof; nil when the proof is disabled or could not run.
	Proof *policies.ProofReport
	// Err is why the profile failed; nil when it passed.
	Err error
}

// OK reports whether the profile passed.
func (c ProfileCheck) OK() bool { return c.Err == nil }

// checked is the outcome of compiling and checking a whole configuration.
type checked struct {
	tenantRE *regexp.Regexp
	profiles map[string]*profile
	reports  []ProfileCheck
}

// checkAll compiles every profile, renders it for the proof tenants and,
// unless disabled, proves it. The returned error joins every failure; the
// report lists every profile either way. A configuration-level failure
// (tenant pattern, proof tenants, default profile) yields a nil report.
func checkAll(cfg *config.Config, templates *policies.Set, log *slog.Logger) (*checked, error) {
	if cfg == nil {
		return nil, errors.New("vend: nil config")
	}
	if templates == nil {
		return nil, errors.New("vend: nil template set")
	}
	re, err := compileTenantPattern(cfg.Auth.TenantPattern)
	if err != nil {
		return nil, err
	}
	sample, err := proofTenants(cfg.Proof, re)
	if err != nil {
		return nil, err
	}
	if len(cfg.Profiles) == 0 {
		return nil, errors.New("profiles: at least one profile is required")
	}
	c := &checked{tenantRE: re, profiles: make(map[string]*profile, len(cfg.Profiles))}
	var errList []error
	for i, pc := range cfg.Profiles {
		field := fmt.Sprintf("profiles[%d]", i)
		rep := ProfileCheck{Profile: pc.Name, Template: pc.Template}
		if rep.Profile == "" {
			rep.Profile = field
		}
		p, err := compileProfile(field, pc, templates)
		if err == nil {
			if _, dup := c.profiles[p.name]; dup {
				err = fmt.Errorf("%s.name: duplicate profile %q", field, p.name)
			}
		}
		if err == nil {
			rep.PolicySize, rep.Proof, err = proveProfile(field, p, sample, re, cfg.Proof.Disabled)
		}
		if err != nil {
			rep.Err = err
			errList = append(errList, err)
		} else {
			c.profiles[p.name] = p
		}
		c.reports = append(c.reports, rep)
	}
	if cfg.DefaultProfile != "" {
		if _, ok := c.profiles[cfg.DefaultProfile]; !ok && len(errList) == 0 {
			errList = append(errList, fmt.Errorf("default_profile: no profile named %q", cfg.DefaultProfile))
		}
	}
	if cfg.Proof.Disabled {
		log.Warn("policy isolation proof is DISABLED by configuration (proof.disabled): profiles are linted but not proved")
	}
	return c, errors.Join(errList...)
}

// proveProfile renders p for both sample tenants (rendering lints) and runs
// the isolation proof unless disabled.
func proveProfile(field string, p *profile, sample [2]string, re *regexp.Regexp, disabled bool) (int, *policies.ProofReport, error) {
	size := 0
	for _, tenant := range sample {
		r, err := renderPolicy(p, tenant, re)
		if err != nil {
			return 0, nil, fmt.Errorf("%s (template %q, tenant %q): %w", field, p.templateName, tenant, err)
		}
		size = max(size, r.Size)
	}
	if disabled {
		return size, nil, nil
	}
	rep, err := prove(policies.ProofSpec{
		Template:         p.template,
		TableARNs:        p.tableARNs,
		LeadingKeyFormat: p.keyFormat,
		Tenants:          sample,
		Pattern:          re,
	})
	if err == nil && (rep == nil || !rep.OK) {
		err = errors.New("isolation proof did not pass")
	}
	var perr *policies.ProofError
	if err != nil && !errors.As(err, &perr) && rep != nil {
		for _, row := range rep.Rows {
			if !row.OK {
				err = fmt.Errorf("%w; failing row %q: %s on %s with leading keys %q: want %s, got %s",
					err, row.Name, row.Action, row.Resource, row.LeadingKeys, row.Want, row.Got)
				break
			}
		}
	}
	if err != nil {
		return size, rep, fmt.Errorf("%s (template %q): isolation proof failed: %w", field, p.templateName, err)
	}
	return size, rep, nil
}

// renderPolicy formats the leading key for tenant and renders p's template.
func renderPolicy(p *profile, tenant string, re *regexp.Regexp) (*policies.Rendered, error) {
	key, err := policies.LeadingKey(p.keyFormat, tenant, re)
	if err != nil {
		return nil, err
	}
	r, err := p.template.Render(policies.Params{Tenant: tenant, LeadingKey: key, TableARNs: p.tableARNs})
	if err != nil {
		return nil, err
	}
	if r == nil || len(r.JSON) == 0 {
		return nil, errors.New("template rendered an empty policy")
	}
	return r, nil
}

// CheckProfiles compiles, renders and (unless cfg.Proof.Disabled) proves
// every profile of cfg, as New does at start-up, and returns one report per
// profile. The error is non-nil when any profile or the configuration fails;
// it names the field and, for a failed proof, the failing row.
func CheckProfiles(cfg *config.Config, templates *policies.Set) ([]ProfileCheck, error) {
	c, err := checkAll(cfg, templates, slog.New(slog.DiscardHandler))
	if c == nil {
		return nil, err
	}
	return c.reports, err
}
