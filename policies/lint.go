package policies

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/policies/iam"
)

// Lint rule ids. A *LintError names exactly one of them; they are stable and
// may be matched by callers and documentation.
const (
	// RuleInvalidJSON: the document is not one valid JSON value, or an object
	// repeats a key.
	RuleInvalidJSON = "invalid-json"
	// RulePlaceholder: a template string contains "{{" or "}}" but is not exactly one
	// known placeholder, a placeholder is used as an object key, or the
	// template never uses {{leading_key}}. Templates only.
	RulePlaceholder = "placeholder"
	// RuleParse: the IAM policy parser refuses the document.
	RuleParse = "parse"
	// RuleSize: the compact document exceeds MaxPolicySize characters.
	RuleSize = "size"
	// RuleCharset: a character outside U+0009, U+000A, U+000D, U+0020–U+00FF.
	RuleCharset = "charset"
	// RuleLeadingKeysCondition: an Allow statement grants a DynamoDB action
	// without both ForAllValues:StringEquals on dynamodb:LeadingKeys and
	// "Null": {"dynamodb:LeadingKeys": "false"} in its Condition block.
	RuleLeadingKeysCondition = "leadingkeys-condition"
	// RuleKeylessAction: an Allow statement grants a DynamoDB action whose
	// request carries no dynamodb:LeadingKeys (Scan, DescribeTable,
	// dynamodb:*, any wildcard expanding to one, or an unknown action).
	RuleKeylessAction = "keyless-action"
	// RuleNotAction: an Allow statement uses NotAction or NotResource and
	// thereby grants DynamoDB actions.
	RuleNotAction = "notaction"
	// RuleStringLikeWildcard: a *Like operator on dynamodb:LeadingKeys in an
	// Allow statement (a tenant "*" would read every tenant).
	RuleStringLikeWildcard = "stringlike-wildcard"
	// RuleLeadingKeysOperator: dynamodb:LeadingKeys tested in an Allow
	// statement with an operator other than ForAllValues:StringEquals or Null.
	RuleLeadingKeysOperator = "leadingkeys-operator"
	// RuleStreamWildcard: a Resource of a DynamoDB-granting Allow statement
	// also matches stream ARNs (table/NAME/*, table/*, *).
	RuleStreamWildcard = "stream-wildcard"
	// RuleVariables: a policy variable ("${...}") in a dynamodb:LeadingKeys
	// value of an Allow statement.
	RuleVariables = "variables"
)

// Rules lists every lint rule id: document rules first, in the order they
// are checked, then the statement rules.
func Rules() []string {
	return []string{
		RuleInvalidJSON, RulePlaceholder, RuleCharset, RuleSize, RuleParse,
		RuleNotAction, RuleKeylessAction, RuleStringLikeWildcard, RuleLeadingKeysOperator,
		RuleVariables, RuleLeadingKeysCondition, RuleStreamWildcard,
	}
}

// MaxPolicySize is the most characters an inline session policy may have
// after compaction (STS's plaintext limit, which the SDK does not check).
const MaxPolicySize = 2048

// LeadingKeysKey is the DynamoDB condition key the isolation rests on.
const LeadingKeysKey = "dynamodb:LeadingKeys"

// LintOptions tunes Lint.
type LintOptions struct {
	// Name labels the document in errors, e.g. `template "dynamodb-read"`.
	Name string
	// MaxSize is the size limit in characters; 0 or anything above
	// MaxPolicySize means MaxPolicySize (the limit can be tightened, never
	// loosened).
	MaxSize int
}

