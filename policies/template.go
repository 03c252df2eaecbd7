package policies

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

//go:embed templates/*.json
var embedded embed.FS

// Placeholders a template may use. Each must be a whole JSON string.
const (
	PlaceholderLeadingKey = "{{leading_key}}" // the formatted partition-key value, e.g. "Tenant#1"
	PlaceholderTenant     = "{{tenant}}"      // the validated tenant id
	PlaceholderTableARNs  = "{{table_arns}}"  // the table ARNs (an array)
	PlaceholderIndexARNs  = "{{index_arns}}"  // each table ARN + "/index/*" (an array)
)

// MaxTemplateBytes bounds a template file.
const MaxTemplateBytes = 64 << 10

// ErrInvalidParams is wrapped by Render errors about its Params.
var ErrInvalidParams = errors.New("invalid render parameters")

var (
	templateNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	tableARNRE     = regexp.MustCompile(`^arn:aws(-[a-z]+)*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$`)
	// anyPattern lets CheckTenant apply only its fixed character rules.
	anyPattern = regexp.MustCompile(`.*`)
)

// sampleParams are the symbolic values substituted into every template at
// load, so the template can be linted before any tenant exists.
var sampleParams = Params{
	Tenant:     "TENANT",
	LeadingKey: "Tenant#TENANT",
	TableARNs:  []string{"arn:aws:dynamodb:us-east-1:123456789012:table/TABLE"},
}

// Params are the values a template is rendered with.
type Params struct {
	Tenant     string   // validated tenant id (see LeadingKey)
	LeadingKey string   // formatted partition-key value, e.g. "Tenant#1"
	TableARNs  []string // table ARNs; index ARNs are derived (ARN + "/index/*")
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
	name       string
	source     string
	tree       any
	usesTenant bool
}

// Name returns the template's name (its file name without ".json").
func (t *Template) Name() string { return t.name }

// Source returns where the template came from: "embedded:templates/NAME.json"
// or a file path.
func (t *Template) Source() string { return t.source }

// Render substitutes p into the template, encodes the result as compact JSON
// and lints it. Lint findings are returned as *LintError; invalid parameters
// as errors wrapping ErrInvalidParams.
func (t *Template) Render(p Params) (*Rendered, error) {
	r, tree, err := t.render(p)
	if err != nil {
		return nil, err
	}
	if err := lintParsed(r.JSON, tree, t.lintOptions()); err != nil {
		return nil, err
	}
	return r, nil
}

func (t *Template) lintOptions() LintOptions {
	return LintOptions{Name: fmt.Sprintf("template %q", t.name)}
}

// render substitutes and encodes without linting; it returns the rendered
// tree too. Prove uses it so the proof stands on its own.
func (t *Template) render(p Params) (*Rendered, any, error) {
	vals, err := p.values()
	if err == nil && t.usesTenant && p.Tenant == "" {
		err = fmt.Errorf("%w: the template uses %s but no tenant was given", ErrInvalidParams, PlaceholderTenant)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("policies: render template %q: %w", t.name, err)
	}
	tree := substitute(t.tree, vals)
	doc, err := encodeTree(tree)
	if err != nil {
		return nil, nil, fmt.Errorf("policies: render template %q: %w", t.name, err)
	}
	sum := sha256.Sum256(doc)
	return &Rendered{JSON: doc, Hash: hex.EncodeToString(sum[:]), Size: utf8.RuneCount(doc)}, tree, nil
}

// values checks p and returns the placeholder values.
func (p Params) values() (map[string]any, error) {
	if p.LeadingKey == "" || len(p.LeadingKey) > MaxLeadingKeyLength {
		return nil, fmt.Errorf("%w: leading key must be 1-%d characters", ErrInvalidParams, MaxLeadingKeyLength)
	}
	if p.Tenant != "" {
		// Defence in depth: the fixed character rules, whatever the pattern.
		if err := CheckTenant(p.Tenant, anyPattern); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidParams, err)
		}
	}
	if len(p.TableARNs) == 0 {
		return nil, fmt.Errorf("%w: no table ARNs", ErrInvalidParams)
	}
	tables := make([]any, 0, len(p.TableARNs))
	indexes := make([]any, 0, len(p.TableARNs))
	for i, arn := range p.TableARNs {
		if err := ValidateTableARN(arn); err != nil {
			return nil, fmt.Errorf("%w: table ARN %d: %w", ErrInvalidParams, i, err)
		}
		if slices.Contains(p.TableARNs[:i], arn) {
			return nil, fmt.Errorf("%w: table ARN %q listed twice", ErrInvalidParams, arn)
		}
		tables = append(tables, arn)
		indexes = append(indexes, arn+"/index/*")
	}
	vals := map[string]any{
		PlaceholderLeadingKey: p.LeadingKey,
		PlaceholderTableARNs:  tables,
		PlaceholderIndexARNs:  indexes,
	}
	if p.Tenant != "" {
		vals[PlaceholderTenant] = p.Tenant
	}
	return vals, nil
}

