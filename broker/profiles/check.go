package profiles

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/rolepolicy"
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/targets"
	"github.com/tvmkit/tvm/policies/tenant"
)

// check checks the tenant pattern against p's targets and tags, renders p
// for the proof tenants, judges what it grants, renders it for the longest
// admitted tenant id and runs the proof unless disabled, filling rep
// (policy size, unproven grants, proof).
func (e *env) check(field string, p *Profile, rep *Report) error {
	for _, g := range p.extra {
		rep.Unproven = append(rep.Unproven, g.String()+" (extra_actions)")
	}
	// The tenant pattern first: a pattern admitting ids a target cannot
	// serve is named as such, not by a rendering that fails for them.
	if err := e.checkPattern(field, p); err != nil {
		return err
	}
	for _, tn := range e.tenants {
		r, err := p.Render(tn)
		if err != nil {
			return fmt.Errorf("%s (template %q, tenant %q): %w", field, p.TemplateName(), tn, err)
		}
		rep.PolicySize = max(rep.PolicySize, r.Size)
	}
	if p.template == nil {
		if err := judgeRole(p); err != nil {
			return fmt.Errorf("%s (no template: the role's policy is the session's): %w", field, err)
		}
	}
	if err := e.renderLongest(field, p); err != nil {
		return err
	}
	if e.proofOff {
		return nil
	}
	var err error
	rep.Proof, err = policies.Prove(e.proofSpec(p))
	if err == nil && (rep.Proof == nil || !rep.Proof.OK) {
		err = errors.New("isolation proof did not pass")
	}
	if err != nil {
		return fmt.Errorf("%s (template %q, role policy %s): isolation proof failed: %w", field, p.TemplateName(), p.RolePolicy(), err)
	}
	return nil
}

// judgeRole judges the grants of the role's policies of a profile that
// sends no session policy: they are the session's.
func judgeRole(p *Profile) error {
	bound := make([]policies.Target, len(p.bindings))
	for i, b := range p.bindings {
		bound[i] = b.Target()
	}
	for _, pol := range p.role.Policies {
		if err := policies.JudgeRoleGrants(pol, bound, targets.All(), p.extra); err != nil {
			return err
		}
	}
	return nil
}

// proofSpec describes p's sessions to the proof: its template, bindings,
// role and what the broker puts in each session.
func (e *env) proofSpec(p *Profile) policies.ProofSpec {
	spec := policies.ProofSpec{
		Template:  p.template,
		Bindings:  p.bindings,
		Tenants:   e.tenants,
		Isolation: p.isolation,
		Role:      policies.Role{ARN: p.roleARN},
		Region:    e.region,
		Time:      e.opts.Time,
		Session: policies.SessionShape{
			Name: p.SessionName,
			Tags: func(tn, subject string) []iam.Tag {
				var out []iam.Tag
				for _, t := range p.SessionTags(tn, subject) {
					out = append(out, iam.Tag{Key: t.Key, Value: t.Value})
				}
				return out
			},
		},
	}
	if p.sourceIdentity {
		spec.Session.SourceIdentity = SourceIdentity
	}
	if twins, ok := e.pattern.CaseTwins(); ok {
		spec.More = append(spec.More, twins)
	}
	for _, id := range e.namedTenants(p) {
		spec.More = append(spec.More, [2]string{id, e.tenants[0]})
	}
	if p.role != nil {
		spec.Role.ID, spec.Role.Known, spec.Role.Policies, spec.Role.Tags = p.role.ID, true, p.role.Policies, p.role.Tags
		// The role's tags are known when IAM was asked; role files carry none.
		spec.Role.TagsKnown = p.role.Source == rolepolicy.FromIAM
	}
	return spec
}

// maxNamedTenants bounds the tenants namedTenants returns.
const maxNamedTenants = 16