// LintError is a lint finding. Error() names the rule, the document, the
// statement and the offending text.
type LintError struct {
	Rule   string // one of the Rule* ids
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

// Lint checks a session policy document against every rule and returns the
// first finding as a *LintError, or nil. Document rules (invalid-json,
// charset, size, parse) come first, then the statement rules statement by
// statement; Deny statements only take permissions away and are not checked.
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
	limit := opts.MaxSize
	if limit <= 0 || limit > MaxPolicySize {
		limit = MaxPolicySize
	}
	if n := utf8.RuneCount(compact); n > limit {
		return docErr(opts, RuleSize, fmt.Sprintf("%d characters after compaction, limit %d", n, limit), "")
	}
	pol, err := iam.Parse(opts.Name, compact)
	if err != nil {
		return docErr(opts, RuleParse, "IAM policy parser refused it: "+err.Error(), "")
	}
	for i := range pol.Statements {
		if err := lintStatement(i, &pol.Statements[i], opts); err != nil {
			return err
		}
	}
	return nil
}

func docErr(opts LintOptions, rule, detail, text string) *LintError {
	return &LintError{Rule: rule, Detail: detail, Policy: opts.Name, Statement: -1, Text: text}
}

// allowedChar reports whether STS accepts r in a policy.
func allowedChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xFF)
}

