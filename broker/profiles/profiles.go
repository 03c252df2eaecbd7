// Package profiles is the broker's one compile step: it turns the
// configuration's profiles (config.Profile), the tenant pattern, the policy
// templates and the registered isolation targets into immutable compiled
// profiles, and proves them. Vending (package vend), `tvm-broker check` and
// `tvm-broker render` all use the result; none of them re-validates a
// profile, and the policy of a tenant is rendered in one place,
// Profile.Render.
//
// Compile checks, for every profile, in order:
//
//  1. the configuration rules it relies on (config.Config.ProfileProblems:
//     tenant pattern, proof tenants, default profile, every profile field);
//  2. the template exists and the profile binds every isolation target it
//     uses (each target's settings compiled once by its Bind);
//  3. the policy renders and lints for both proof tenants;
//  4. every tenant id the pattern admits can be served: each binding's
//     CheckTenants (e.g. the DynamoDB key length for the longest id), session
//     tag values holding {tenant} stay within STS's tag grammar and length,
//     and the policy rendered for the pattern's longest id (Longest) lints —
//     within 2,048 characters;
//  5. unless proof.disabled, the isolation proof (policies.Prove).
//
// A pattern accepted by configuration and Compile therefore vends for every
// tenant it admits; otherwise start-up refuses it, naming the field.
//
// # Concurrency
//
// A Set and its Profiles are immutable and safe for concurrent use.
package profiles

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Options tunes Compile.
type Options struct {
	// Logger receives the warning that the proof is disabled; nil discards.
	Logger *slog.Logger
}

// Set is the compiled profile set of a configuration.
type Set struct {
	pattern     *tenant.Pattern
	profiles    map[string]*Profile
	names       []string // configuration order
	defaultName string
	reports     []Report
}

// Pattern returns the compiled tenant pattern.
func (s *Set) Pattern() *tenant.Pattern { return s.pattern }

// Profile returns the profile called name; "" names the default profile.
func (s *Set) Profile(name string) (*Profile, bool) {
	if name == "" {
		name = s.defaultName
	}
	p, ok := s.profiles[name]
	return p, ok
}

// Names returns the profile names in configuration order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Default returns the default profile's name ("" when none is configured).
func (s *Set) Default() string { return s.defaultName }

// Reports returns the start-up check report of every profile.
func (s *Set) Reports() []Report { return slices.Clone(s.reports) }

// Report is the result of checking one profile at start-up or by
// `tvm-broker check`.
type Report struct {
	// Profile is the profile name (or its configuration path when unnamed).
	Profile string
	// Template is the policy template name.
	Template string
	// PolicySize is the largest rendered policy size (characters) of the
	// proof tenants.
	PolicySize int
	// Proof is the isolation proof; nil when the proof is disabled or could
	// not run.
	Proof *policies.ProofReport
	// Err is why the profile failed; nil when it passed.
	Err error
}

// OK reports whether the profile passed.
func (r Report) OK() bool { return r.Err == nil }

