package policies

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/tenant"
)

//go:embed templates/*.json
var embedded embed.FS

// PlaceholderTenant is the generic placeholder every template may use: the
// validated tenant id.
const PlaceholderTenant = "{{tenant}}"

// sampleTenant is the symbolic tenant templates are linted with at load.
const sampleTenant = "TENANT"

// MaxTemplateBytes bounds a template file.
const MaxTemplateBytes = 64 << 10

// ErrInvalidParams is wrapped by Render errors about its tenant or the
// values its bindings supply.
var ErrInvalidParams = errors.New("invalid render parameters")

// templateNameRE is the one rule for template names: a template's name is
// its file name without ".json".
var templateNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckTemplateName reports whether name can name a template.
func CheckTemplateName(name string) error {
	if !templateNameRE.MatchString(name) {
		return fmt.Errorf("must match %s", templateNameRE)
	}
	return nil
}

// Rendered is a rendered, linted session policy.
type Rendered struct {
	JSON []byte // compact JSON
	Hash string // hex SHA-256 of JSON
	Size int    // characters in JSON (what STS counts)
}

// Template is a parsed policy template. It is immutable and safe for
// concurrent use.
type Template struct {
	name    string
	tree    any
	uses    map[string]bool // placeholders the template uses
	targets []Target        // targets the template uses, in registration order
}

// Name returns the template's name (its file name without ".json").
func (t *Template) Name() string { return t.name }