// namedTenants returns the ids, other than the proof tenants, that p's
// policies single out by name: each constant an Allow statement of the
// role's policies or of the session policy tests a session tag holding
// {tenant} against ("aws:PrincipalTag/tenant": "admin"), wildcards read as
// "x", inverted through the tag's value template and admitted by the
// tenant pattern. The proof then also runs for each of them: the named
// tenant's session must stay as confined as the samples' (at most
// maxNamedTenants, in policy order).
func (e *env) namedTenants(p *Profile) []string {
	formats := map[string]tenant.Format{}
	for _, t := range p.tags {
		if f, err := tenant.ParseFormat(t.Value); err == nil && !strings.Contains(t.Value, config.SubjectPlaceholder) {
			formats[strings.ToLower("aws:PrincipalTag/"+t.Key)] = f
		}
	}
	var pols []*iam.Policy
	if p.role != nil {
		pols = append(pols, p.role.Policies...)
	}
	if r, err := p.Render(e.tenants[0]); err == nil && len(r.JSON) > 0 {
		if session, err := iam.Parse("session policy", r.JSON); err == nil {
			pols = append(pols, session)
		}
	}
	var out []string
	for _, pol := range pols {
		for _, st := range pol.Statements {
			for _, c := range st.Conditions {
				f, ok := formats[strings.ToLower(c.Key)]
				if !ok || st.Effect != iam.Allow {
					continue
				}
				for _, v := range c.Values {
					id, ok := e.pattern.Names(f, strings.NewReplacer("*", "x", "?", "x").Replace(v))
					if ok && !strings.Contains(v, "${") && !slices.Contains(e.tenants[:], id) && !slices.Contains(out, id) && len(out) < maxNamedTenants {
						out = append(out, id)
					}
				}
			}
		}
	}
	return out
}

// checkPattern checks that every id the pattern admits can be served:
// each binding's limits and the session tags that hold {tenant}.
func (e *env) checkPattern(field string, p *Profile) error {
	for i, b := range p.bindings {
		if err := b.CheckTenants(e.pattern); err != nil {
			var se *policies.SettingError
			if errors.As(err, &se) {
				return &config.FieldError{Field: strings.TrimSuffix(p.fields[i]+se.Field, "."),
					Problem: se.Problem + " (auth.tenant_pattern admits ids of up to " + fmt.Sprint(e.pattern.MaxBytes()) + " bytes)"}
			}
			return fmt.Errorf("%s: %w", strings.TrimSuffix(p.fields[i], "."), err)
		}
	}
	for _, t := range p.tags {
		if err := e.checkTag(t); err != nil {
			return &config.FieldError{Field: fmt.Sprintf("%s.session_tags[%q]", field, t.Key), Problem: err.Error()}
		}
	}
	return nil
}

// renderLongest renders p for the longest id the pattern admits: the
// policy must lint within its limits for every admitted id.
func (e *env) renderLongest(field string, p *Profile) error {
	longest := e.pattern.Longest()
	if _, err := p.Render(longest); err != nil {
		return fmt.Errorf("%s (template %q, the longest tenant id auth.tenant_pattern admits, %d characters): %w",
			field, p.TemplateName(), utf8.RuneCountInString(longest), err)
	}
	return nil
}

// checkTag checks a session tag whose value holds {tenant}: every admitted
// id must be a valid part of a tag value (STS's tag grammar,
// stsrules.TagRune, against the pattern's alphabet), and the value
// (without its {subject} part, which TagValue shortens to fit) must stay
// within the limit.
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

// log writes the profile's start-up line: what was proven against which
// role policy (a warning when the role's policy is unknown, an error when
// the profile failed), then one warning per unproven grant.
func (e *env) log(rep Report) {
	log := e.opts.Logger
	if log == nil {
		return
	}
	attrs := []any{slog.String("profile", rep.Profile), slog.String("template", rep.Template),
		slog.String("isolation", string(rep.Isolation)), slog.String("role_policy", rep.RolePolicy)}
	if rep.Proof != nil {
		attrs = append(attrs, slog.Int("proof_rows", len(rep.Proof.Rows)))
	}
	switch {
	case rep.Err != nil:
		log.Error("profile refused", append(attrs, slog.String("error", rep.Err.Error()))...)
	case e.proofOff:
		log.Info("profile checked, not proven (proof.disabled)", attrs...)
	case rep.RolePolicy == RoleUnknown:
		log.Info("profile proven against its session policy alone: the role's policy is unknown, assumed to allow everything "+
			"(role_policy_files or role_policy_from_iam prove the role as deployed)", attrs...)
	default:
		log.Info("profile proven against the role's policy as deployed", attrs...)
	}
	for _, u := range rep.Unproven {
		log.Warn("UNPROVEN grant: nothing proves it keeps tenants apart", slog.String("profile", rep.Profile), slog.String("grant", u))
	}
}