// Compile compiles and checks every profile of cfg (whose defaults must be
// applied: config.Parse and Load do, or call SetDefaults) against templates
// (loaded with targets.All()). The error joins every failure, each naming
// its field and, for a failed proof, the failing row.
func Compile(cfg *config.Config, templates *policies.Set, opts Options) (*Set, error) {
	s, err := compileAll(cfg, templates, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Check compiles and checks cfg as Compile does, for `tvm-broker check`
// and `render`, but returns the set even when profiles fail, with a report
// per profile (Reports): the set holds every profile that compiled, the
// ones whose rendering, tenant checks or proof failed included. The set is
// nil only on a configuration-level failure (tenant pattern, proof tenants,
// default profile, no profiles).
func Check(cfg *config.Config, templates *policies.Set) (*Set, error) {
	return compileAll(cfg, templates, Options{})
}

// env is what every profile is compiled against.
type env struct {
	pattern   *tenant.Pattern
	templates *policies.Set
	tenants   [2]string
	proofOff  bool
}

// compileAll compiles every profile; it returns the set of the profiles
// that compiled, with a report per profile (nil on a configuration-level
// failure), and the joined errors.
func compileAll(cfg *config.Config, templates *policies.Set, opts Options) (*Set, error) {
	switch {
	case cfg == nil:
		return nil, errors.New("profiles: nil config")
	case templates == nil:
		return nil, errors.New("profiles: nil template set")
	}
	each, global := cfg.ProfileProblems()
	if global != nil {
		return nil, global
	}
	e := &env{templates: templates, tenants: [2]string(cfg.Proof.Tenants), proofOff: cfg.Proof.Disabled}
	var err error
	if e.pattern, err = tenant.Compile(cfg.Auth.TenantPattern); err != nil {
		return nil, fmt.Errorf("auth.tenant_pattern: %w", err) // reported by ProfileProblems
	}
	s := &Set{pattern: e.pattern, profiles: map[string]*Profile{}, defaultName: cfg.DefaultProfile}
	var errs []error
	for i := range cfg.Profiles {
		pc := &cfg.Profiles[i]
		field := fmt.Sprintf("profiles[%d]", i)
		rep := Report{Profile: pc.Name, Template: pc.Template}
		if rep.Profile == "" {
			rep.Profile = field
		}
		err := each[i]
		var prof *Profile
		if err == nil {
			prof, err = compileProfile(field, pc, e)
		}
		if err == nil {
			s.profiles[prof.name] = prof
			s.names = append(s.names, prof.name)
			rep.PolicySize, rep.Proof, err = e.check(field, prof)
		}
		if err != nil {
			rep.Err = err
			errs = append(errs, err)
		}
		s.reports = append(s.reports, rep)
	}
	if e.proofOff && opts.Logger != nil {
		opts.Logger.Warn("policy isolation proof is DISABLED by configuration (proof.disabled): profiles are linted but not proved")
	}
	return s, errors.Join(errs...)
}

// Tag is one configured session tag; Value may hold {tenant} and {subject}.
type Tag struct {
	Key, Value string
}

// Profile is a compiled profile. It is immutable.
type Profile struct {
	name           string
	roleARN        string
	template       *policies.Template
	bindings       []policies.Binding
	defaultDur     time.Duration
	maxDur         time.Duration
	externalID     string
	tags           []Tag // sorted by key
	transitive     []string
	perSubject     bool
	sourceIdentity bool
	allowedTenants map[string]struct{} // nil = every tenant
	requiredScope  string
}

// Name returns the profile's name.
func (p *Profile) Name() string { return p.name }

// RoleARN returns the role to assume.
func (p *Profile) RoleARN() string { return p.roleARN }

// TemplateName returns the policy template's name.
func (p *Profile) TemplateName() string { return p.template.Name() }

// DefaultDuration is the session length when a request names none.
func (p *Profile) DefaultDuration() time.Duration { return p.defaultDur }

// MaxDuration is the longest session a request may ask for.
func (p *Profile) MaxDuration() time.Duration { return p.maxDur }

// ExternalID is AssumeRole's ExternalId ("" = none).
func (p *Profile) ExternalID() string { return p.externalID }

// Tags returns the session tags, sorted by key.
func (p *Profile) Tags() []Tag { return slices.Clone(p.tags) }

// TransitiveTagKeys returns the tag keys that survive role chaining.
func (p *Profile) TransitiveTagKeys() []string { return slices.Clone(p.transitive) }

// PerSubject reports whether sessions are per (tenant, subject).
func (p *Profile) PerSubject() bool { return p.perSubject }

// SourceIdentity reports whether AssumeRole gets the subject as
// SourceIdentity.
func (p *Profile) SourceIdentity() bool { return p.sourceIdentity }

// RequiredScope is the scope a token must carry ("" = none).
func (p *Profile) RequiredScope() string { return p.requiredScope }

// Allows reports whether the profile serves tenant (allowed_tenants).
func (p *Profile) Allows(tenantID string) bool {
	if p.allowedTenants == nil {
		return true
	}
	_, ok := p.allowedTenants[tenantID]
	return ok
}

// AllowedTenants returns the allowed tenant ids as a set (nil = every
// tenant). The map must not be modified.
func (p *Profile) AllowedTenants() map[string]struct{} { return p.allowedTenants }

// Render renders the profile's session policy for tenantID, an id the
// tenant pattern accepted: the profile's template with its target bindings'
// values, linted (policies.Template.Render).
func (p *Profile) Render(tenantID string) (*policies.Rendered, error) {
	return p.template.Render(tenantID, p.bindings)
}

// compileProfile builds the compiled profile from a validated
// config.Profile: the template, the target bindings and the tags.
func compileProfile(field string, pc *config.Profile, e *env) (*Profile, error) {
	tmpl, ok := e.templates.Get(pc.Template)
	if !ok {
		return nil, &config.FieldError{Field: field + ".template",
			Problem: fmt.Sprintf("unknown template %q (have %s)", pc.Template, strings.Join(e.templates.Names(), ", "))}
	}
	bindings, err := bind(field, pc)
	if err != nil {
		return nil, err
	}
	if err := policies.CheckBindings(tmpl, bindings); err != nil {
		return nil, &config.FieldError{Field: field + ".template", Problem: err.Error()}
	}
	p := &Profile{
		name:           pc.Name,
		roleARN:        pc.RoleARN,
		template:       tmpl,
		bindings:       bindings,
		defaultDur:     pc.DefaultDuration,
		maxDur:         pc.MaxDuration,
		externalID:     pc.ExternalID,
		transitive:     slices.Clone(pc.TransitiveTagKeys),
		perSubject:     pc.Sessions == config.PerSubject,
		sourceIdentity: pc.SourceIdentity,
		requiredScope:  pc.RequiredScope,
	}
	for k, v := range pc.SessionTags {
		p.tags = append(p.tags, Tag{Key: k, Value: v})
	}
	slices.SortFunc(p.tags, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	if len(pc.AllowedTenants) > 0 {
		p.allowedTenants = make(map[string]struct{}, len(pc.AllowedTenants))
		for _, t := range pc.AllowedTenants {
			p.allowedTenants[t] = struct{}{}
		}
	}
	return p, nil
}

// bind compiles the settings of every target the profile configures.
func bind(field string, pc *config.Profile) ([]policies.Binding, error) {
	var out []policies.Binding
	for _, ts := range pc.TargetSettings() {
		t, ok := targets.Lookup(ts.Target)
		if !ok {
			return nil, &config.FieldError{Field: field + "." + ts.Target, Problem: "not a registered isolation target"}
		}
		b, err := t.Bind(ts.Settings)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(field+"."+ts.Field, "."), err)
		}
		out = append(out, bindingField{Binding: b, field: field + "." + ts.Field})
	}
	return out, nil
}

// bindingField remembers the configuration path of a binding's settings,
// for the messages of CheckTenants.
type bindingField struct {
	policies.Binding
	field string // "profiles[0]." or "profiles[0].s3."
}

// check renders p for the proof tenants and the longest admitted tenant
// id, checks the tenant-dependent limits and runs the proof unless
// disabled. It returns the larger proof-tenant policy size.
func (e *env) check(field string, p *Profile) (int, *policies.ProofReport, error) {
	size := 0
	for _, tn := range e.tenants {
		r, err := p.Render(tn)
		if err != nil {
			return 0, nil, fmt.Errorf("%s (template %q, tenant %q): %w", field, p.TemplateName(), tn, err)
		}
		size = max(size, r.Size)
	}
	if err := e.checkTenants(field, p); err != nil {
		return size, nil, err
	}
	if e.proofOff {
		return size, nil, nil
	}
	rep, err := policies.Prove(policies.ProofSpec{Template: p.template, Bindings: p.bindings, Tenants: e.tenants})
	if err == nil && (rep == nil || !rep.OK) {
		err = errors.New("isolation proof did not pass")
	}
	if err != nil {
		return size, rep, fmt.Errorf("%s (template %q): isolation proof failed: %w", field, p.TemplateName(), err)
	}
	return size, rep, nil
}

// checkTenants checks that every id the pattern admits can be served: each
// binding's limits, the session tags that hold {tenant}, and the policy
// rendered for the longest id.
func (e *env) checkTenants(field string, p *Profile) error {
	for _, b := range p.bindings {
		if err := b.CheckTenants(e.pattern); err != nil {
			var se *policies.SettingError
			if errors.As(err, &se) {
				return &config.FieldError{Field: strings.TrimSuffix(b.(bindingField).field+se.Field, "."),
					Problem: se.Problem + " (auth.tenant_pattern admits ids of up to " + fmt.Sprint(e.pattern.MaxBytes()) + " bytes)"}
			}
			return fmt.Errorf("%s: %w", strings.TrimSuffix(b.(bindingField).field, "."), err)
		}
	}
	for _, t := range p.tags {
		if err := e.checkTag(t); err != nil {
			return &config.FieldError{Field: fmt.Sprintf("%s.session_tags[%q]", field, t.Key), Problem: err.Error()}
		}
	}
	longest := e.pattern.Longest()
	if _, err := p.Render(longest); err != nil {
		return fmt.Errorf("%s (template %q, the longest tenant id auth.tenant_pattern admits, %d characters): %w",
			field, p.TemplateName(), utf8.RuneCountInString(longest), err)
	}
	return nil
}

// checkTag checks a session tag whose value holds {tenant}: every admitted
// id must be a valid part of a tag value, and the value (without its
// {subject} part, which vend shortens to fit) must stay within the limit.
func (e *env) checkTag(t Tag) error {
	n := strings.Count(t.Value, tenant.Placeholder)
	if n == 0 {
		return nil
	}
	if err := e.pattern.CheckAlphabet("a session tag value", stsrules.TagRune); err != nil {
		return fmt.Errorf("auth.tenant_pattern %w", err)
	}
	fixed := utf8.RuneCountInString(strings.NewReplacer(tenant.Placeholder, "", config.SubjectPlaceholder, "").Replace(t.Value))
	if total := fixed + n*e.pattern.MaxLen(); total > stsrules.MaxTagValueLen {
		return fmt.Errorf("with the longest tenant id auth.tenant_pattern admits (%d characters) the value is %d characters, limit %d",
			e.pattern.MaxLen(), total, stsrules.MaxTagValueLen)
	}
	return nil
}