// Digest returns the hex SHA-256 of the template's parsed document as
// compact JSON (members in document order, no insignificant whitespace):
// two templates with the same digest render the same policies.
func (t *Template) Digest() string {
	data, err := encodeTree(t.tree)
	if err != nil { // a tree parsed from JSON always encodes
		panic("policies: template " + t.name + ": " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Targets returns the targets the template uses: those whose placeholders
// it names (one that names a known target's actions without its
// placeholders is refused at load). A profile rendering it must bind each
// of them. The slice must not be modified.
func (t *Template) Targets() []Target { return t.targets }

func (t *Template) lintOptions() LintOptions {
	return LintOptions{Name: fmt.Sprintf("template %q", t.name), Targets: t.targets}
}

// Render renders the template for tenant with the placeholder values of
// bindings, encodes the result as compact JSON and lints it: the one render
// recipe of the broker (vend, tvm-broker check and render, the start-up
// checks all call it through the compiled profile). tenant must be an id
// the tenant pattern accepted; Render re-checks only the fixed rules of
// tenant.CheckRunes. Lint findings are *LintError; problems with the
// tenant or the values wrap ErrInvalidParams.
func (t *Template) Render(tenantID string, bindings []Binding) (*Rendered, error) {
	return t.RenderWith(tenantID, bindings, nil)
}

// RenderWith is Render for a profile that lists extra grants: the
// template may then also grant those actions on those resources (and
// nothing else outside its targets). The lint sees the profile: the
// resources it declares for the tenant (every placeholder value and every
// extra grant's resources; rule resource-scope), its extra grants (rule
// unknown-action) and its bindings (a StatementLinter binding checks the
// statements for its target).
func (t *Template) RenderWith(tenantID string, bindings []Binding, extra []ExtraGrant) (*Rendered, error) {
	vals, err := t.values(tenantID, bindings)
	if err != nil {
		return nil, fmt.Errorf("policies: render template %q: %w", t.name, err)
	}
	r, tree, err := t.render(vals)
	if err != nil {
		return nil, err
	}
	opts := t.lintOptions()
	opts.Profile = &LintProfile{Tenant: tenantID, Bindings: bindings, Resources: declared(vals, extra), Extra: extra}
	if err := lintParsed(r.JSON, tree, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// declared returns every placeholder value (tree nodes: strings and lists
// of strings) and every extra grant's resources.
func declared(vals map[string]any, extra []ExtraGrant) []string {
	var out []string
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	for _, g := range extra {
		out = append(out, g.Resources...)
	}
	return out
}

// renderFor substitutes and encodes without linting; Prove uses it so that
// the proof stands on its own.
func (t *Template) renderFor(tenantID string, bindings []Binding) (*Rendered, any, error) {
	vals, err := t.values(tenantID, bindings)
	if err != nil {
		return nil, nil, fmt.Errorf("policies: render template %q: %w", t.name, err)
	}
	return t.render(vals)
}

// values collects the placeholder values for tenantID from bindings, as
// tree nodes.
func (t *Template) values(tenantID string, bindings []Binding) (map[string]any, error) {
	if err := tenant.CheckRunes(tenantID); err != nil {
		// Defence in depth: the fixed character rules, whatever the pattern.
		return nil, fmt.Errorf("%w: %w", ErrInvalidParams, err)
	}
	vals := map[string]any{PlaceholderTenant: tenantID}
	for _, b := range bindings {
		v, err := b.Values(tenantID)
		if err != nil {
			return nil, fmt.Errorf("%w: target %s: %w", ErrInvalidParams, b.Target().Name(), err)
		}
		if err := addValues(vals, v); err != nil {
			return nil, err
		}
	}
	return vals, checkUses(vals, t.uses)
}

// addValues adds v to vals as tree nodes: a string, or a []string as []any.
func addValues(vals map[string]any, v Values) error {
	for name, val := range v {
		if _, dup := vals[name]; dup {
			return fmt.Errorf("%w: placeholder %s has two values", ErrInvalidParams, name)
		}
		switch val := val.(type) {
		case string:
			vals[name] = val
		case []string:
			list := make([]any, len(val))
			for i, s := range val {
				list[i] = s
			}
			vals[name] = list
		default:
			return fmt.Errorf("%w: placeholder %s has a %T value", ErrInvalidParams, name, val)
		}
	}
	return nil
}

// checkUses checks that every placeholder in uses has a value, naming
// every one that has none (sorted).
func checkUses(vals map[string]any, uses map[string]bool) error {
	var missing []string
	for name := range uses {
		if _, ok := vals[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%w: the template uses %s, which no bound target provides", ErrInvalidParams, strings.Join(missing, " and "))
}

// render substitutes vals (tree nodes) and encodes the result.
func (t *Template) render(vals map[string]any) (*Rendered, any, error) {
	tree := substitute(t.tree, vals)
	doc, err := encodeTree(tree)
	if err != nil {
		return nil, nil, fmt.Errorf("policies: render template %q: %w", t.name, err)
	}
	sum := sha256.Sum256(doc)
	return &Rendered{JSON: doc, Hash: hex.EncodeToString(sum[:]), Size: utf8.RuneCount(doc)}, tree, nil
}

// substitute returns a copy of v with placeholder strings replaced. A
// placeholder whose value is an array is spliced into an enclosing array and
// becomes an array elsewhere. Placeholders were checked at load and render
// supplies a value for every placeholder the template uses.
func substitute(v any, vals map[string]any) any {
	switch t := v.(type) {
	case string:
		if r, ok := vals[t]; ok {
			return r
		}
		return t
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				if arr, ok := vals[s].([]any); ok {
					out = append(out, arr...)
					continue
				}
			}
			out = append(out, substitute(e, vals))
		}
		return out
	case object:
		out := make(object, len(t))
		for i, m := range t {
			out[i] = member{Key: m.Key, Value: substitute(m.Value, vals)}
		}
		return out
	default:
		return t
	}
}

// placeholderSet is what a template may name: the generic {{tenant}} and
// every placeholder of the known targets.
type placeholderSet struct {
	owner map[string]Target // placeholder -> its target (nil for {{tenant}})
	names []string          // for messages, in target order
}

func newPlaceholderSet(targets []Target) (*placeholderSet, error) {
	ps := &placeholderSet{owner: map[string]Target{PlaceholderTenant: nil}, names: []string{PlaceholderTenant}}
	for _, tg := range targets {
		for _, p := range tg.Placeholders() {
			if _, dup := ps.owner[p.Name]; dup || !strings.HasPrefix(p.Name, "{{") || !strings.HasSuffix(p.Name, "}}") {
				return nil, fmt.Errorf("policies: target %s: placeholder %q is taken or not of the form {{name}}", tg.Name(), p.Name)
			}
			ps.owner[p.Name] = tg
			ps.names = append(ps.names, p.Name)
		}
	}
	return ps, nil
}

// scan refuses placeholder misuse in a template tree and returns the
// placeholders it uses.
func (ps *placeholderSet) scan(v any) (map[string]bool, error) {
	uses := map[string]bool{}
	var walk func(v any) error
	walk = func(v any) error {
		switch t := v.(type) {
		case string:
			if !strings.Contains(t, "{{") && !strings.Contains(t, "}}") {
				return nil
			}
			if _, ok := ps.owner[t]; !ok {
				return fmt.Errorf("string %q is not exactly one of the placeholders %s", t, strings.Join(ps.names, ", "))
			}
			uses[t] = true
		case []any:
			for _, e := range t {
				if err := walk(e); err != nil {
					return err
				}
			}
		case object:
			for _, m := range t {
				if strings.Contains(m.Key, "{{") || strings.Contains(m.Key, "}}") {
					return fmt.Errorf("placeholder syntax in object key %q", m.Key)
				}
				if err := walk(m.Value); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return uses, walk(v)
}

// ParseTemplate parses and checks one template against the known targets:
// valid JSON; placeholders used correctly; the required placeholders of
// every target it uses present (a target is used when the template names
// one of its placeholders or grants one of its actions); and the policy
// rendered with the placeholders' symbolic samples passes Lint with the
// rules of those targets. source is recorded for messages. Findings are
// *LintError.
func ParseTemplate(name, source string, data []byte, targets []Target) (*Template, error) {
	ps, err := newPlaceholderSet(targets)
	if err != nil {
		return nil, err
	}
	t, err := parseTemplate(name, source, data, ps)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{PlaceholderTenant: sampleTenant}
	for _, tg := range targets {
		for _, p := range tg.Placeholders() {
			if err := addValues(vals, Values{p.Name: p.Sample}); err != nil {
				return nil, err
			}
		}
	}
	if err := checkUses(vals, t.uses); err != nil {
		return nil, err
	}
	r, tree, err := t.render(vals)
	if err != nil {
		return nil, err
	}
	// A known target's actions granted without its placeholders are named
	// as such before the lint calls them unknown.
	if err := t.addGrantedTargets(r.JSON, targets); err != nil {
		return nil, err
	}
	if err := lintParsed(r.JSON, tree, t.lintOptions()); err != nil {
		return nil, err
	}
	return t, nil
}

// parseTemplate parses a template and checks its placeholders, without
// rendering or linting it.
func parseTemplate(name, source string, data []byte, ps *placeholderSet) (*Template, error) {
	if err := CheckTemplateName(name); err != nil {
		return nil, fmt.Errorf("policies: template name %q (from %s) %w", name, source, err)
	}
	t := &Template{name: name}
	opts := t.lintOptions()
	if len(data) > MaxTemplateBytes {
		return nil, templateTooLarge(name, fmt.Sprintf("%d bytes, limit", len(data)))
	}
	tree, err := parseTree(data)
	if err != nil {
		return nil, docErr(opts, RuleInvalidJSON, "not valid JSON: "+err.Error(), "")
	}
	uses, err := ps.scan(tree)
	if err != nil {
		return nil, docErr(opts, RulePlaceholder, err.Error(), "")
	}
	t.tree, t.uses, t.targets = tree, uses, uniqueTargets(ps, uses)
	if len(t.targets) == 0 {
		return nil, docErr(opts, RulePlaceholder, "template never uses an isolating placeholder ("+strings.Join(required(ps), ", ")+")", "")
	}
	for _, tg := range t.targets {
		if err := t.checkRequired(tg); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// uniqueTargets returns the targets owning the used placeholders, in the
// order the targets were given.
func uniqueTargets(ps *placeholderSet, uses map[string]bool) []Target {
	var out []Target
	seen := map[string]bool{}
	for _, n := range ps.names {
		tg := ps.owner[n]
		if tg == nil || !uses[n] || seen[tg.Name()] {
			continue
		}
		seen[tg.Name()] = true
		out = append(out, tg)
	}
	return out
}

// required lists the required placeholders of every target, for messages.
func required(ps *placeholderSet) []string {
	var out []string
	for _, n := range ps.names {
		if tg := ps.owner[n]; tg != nil {
			for _, p := range tg.Placeholders() {
				if p.Name == n && p.Required {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// checkRequired refuses a template that uses tg but none of its Required
// placeholders.
func (t *Template) checkRequired(tg Target) error {
	var names []string
	for _, p := range tg.Placeholders() {
		if p.Required {
			if t.uses[p.Name] {
				return nil
			}
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return docErr(t.lintOptions(), RulePlaceholder, "template never uses "+strings.Join(names, " or "), "")
}

// addGrantedTargets refuses a template whose Allow statements name actions
// of a known target's service ("s3:GetObject", "s3:*") that none of its used
// targets covers: such statements would escape every target's rules and
// proof. Cross-service grants ("*", NotAction) are left for the lint, which
// refuses every one of them (a target's rule, else unknown-action): the
// remedy there is to name the actions, not to add a placeholder. A sample
// that does not parse is left for the lint to report.
func (t *Template) addGrantedTargets(sample []byte, targets []Target) error {
	pol, err := iam.Parse(t.name, sample)
	if err != nil {
		return nil // the lint reports it, after the document rules
	}
	covered := map[string]bool{}
	for _, tg := range t.targets {
		covered[tg.Catalogue().Service()] = true
	}
	for _, tg := range targets {
		svc := tg.Catalogue().Service()
		action := namesService(pol, svc)
		if covered[svc] || action == "" {
			continue
		}
		var names []string
		for _, p := range tg.Placeholders() {
			if p.Required {
				names = append(names, p.Name)
			}
		}
		return docErr(t.lintOptions(), RulePlaceholder,
			fmt.Sprintf("template grants %s actions but never uses %s", svc, strings.Join(names, " or ")), action)
	}
	return nil
}

// namesService returns the first action pattern of an Allow statement of
// pol that names service svc by its prefix (case-insensitively), or "".
func namesService(pol *iam.Policy, svc string) string {
	for _, st := range pol.Statements {
		if st.Effect != iam.Allow {
			continue
		}
		for _, a := range st.Action {
			if s, _, ok := strings.Cut(a, ":"); ok && strings.EqualFold(s, svc) {
				return a
			}
		}
	}
	return ""
}

// Set is a named collection of templates. It is immutable after
// LoadTemplates and safe for concurrent use.
type Set struct {
	templates map[string]*Template
}

// Get returns the template called name.
func (s *Set) Get(name string) (*Template, bool) {
	t, ok := s.templates[name]
	return t, ok
}

// Names returns the template names, sorted.
func (s *Set) Names() []string {
	return slices.Sorted(maps.Keys(s.templates))
}

// LoadTemplates loads the embedded templates and, when dir is not "", every
// *.json file directly in dir, which replaces an embedded template of the
// same name or adds a new one. A template's name is its file name without
// ".json". Every template is parsed and linted against targets
// (ParseTemplate; callers pass targets.All()); the first failure is
// returned, naming the file.
func LoadTemplates(dir string, targets []Target) (*Set, error) {
	s := &Set{templates: map[string]*Template{}}
	entries, err := fs.ReadDir(embedded, "templates")
	if err != nil {
		return nil, fmt.Errorf("policies: embedded templates: %w", err)
	}
	for _, e := range entries {
		p := path.Join("templates", e.Name())
		data, err := embedded.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("policies: embedded templates: %w", err)
		}
		if err := s.add(strings.TrimSuffix(e.Name(), ".json"), "embedded:"+p, data, targets); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return s, nil
	}
	entries, err = os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policies: template directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), ".json")
		data, err := filelimit.Read(p, MaxTemplateBytes)
		var tooLarge *filelimit.TooLargeError
		if errors.As(err, &tooLarge) {
			err = templateTooLarge(name, "larger than")
		}
		if err != nil {
			return nil, fmt.Errorf("policies: template %s: %w", p, err)
		}
		if err := s.add(name, p, data, targets); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) add(name, source string, data []byte, targets []Target) error {
	t, err := ParseTemplate(name, source, data, targets)
	if err != nil {
		return fmt.Errorf("policies: %s: %w", source, err)
	}
	s.templates[name] = t
	return nil
}

// templateTooLarge is the size finding of the template name: "template is
// <size> MaxTemplateBytes bytes" (size: "larger than", or a byte count and
// "limit").
func templateTooLarge(name, size string) *LintError {
	return docErr((&Template{name: name}).lintOptions(), RuleSize, fmt.Sprintf("template is %s %d bytes", size, MaxTemplateBytes), "")
}
