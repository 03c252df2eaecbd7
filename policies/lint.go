package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/stsrules"
)

// Document lint rule ids. A *LintError names exactly one rule: one of these
// or a statement rule of a Target; ids are stable and may be matched by
// callers and documentation.
const (
	// RuleInvalidJSON: the document is not one valid JSON value, or an object
	// repeats a key.
	RuleInvalidJSON = "invalid-json"
	// RulePlaceholder: a template string contains "{{" or "}}" but is not
	// exactly one known placeholder, a placeholder is used as an object key,
	// or the template misses a required placeholder of a target it uses
	// (such as {{leading_key}}), or uses no target at all. Templates only.
	RulePlaceholder = "placeholder"
	// RuleParse: the IAM policy parser refuses the document.
	RuleParse = "parse"
	// RuleSize: the compact document exceeds stsrules.MaxPolicySize
	// characters.
	RuleSize = "size"
	// RuleCharset: a character outside STS's policy character set
	// (U+0009, U+000A, U+000D, U+0020–U+00FF).
	RuleCharset = "charset"
)

// Rules lists every lint rule id: the document rules first, in the order
// they are checked, then the statement rules of targets, target by target,
// then the generic statement rules (unknown-action, resource-scope).
func Rules(targets ...Target) []string {
	out := []string{RuleInvalidJSON, RulePlaceholder, RuleCharset, RuleSize, RuleParse}
	for _, t := range targets {
		out = append(out, t.Rules()...)
	}
	return append(out, RuleUnknownAction, RuleResourceScope)
}

// LintOptions tunes Lint.
type LintOptions struct {
	// Name labels the document in errors, e.g. `template "dynamodb-read"`.
	Name string
	// Targets whose statement rules apply (a template's Targets); their
	// actions are the only ones a statement may grant besides the
	// profile's extra grants.
	Targets []Target
	// Profile is what the profile declares, for a policy rendered for one
	// of its tenants. Nil when a template is linted on its own (at load,
	// with its placeholders' symbolic samples): the rules that depend on
	// the profile then refuse only what no profile could allow, and leave
	// the rest for the rendered policy.
	Profile *LintProfile
}

// LintProfile is the profile a rendered policy is linted against.
type LintProfile struct {
	// Tenant is the tenant the policy was rendered for.
	Tenant string
	// Bindings are the profile's target bindings; a binding that is a
	// StatementLinter checks the statements in place of its target.
	Bindings []Binding
	// Resources are the resources the profile declares for Tenant: every
	// placeholder value and every extra grant's resources. A statement's
	// resources must lie within them (ResourceWithin).
	Resources []string
	// Extra are the profile's extra grants (unproven).
	Extra []ExtraGrant
}

func (lp *LintProfile) declares(r string) bool {
	return slices.ContainsFunc(lp.Resources, func(d string) bool { return ResourceWithin(r, d) })
}

// StatementLinter is implemented by a Binding whose statement rules depend
// on the profile's settings (DynamoDB's per-tenant tables, say): a policy
// rendered for tenant is checked by the binding's LintStatement instead of
// its Target's, which checks templates at load.
type StatementLinter interface {
	LintStatement(st *iam.Statement, tenant string) *Finding
}

// statementLinter returns the statement check of t for opts.
func (opts LintOptions) statementLinter(t Target) func(*iam.Statement) *Finding {
	if opts.Profile != nil {
		for _, b := range opts.Profile.Bindings {
			if sl, ok := b.(StatementLinter); ok && b.Target().Name() == t.Name() {
				return func(st *iam.Statement) *Finding { return sl.LintStatement(st, opts.Profile.Tenant) }
			}
		}
	}
	return t.LintStatement
}

// LintError is a lint finding. Error() names the rule, the document, the
// statement and the offending text.
type LintError struct {
	Rule   string // a document rule id or a target's statement rule id
	Detail string // what is wrong
	// Policy is LintOptions.Name (may be empty).
	Policy string
	// Statement is the statement's index, or -1 for document-level rules.
	Statement int
	Sid       string
	// Text is the offending text (an action, resource, operator, value...).
	Text string
}