// checkCharset checks the document text and every decoded string in it, so
// a character hidden behind a \u escape is caught too.
func checkCharset(compact []byte, tree any, opts LintOptions) error {
	if !utf8.Valid(compact) {
		return docErr(opts, RuleCharset, "not valid UTF-8", "")
	}
	for i, r := range string(compact) {
		if !allowedChar(r) {
			return docErr(opts, RuleCharset, fmt.Sprintf("character %U at offset %d is outside U+0009, U+000A, U+000D, U+0020-U+00FF", r, i), string(r))
		}
	}
	var bad *LintError
	walkStrings(tree, func(s string) bool {
		for _, r := range s {
			if !allowedChar(r) {
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

// grantedDynamoActions returns the known DynamoDB actions an Allow statement
// grants through Action or NotAction, in dynamoDBActions order.
func grantedDynamoActions(st *iam.Statement) []string {
	var out []string
	if st.NotAction != nil {
		for _, a := range dynamoDBActions {
			if !matchesAny(st.NotAction, "dynamodb:"+a) {
				out = append(out, a)
			}
		}
		return out
	}
	granted := map[string]bool{}
	for _, p := range st.Action {
		for _, a := range expandAction(p) {
			granted[a] = true
		}
	}
	for _, a := range dynamoDBActions {
		if granted[a] {
			out = append(out, a)
		}
	}
	return out
}

// expandAction returns the known DynamoDB actions an action pattern matches.
// A pattern without wildcards is looked up directly.
func expandAction(pattern string) []string {
	if !strings.ContainsAny(pattern, "*?") {
		if a, ok := dynamoDBActionByLower[strings.ToLower(pattern)]; ok {
			return []string{a}
		}
		return nil
	}
	var out []string
	for _, a := range dynamoDBActions {
		if iam.MatchAction(pattern, "dynamodb:"+a) {
			out = append(out, a)
		}
	}
	return out
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if iam.MatchAction(p, action) {
			return true
		}
	}
	return false
}

// couldBeDynamo reports whether an action pattern's service part matches
// "dynamodb", so an unknown action name in it may be a DynamoDB action.
func couldBeDynamo(pattern string) bool {
	i := strings.IndexByte(pattern, ':')
	if i < 0 {
		return strings.Contains(pattern, "*")
	}
	return iam.MatchAction(pattern[:i]+":x", "dynamodb:x")
}

func lintStatement(i int, st *iam.Statement, opts LintOptions) error {
	if st.Effect != iam.Allow {
		// Deny statements only take permissions away.
		return nil
	}
	fail := func(rule, detail, text string) error {
		return &LintError{Rule: rule, Detail: detail, Policy: opts.Name, Statement: i, Sid: st.Sid, Text: text}
	}
	granted := grantedDynamoActions(st)
	if st.NotAction != nil && len(granted) > 0 {
		return fail(RuleNotAction, "Allow with NotAction grants DynamoDB actions (e.g. dynamodb:"+granted[0]+")", strings.Join(st.NotAction, ","))
	}
	if st.NotResource != nil && len(granted) > 0 {
		return fail(RuleNotAction, "Allow with NotResource grants DynamoDB actions on resources it does not name", strings.Join(st.NotResource, ","))
	}
	for _, p := range st.Action {
		matched := expandAction(p)
		for _, a := range matched {
			if !keyedActions[a] {
				return fail(RuleKeylessAction, "grants dynamodb:"+a+", whose requests carry no dynamodb:LeadingKeys", p)
			}
		}
		if len(matched) == 0 && couldBeDynamo(p) {
			return fail(RuleKeylessAction, "names no known DynamoDB action that carries dynamodb:LeadingKeys", p)
		}
	}
	hasEquals, hasNull := false, false
	for _, c := range st.Conditions {
		if !strings.EqualFold(c.Key, LeadingKeysKey) {
			continue
		}
		op := c.Operator
		switch {
		case strings.Contains(strings.ToLower(op), "like"):
			return fail(RuleStringLikeWildcard, op+" on dynamodb:LeadingKeys lets a wildcard-bearing key match other tenants; use ForAllValues:StringEquals", op+" "+strings.Join(c.Values, ","))
		case strings.EqualFold(op, "ForAllValues:StringEquals"):
			for _, v := range c.Values {
				if strings.Contains(v, "${") {
					return fail(RuleVariables, "policy variable in a dynamodb:LeadingKeys value", v)
				}
			}
			hasEquals = hasEquals || len(c.Values) > 0
		case strings.EqualFold(op, "Null"):
			hasNull = hasNull || isNullFalse(c.Values)
		default:
			return fail(RuleLeadingKeysOperator, "dynamodb:LeadingKeys must be tested with ForAllValues:StringEquals (it is multivalued)", op)
		}
	}
	if len(granted) > 0 {
		acts := "dynamodb:" + strings.Join(granted, ",dynamodb:")
		switch {
		case !hasEquals:
			return fail(RuleLeadingKeysCondition, `grants DynamoDB actions without "ForAllValues:StringEquals" on dynamodb:LeadingKeys`, acts)
		case !hasNull:
			return fail(RuleLeadingKeysCondition, `grants DynamoDB actions without the "Null": {"dynamodb:LeadingKeys": "false"} guard`, acts)
		}
		for _, r := range st.Resource {
			if matchesStreams(r) {
				return fail(RuleStreamWildcard, "resource also matches DynamoDB stream ARNs; name the table and table/NAME/index/*", r)
			}
		}
	}
	return nil
}

// isNullFalse reports whether a Null condition's values require the key to
// be present: every value "false" (several values are ORed, so one "true"
// would let an absent key through).
func isNullFalse(values []string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		if !strings.EqualFold(v, "false") {
			return false
		}
	}
	return true
}

// matchesStreams reports whether a resource pattern may match a DynamoDB
// stream ARN (arn:P:dynamodb:R:A:table/NAME/stream/LABEL). It errs on the
// side of yes: "*" spans "/" in resource patterns, so any "*" in the
// resource type or table name segment, or a third segment that could read
// "stream", counts.
func matchesStreams(r string) bool {
	if r == "*" {
		return true
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 6 {
		// Not a full ARN: a trailing "*" may span the missing colons.
		return strings.Contains(r, "*")
	}
	if !globMatch(parts[2], "dynamodb") {
		return false
	}
	segs := strings.Split(parts[5], "/")
	if strings.Contains(segs[0], "*") {
		return true
	}
	if !globMatch(segs[0], "table") || len(segs) < 2 {
		return false
	}
	if strings.Contains(segs[1], "*") {
		return true
	}
	if len(segs) < 3 {
		return false
	}
	third := segs[2]
	if i := strings.IndexByte(third, '*'); i >= 0 {
		prefix := third[:i]
		if j := strings.IndexByte(prefix, '?'); j >= 0 {
			prefix = prefix[:j]
		}
		return strings.HasPrefix("stream", prefix)
	}
	return globMatch(third, "stream")
}

// globMatch matches s against a pattern with '*' (any run) and '?' (one
// character), case-insensitively: the matching IAM uses for actions.
func globMatch(pattern, s string) bool {
	return iam.MatchAction(pattern, s)
}