// ValidateTableARN checks that arn names one DynamoDB table, with no
// wildcard: arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME.
func ValidateTableARN(arn string) error {
	if !tableARNRE.MatchString(arn) {
		return fmt.Errorf("%q is not a DynamoDB table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME, no wildcards)", arn)
	}
	return nil
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

// checkPlaceholders refuses placeholder misuse in a template tree and
// reports whether the tree uses {{leading_key}} and {{tenant}}.
func checkPlaceholders(v any) (usesKey, usesTenant bool, err error) {
	var walk func(v any) error
	walk = func(v any) error {
		switch t := v.(type) {
		case string:
			if !strings.Contains(t, "{{") && !strings.Contains(t, "}}") {
				return nil
			}
			switch t {
			case PlaceholderLeadingKey:
				usesKey = true
			case PlaceholderTenant:
				usesTenant = true
			case PlaceholderTableARNs, PlaceholderIndexARNs:
			default:
				return fmt.Errorf("string %q is not exactly one of the placeholders %s, %s, %s, %s",
					t, PlaceholderLeadingKey, PlaceholderTenant, PlaceholderTableARNs, PlaceholderIndexARNs)
			}
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
	err = walk(v)
	return usesKey, usesTenant, err
}

// ParseTemplate parses and checks one template: valid JSON, placeholders
// used correctly, {{leading_key}} present, and the policy rendered with
// symbolic sample values passes Lint. source is recorded for messages.
// Findings are *LintError.
func ParseTemplate(name, source string, data []byte) (*Template, error) {
	t, err := parseTemplate(name, source, data)
	if err != nil {
		return nil, err
	}
	r, tree, err := t.render(sampleParams)
	if err != nil {
		return nil, err
	}
	if err := lintParsed(r.JSON, tree, t.lintOptions()); err != nil {
		return nil, err
	}
	return t, nil
}

// parseTemplate parses a template without linting its sample rendering.
func parseTemplate(name, source string, data []byte) (*Template, error) {
	if !templateNameRE.MatchString(name) {
		return nil, fmt.Errorf("policies: template name %q (from %s) must match %s", name, source, templateNameRE)
	}
	t := &Template{name: name, source: source}
	opts := t.lintOptions()
	if len(data) > MaxTemplateBytes {
		return nil, docErr(opts, RuleSize, fmt.Sprintf("template is %d bytes, limit %d", len(data), MaxTemplateBytes), "")
	}
	tree, err := parseTree(data)
	if err != nil {
		return nil, docErr(opts, RuleInvalidJSON, "not valid JSON: "+err.Error(), "")
	}
	usesKey, usesTenant, err := checkPlaceholders(tree)
	if err != nil {
		return nil, docErr(opts, RulePlaceholder, err.Error(), "")
	}
	if !usesKey {
		return nil, docErr(opts, RulePlaceholder, "template never uses "+PlaceholderLeadingKey, "")
	}
	t.tree, t.usesTenant = tree, usesTenant
	return t, nil
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
	names := make([]string, 0, len(s.templates))
	for n := range s.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadTemplates loads the embedded templates and, when dir is not "", every
// *.json file directly in dir, which replaces an embedded template of the
// same name or adds a new one. A template's name is its file name without
// ".json". Every template is parsed and linted (ParseTemplate); the first
// failure is returned, naming the file.
func LoadTemplates(dir string) (*Set, error) {
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
		if err := s.add(strings.TrimSuffix(e.Name(), ".json"), "embedded:"+p, data); err != nil {
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
		data, err := readLimited(p)
		if err != nil {
			return nil, fmt.Errorf("policies: template %s: %w", p, err)
		}
		if err := s.add(strings.TrimSuffix(e.Name(), ".json"), p, data); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) add(name, source string, data []byte) error {
	t, err := ParseTemplate(name, source, data)
	if err != nil {
		return fmt.Errorf("policies: %s: %w", source, err)
	}
	s.templates[name] = t
	return nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTemplateBytes+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}