// Error implements error.
func (e *LintError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy lint [%s]", e.Rule)
	if e.Policy != "" {
		fmt.Fprintf(&b, " %s", e.Policy)
	}
	if e.Statement >= 0 {
		fmt.Fprintf(&b, " statement %d", e.Statement)
		if e.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", e.Sid)
		}
	}
	fmt.Fprintf(&b, ": %s", e.Detail)
	if e.Text != "" {
		fmt.Fprintf(&b, ": %q", e.Text)
	}
	return b.String()
}

// Lint checks a session policy document against every document rule, the
// statement rules of opts.Targets and the generic statement rules, and
// returns the first finding as a *LintError, or nil. Document rules
// (invalid-json, charset, size, parse) come first, then, statement by
// statement, the targets' rules and the generic ones; Deny statements only
// take permissions away and are not checked.
func Lint(doc []byte, opts LintOptions) error {
	tree, err := parseTree(doc)
	if err != nil {
		return docErr(opts, RuleInvalidJSON, "not valid JSON: "+err.Error(), "")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return docErr(opts, RuleInvalidJSON, "not valid JSON: "+err.Error(), "")
	}
	return lintParsed(compact.Bytes(), tree, opts)
}

// lintParsed runs every rule after invalid-json on a compact document and
// its tree.
func lintParsed(compact []byte, tree any, opts LintOptions) error {
	if err := checkCharset(compact, tree, opts); err != nil {
		return err
	}
	if n := utf8.RuneCount(compact); n > stsrules.MaxPolicySize {
		return docErr(opts, RuleSize, fmt.Sprintf("%d characters after compaction, limit %d", n, stsrules.MaxPolicySize), "")
	}
	pol, err := iam.Parse(opts.Name, compact)
	if err != nil {
		return docErr(opts, RuleParse, "IAM policy parser refused it: "+err.Error(), "")
	}
	linters := make([]func(*iam.Statement) *Finding, 0, len(opts.Targets)+1)
	for _, t := range opts.Targets {
		linters = append(linters, opts.statementLinter(t))
	}
	linters = append(linters, func(st *iam.Statement) *Finding { return lintScope(st, opts) })
	for i := range pol.Statements {
		st := &pol.Statements[i]
		if st.Effect != iam.Allow {
			continue // Deny statements only take permissions away.
		}
		for _, lint := range linters {
			if f := lint(st); f != nil {
				return &LintError{Rule: f.Rule, Detail: f.Detail, Policy: opts.Name, Statement: i, Sid: st.Sid, Text: f.Text}
			}
		}
	}
	return nil
}

func docErr(opts LintOptions, rule, detail, text string) *LintError {
	return &LintError{Rule: rule, Detail: detail, Policy: opts.Name, Statement: -1, Text: text}
}

// checkCharset checks the document text and every decoded string in it, so
// a character hidden behind a \u escape is caught too.
func checkCharset(compact []byte, tree any, opts LintOptions) error {
	if !utf8.Valid(compact) {
		return docErr(opts, RuleCharset, "not valid UTF-8", "")
	}
	for i, r := range string(compact) {
		if !stsrules.PolicyRune(r) {
			return docErr(opts, RuleCharset, fmt.Sprintf("character %U at offset %d is outside U+0009, U+000A, U+000D, U+0020-U+00FF", r, i), string(r))
		}
	}
	var bad *LintError
	walkStrings(tree, func(s string) bool {
		for _, r := range s {
			if !stsrules.PolicyRune(r) {
				bad = docErr(opts, RuleCharset, fmt.Sprintf("escaped character %U is outside U+0009, U+000A, U+000D, U+0020-U+00FF", r), s)
				return false
			}
		}
		return true
	})
	if bad != nil {
		return bad
	}
	return nil
}

// walkStrings calls fn for every object key and string value in v until fn
// returns false. It reports whether the walk completed.
func walkStrings(v any, fn func(string) bool) bool {
	switch t := v.(type) {
	case string:
		return fn(t)
	case []any:
		for _, e := range t {
			if !walkStrings(e, fn) {
				return false
			}
		}
	case object:
		for _, m := range t {
			if !fn(m.Key) || !walkStrings(m.Value, fn) {
				return false
			}
		}
	}
	return true
}
