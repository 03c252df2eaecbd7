// Package profiles is the broker's one compile step: it turns the
// configuration's profiles (config.Profile), the tenant pattern, the policy
// templates, the registered isolation targets and the roles' policies as
// deployed into immutable compiled profiles, and proves them. Vending
// (package vend), `tvm-broker check` and `tvm-broker render` all use the
// result; none of them re-validates a profile, and the policy of a tenant
// is rendered in one place, Profile.Render.
//
// Compile checks, for every profile, in order:
//
//  1. the configuration rules it relies on (config.Config.ProfileProblems:
//     tenant pattern, proof tenants, default profile, every profile field);
//  2. the template exists (unless isolation is session-tags and none is
//     named) and the profile binds every isolation target it uses (each
//     target's settings compiled once by its Bind);
//  3. the role's policies as deployed, when the profile names a source:
//     role_policy_files (read and parsed) or role_policy_from_iam (fetched
//     by the caller through the IAM API, Options.Roles); a session-tags
//     profile whose role policy is unknown is refused — nothing to prove;
//  4. the policy renders and lints for both proof tenants, with the
//     profile's declared resources and extra grants (issue 14: grants
//     outside the targets and resources outside the profile are refused);
//     under session-tags isolation without a template, the role policy's
//     grants are judged instead (policies.JudgeRoleGrants);
//  5. every tenant id the pattern admits can be served: each binding's
//     CheckTenants (e.g. the DynamoDB key length for the longest id, a
//     per-tenant table name), session tag values holding {tenant} stay
//     within STS's tag grammar and length, and the policy rendered for the
//     pattern's longest id (Longest) lints — within 2,048 characters;
//  6. unless proof.disabled, the isolation proof (policies.Prove) on the
//     sessions the broker creates: the role's policies (or an allow-all
//     role when unknown) intersected with the session policy, with the
//     session's name, tags and source identity and realistic global
//     condition keys (policies.GlobalKeys).
//
// A pattern accepted by configuration and Compile therefore vends for every
// tenant it admits; otherwise start-up refuses it, naming the field.
//
// With Options.Logger, Compile logs one line per profile saying what was
// proven against what — the role policy from files, from IAM, or unknown
// and assumed allow-all — and a warning for every UNPROVEN grant (extra
// grants, and role grants of targets the profile does not configure).
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

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

// Options tunes Compile and Check.
type Options struct {
	// Logger receives one line per profile (what was proven against which
	// role policy, and every UNPROVEN grant) and the warning that the proof
	// is disabled; nil discards.
	Logger *slog.Logger
	// Roles supplies the policies of the roles of profiles that set
	// role_policy_from_iam, fetched by the caller through the IAM API
	// before compiling (rolepolicy.FetchAll returns one). Nil refuses
	// those profiles.
	Roles RoleSource
	// Time is the time of the proof's requests; zero means now.
	Time time.Time
}

// RoleSource supplies a role's policies as fetched from IAM, or why they
// could not be.
type RoleSource interface {
	Role(roleARN string) (*rolepolicy.Role, error)
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
	// Template is the policy template name ("" for none).
	Template string
	// Isolation is the profile's isolation model.
	Isolation policies.Isolation
	// RolePolicy says what the proof evaluated as the role's policy: "from
	// files (N policies)", "from IAM (N policies)", or RoleUnknown.
	RolePolicy string
	// Unproven lists the grants nothing proves: the profile's extra
	// grants, and role grants of targets the profile does not configure.
	Unproven []string
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
// default profile, no profiles). opts.Logger is not used: the reports say
// it all.
func Check(cfg *config.Config, templates *policies.Set, opts Options) (*Set, error) {
	opts.Logger = nil
	return compileAll(cfg, templates, opts)
}

// RoleUnknown is Report.RolePolicy when a profile names no source for its
// role's policies.
const RoleUnknown = "unknown: assumed allow-all"

// rolePolicySource is Report.RolePolicy of a profile whose role's policies
// have not been read (yet, or at all): where they are to come from, or
// RoleUnknown.
func rolePolicySource(pc *config.Profile) string {
	switch {
	case len(pc.RolePolicyFiles) > 0:
		return "from " + string(rolepolicy.FromFiles) + " (not read)"
	case pc.RolePolicyFromIAM:
		return "from " + string(rolepolicy.FromIAM) + " (not read)"
	}
	return RoleUnknown
}

// env is what every profile is compiled against.
type env struct {
	pattern   *tenant.Pattern
	templates *policies.Set
	tenants   [2]string
	proofOff  bool
	region    string
	opts      Options
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
	e := &env{templates: templates, tenants: [2]string(cfg.Proof.Tenants), proofOff: cfg.Proof.Disabled, region: cfg.STS.Region, opts: opts}
	var err error
	if e.pattern, err = tenant.Compile(cfg.Auth.TenantPattern); err != nil {
		return nil, fmt.Errorf("auth.tenant_pattern: %w", err) // reported by ProfileProblems
	}
	s := &Set{pattern: e.pattern, profiles: map[string]*Profile{}, defaultName: cfg.DefaultProfile}
	var errs []error
	for i := range cfg.Profiles {
		pc := &cfg.Profiles[i]
		field := fmt.Sprintf("profiles[%d]", i)
		rep := Report{Profile: pc.Name, Template: pc.Template, Isolation: pc.Isolation, RolePolicy: rolePolicySource(pc)}
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
			rep.RolePolicy = prof.RolePolicy()
			err = e.check(field, prof, &rep)
		}
		if err != nil {
			rep.Err = err
			errs = append(errs, err)
		}
		e.log(rep)
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
	isolation      policies.Isolation
	template       *policies.Template // nil: no session policy
	bindings       []policies.Binding
	fields         []string         // each binding's configuration path, "profiles[0]." or "profiles[0].s3."
	role           *rolepolicy.Role // nil: unknown
	extra          []policies.ExtraGrant
	defaultDur     time.Duration
	maxDur         time.Duration
	externalID     string
	tags           []Tag // sorted by key
	transitive     []string
	perSubject     bool
	sourceIdentity bool
	allowedTenants map[string]struct{} // nil = every tenant
	requiredScope  string
	fingerprint    string
}

// Name returns the profile's name.
func (p *Profile) Name() string { return p.name }

// RoleARN returns the role to assume.
func (p *Profile) RoleARN() string { return p.roleARN }

// TemplateName returns the policy template's name ("" when the profile
// sends no session policy).
func (p *Profile) TemplateName() string {
	if p.template == nil {
		return ""
	}
	return p.template.Name()
}

// Isolation returns the profile's isolation model.
func (p *Profile) Isolation() policies.Isolation { return p.isolation }

// RolePolicy says where the role's policies the proof evaluated came from:
// "from files (N policies)", "from IAM (N policies)" or RoleUnknown.
func (p *Profile) RolePolicy() string {
	if p.role == nil {
		return RoleUnknown
	}
	return p.role.Describe()
}

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
// values and its extra grants, linted (policies.Template.RenderWith). A
// profile without a template (session-tags isolation) sends no session
// policy: Render returns an empty Rendered (no JSON, size 0, no hash).
func (p *Profile) Render(tenantID string) (*policies.Rendered, error) {
	if p.template == nil {
		return &policies.Rendered{}, nil
	}
	return p.template.RenderWith(tenantID, p.bindings, p.extra)
}

// compileProfile builds the compiled profile from a validated
// config.Profile: the template, the target bindings, the role's policies
// and the tags.
func compileProfile(field string, pc *config.Profile, e *env) (*Profile, error) {
	var tmpl *policies.Template
	if pc.Template != "" {
		var ok bool
		if tmpl, ok = e.templates.Get(pc.Template); !ok {
			return nil, &config.FieldError{Field: field + ".template",
				Problem: fmt.Sprintf("unknown template %q (have %s)", pc.Template, strings.Join(e.templates.Names(), ", "))}
		}
	}
	bindings, fields, err := bind(field, pc)
	if err != nil {
		return nil, err
	}
	if tmpl != nil {
		if err := policies.CheckBindings(tmpl, bindings); err != nil {
			return nil, &config.FieldError{Field: field + ".template", Problem: err.Error()}
		}
	}
	role, err := e.role(field, pc)
	if err != nil {
		return nil, err
	}
	p := &Profile{
		name:           pc.Name,
		roleARN:        pc.RoleARN,
		isolation:      pc.Isolation,
		template:       tmpl,
		bindings:       bindings,
		fields:         fields,
		role:           role,
		extra:          slices.Clone(pc.ExtraActions),
		defaultDur:     pc.DefaultDuration,
		maxDur:         pc.MaxDuration,
		externalID:     pc.ExternalID,
		transitive:     slices.Clone(pc.TransitiveTagKeys),
		perSubject:     pc.Sessions == config.PerSubject,
		sourceIdentity: pc.SourceIdentity,
		requiredScope:  pc.RequiredScope,
		fingerprint:    fingerprint(pc, tmpl),
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

// role returns the role's policies as deployed (nil when the profile names
// no source), refusing a session-tags profile without them.
func (e *env) role(field string, pc *config.Profile) (*rolepolicy.Role, error) {
	var role *rolepolicy.Role
	var err error
	switch {
	case len(pc.RolePolicyFiles) > 0:
		if role, err = rolepolicy.LoadFiles(pc.RoleARN, pc.RolePolicyFiles); err != nil {
			return nil, &config.FieldError{Field: field + ".role_policy_files", Problem: err.Error()}
		}
	case pc.RolePolicyFromIAM:
		if e.opts.Roles == nil {
			return nil, &config.FieldError{Field: field + ".role_policy_from_iam", Problem: rolepolicy.ErrNotFetched.Error()}
		}
		if role, err = e.opts.Roles.Role(pc.RoleARN); err != nil {
			return nil, &config.FieldError{Field: field + ".role_policy_from_iam",
				Problem: "the role's policies could not be read through the IAM API: " + err.Error()}
		}
	}
	if role == nil && pc.Isolation == policies.IsolationSessionTags {
		return nil, &config.FieldError{Field: field + ".isolation",
			Problem: "session-tags isolation rests on the role's policy, which is unknown: nothing to prove"}
	}
	return role, nil
}

// bind compiles the settings of every target the profile configures, and
// returns each binding's configuration path.
func bind(field string, pc *config.Profile) ([]policies.Binding, []string, error) {
	var out []policies.Binding
	var fields []string
	for _, ts := range pc.TargetSettings() {
		t, ok := targets.Lookup(ts.Target)
		if !ok {
			return nil, nil, &config.FieldError{Field: field + "." + ts.Target, Problem: "not a registered isolation target"}
		}
		b, err := t.Bind(ts.Settings)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", strings.TrimSuffix(field+"."+ts.Field, "."), err)
		}
		out, fields = append(out, b), append(fields, field+"."+ts.Field)
	}
	return out, fields, nil
}
