package iam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Policy language versions.
const (
	// Version2012 is the current policy language version; policy variables
	// are only recognised in policies that declare it.
	Version2012 = "2012-10-17"
	// Version2008 is the legacy version, also assumed when Version is absent.
	Version2008 = "2008-10-17"
)

// ParseError reports a malformed policy document. Msg is worded so that STS
// can return it as the message of a MalformedPolicyDocument error.
type ParseError struct {
	// Policy is the name given to Parse.
	Policy string
	// Msg describes the problem, e.g. "Policy statement must contain resources."
	Msg string
}

// Error implements error.
func (e *ParseError) Error() string {
	if e.Policy == "" {
		return "iam: malformed policy: " + e.Msg
	}
	return fmt.Sprintf("iam: malformed policy %q: %s", e.Policy, e.Msg)
}

// parseMode says which kind of policy document a parser expects.
type parseMode uint8

const (
	// modeIdentity is for identity-based and session policies: no Principal
	// or NotPrincipal; every statement needs Resource or NotResource.
	modeIdentity parseMode = iota
	// modeTrust is for role trust policies: every statement needs Principal
	// or NotPrincipal, and Resource / NotResource are prohibited.
	modeTrust
	// modeResource is for other resource-based policies: every statement
	// needs Principal or NotPrincipal; Resource is optional (services such
	// as SNS imply it).
	modeResource
)

// Parse parses an identity-based or session policy document. name labels the
// policy in decisions. Any problem is reported as a *ParseError: invalid or
// trailing JSON, duplicate or unknown keys, a bad Version or Effect, a
// statement without actions or resources, a Principal, an unknown condition
// operator, a value an operator cannot use. The statements' patterns are
// compiled here, once.
func Parse(name string, doc []byte) (*Policy, error) {
	return modeIdentity.parse(name, doc)
}

// ParseTrustPolicy parses a role trust policy (statements carry a Principal
// and no Resource).
func ParseTrustPolicy(name string, doc []byte) (*Policy, error) {
	return modeTrust.parse(name, doc)
}

// ParseResourcePolicy parses another resource-based policy, such as a
// bucket or queue policy: statements carry a Principal; Resource is
// optional.
func ParseResourcePolicy(name string, doc []byte) (*Policy, error) {
	return modeResource.parse(name, doc)
}

func (m parseMode) parse(name string, doc []byte) (*Policy, error) {
	p := &parser{name: name, mode: m}
	pol, err := p.policy(doc)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, &ParseError{Policy: name, Msg: err.Error()}
	}
	vars := pol.Version == Version2012
	for i := range pol.Statements {
		st := &pol.Statements[i]
		st.compiled = compileStatement(st, vars)
	}
	return pol, nil
}

type parser struct {
	name string
	mode parseMode
}

func (p *parser) errorf(format string, args ...any) error {
	return &ParseError{Policy: p.name, Msg: fmt.Sprintf(format, args...)}
}

// syntaxMsg is AWS's message for a document that is not valid policy JSON.
const syntaxMsg = "Syntax errors in policy."

func (p *parser) policy(doc []byte) (*Policy, error) {
	if !utf8.Valid(doc) {
		return nil, p.errorf(syntaxMsg)
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, p.errorf("%s %s", syntaxMsg, err.Error())
	}
	if root.kind != jObject {
		return nil, p.errorf(syntaxMsg + " The policy document must be a JSON object.")
	}
	pol := &Policy{Name: p.name}
	var stmts *jvalue
	for i := range root.obj {
		kv := &root.obj[i]
		switch kv.key {
		case "Version":
			if kv.val.kind != jString {
				return nil, p.errorf("The policy failed legacy parsing")
			}
			pol.Version = kv.val.str
		case "Id":
			if kv.val.kind != jString {
				return nil, p.errorf(syntaxMsg + " Id must be a string.")
			}
			pol.ID = kv.val.str
		case "Statement":
			stmts = &kv.val
		default:
			return nil, p.errorf("%s Unknown field %s", syntaxMsg, kv.key)
		}
	}
	switch pol.Version {
	case "", Version2008, Version2012:
	default:
		return nil, p.errorf("The policy failed legacy parsing")
	}
	if stmts == nil {
		return nil, p.errorf(syntaxMsg + " Missing required field Statement")
	}
	var list []jvalue
	switch stmts.kind {
	case jObject:
		list = []jvalue{*stmts}
	case jArray:
		list = stmts.arr
	default:
		return nil, p.errorf(syntaxMsg + " Statement must be an object or an array of objects.")
	}
	if len(list) == 0 {
		return nil, p.errorf(syntaxMsg + " Statement must not be empty.")
	}
	sids := make(map[string]bool)
	for i := range list {
		st, err := p.statement(&list[i])
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, p.errorf("Statement IDs (SID) in a single policy must be unique.")
			}
			sids[st.Sid] = true
		}
		pol.Statements = append(pol.Statements, st)
	}
	return pol, nil
}

func (p *parser) statement(v *jvalue) (Statement, error) {
	var st Statement
	if v.kind != jObject {
		return st, p.errorf(syntaxMsg + " Each statement must be a JSON object.")
	}
	var hasEffect bool
	for i := range v.obj {
		kv := &v.obj[i]
		var err error
		switch kv.key {
		case "Sid":
			if kv.val.kind != jString {
				return st, p.errorf(syntaxMsg + " Sid must be a string.")
			}
			st.Sid = kv.val.str
			if p.mode == modeIdentity && !isAlnum(st.Sid) {
				return st, p.errorf("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
			}
		case "Effect":
			if kv.val.kind != jString || (kv.val.str != string(Allow) && kv.val.str != string(Deny)) {
				return st, p.errorf("Invalid effect: %s", kv.val.display())
			}
			st.Effect = Effect(kv.val.str)
			hasEffect = true
		case "Principal":
			st.Principal, err = p.principal(&kv.val)
		case "NotPrincipal":
			st.NotPrincipal, err = p.principal(&kv.val)
		case "Action":
			st.Action, err = p.actions(&kv.val)
		case "NotAction":
			st.NotAction, err = p.actions(&kv.val)
		case "Resource":
			st.Resource, err = p.resources(&kv.val)
		case "NotResource":
			st.NotResource, err = p.resources(&kv.val)
		case "Condition":
			st.Conditions, err = p.conditions(&kv.val)
		default:
			return st, p.errorf("%s Unknown field %s", syntaxMsg, kv.key)
		}
		if err != nil {
			return st, err
		}
	}
	if !hasEffect {
		return st, p.errorf(syntaxMsg + " Missing required field Effect")
	}
	switch {
	case st.Action == nil && st.NotAction == nil:
		return st, p.errorf("Policy statement must contain actions.")
	case st.Action != nil && st.NotAction != nil:
		return st, p.errorf(syntaxMsg + " A statement cannot have both Action and NotAction.")
	case st.Resource != nil && st.NotResource != nil:
		return st, p.errorf(syntaxMsg + " A statement cannot have both Resource and NotResource.")
	case st.Principal != nil && st.NotPrincipal != nil:
		return st, p.errorf(syntaxMsg + " A statement cannot have both Principal and NotPrincipal.")
	}
	return st, p.checkKind(&st)
}

// checkKind checks the elements the policy's kind requires or forbids.
func (p *parser) checkKind(st *Statement) error {
	hasPrincipal := st.Principal != nil || st.NotPrincipal != nil
	hasResource := st.Resource != nil || st.NotResource != nil
	switch p.mode {
	case modeIdentity:
		if hasPrincipal {
			return p.errorf("Policy document should not specify a principal.")
		}
		if !hasResource {
			return p.errorf("Policy statement must contain resources.")
		}
	case modeTrust:
		if hasResource {
			return p.errorf("Has prohibited field Resource")
		}
		if !hasPrincipal {
			return p.errorf("Missing required field Principal")
		}
	case modeResource:
		if !hasPrincipal {
			return p.errorf("Missing required field Principal")
		}
	}
	return nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// stringList reads a string or a non-empty array of strings.
func (p *parser) stringList(v *jvalue, field string) ([]string, error) {
	switch v.kind {
	case jString:
		return []string{v.str}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, p.errorf("%s %s must not be an empty array.", syntaxMsg, field)
		}
		out := make([]string, 0, len(v.arr))
		for i := range v.arr {
			if v.arr[i].kind != jString {
				return nil, p.errorf("%s %s must be a string or an array of strings.", syntaxMsg, field)
			}
			out = append(out, v.arr[i].str)
		}
		return out, nil
	default:
		return nil, p.errorf("%s %s must be a string or an array of strings.", syntaxMsg, field)
	}
}

func (p *parser) actions(v *jvalue) ([]string, error) {
	list, err := p.stringList(v, "Action")
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a == "*" {
			continue
		}
		svc, name, ok := strings.Cut(a, ":")
		if !ok || svc == "" || name == "" || strings.ContainsAny(svc, "*?") {
			return nil, p.errorf("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
	}
	return list, nil
}

func (p *parser) resources(v *jvalue) ([]string, error) {
	list, err := p.stringList(v, "Resource")
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r == "*" {
			continue
		}
		parts := strings.SplitN(r, ":", 6)
		if len(parts) < 6 || parts[0] != "arn" || parts[2] == "" {
			return nil, p.errorf("Resource %s must be in ARN format or \"*\".", r)
		}
		if strings.ContainsAny(parts[2], "*?") {
			return nil, p.errorf("Resource vendor must be fully qualified and cannot contain regexes.")
		}
	}
	return list, nil
}

func (p *parser) principal(v *jvalue) (*Principal, error) {
	pr := &Principal{}
	switch v.kind {
	case jString:
		if v.str != "*" {
			return nil, p.errorf("Invalid principal in policy: %s", v.display())
		}
		pr.Wildcard = true
		return pr, nil
	case jObject:
	default:
		return nil, p.errorf("Invalid principal in policy: %s", v.display())
	}
	if len(v.obj) == 0 {
		return nil, p.errorf("Invalid principal in policy: {}")
	}
	for i := range v.obj {
		kv := &v.obj[i]
		list, err := p.stringList(&kv.val, "Principal")
		if err != nil {
			return nil, err
		}
		switch kv.key {
		case "AWS":
			for _, a := range list {
				if a == "*" {
					pr.Wildcard = true
					continue
				}
				if !isAccountID(a) && !strings.HasPrefix(a, "arn:") {
					return nil, p.errorf("Invalid principal in policy: \"AWS\":%q", a)
				}
			}
			pr.AWS = list
		case "Service":
			pr.Service = list
		case "Federated":
			pr.Federated = list
		case "CanonicalUser":
			// Accepted by AWS for S3; never matches an IAM principal here.
		default:
			return nil, p.errorf("Invalid principal in policy: %q", kv.key)
		}
	}
	return pr, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p *parser) conditions(v *jvalue) ([]Condition, error) {
	if v.kind != jObject {
		return nil, p.errorf(syntaxMsg + " Condition must be a JSON object.")
	}
	var out []Condition
	for i := range v.obj {
		opKV := &v.obj[i]
		op, msg := parseOperator(opKV.key)
		if msg != "" {
			return nil, p.errorf("%s", msg)
		}
		if opKV.val.kind != jObject || len(opKV.val.obj) == 0 {
			return nil, p.errorf("%s Condition operator %s must map condition keys to values.", syntaxMsg, opKV.key)
		}
		seen := make(map[string]bool, len(opKV.val.obj))
		for j := range opKV.val.obj {
			keyKV := &opKV.val.obj[j]
			lk := strings.ToLower(keyKV.key)
			if seen[lk] {
				return nil, p.errorf("%s Duplicate condition key %s under %s.", syntaxMsg, keyKV.key, opKV.key)
			}
			seen[lk] = true
			if svc, rest, ok := strings.Cut(keyKV.key, ":"); !ok || svc == "" || rest == "" {
				return nil, p.errorf("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
			vals, err := p.conditionValues(&keyKV.val, opKV.key, keyKV.key)
			if err != nil {
				return nil, err
			}
			if err := p.checkValues(op, opKV.key, keyKV.key, vals); err != nil {
				return nil, err
			}
			out = append(out, Condition{Operator: opKV.key, Key: keyKV.key, Values: vals})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Operator != out[b].Operator {
			return out[a].Operator < out[b].Operator
		}
		return out[a].Key < out[b].Key
	})
	return out, nil
}

// conditionValues reads a condition value: a string, boolean or number, or
// a non-empty array of them. Booleans and numbers become their JSON text,
// as AWS accepts {"Null": {"k": true}} and {"NumericLessThan": {"k": 10}}.
func (p *parser) conditionValues(v *jvalue, op, key string) ([]string, error) {
	scalar := func(x *jvalue) (string, bool) {
		switch x.kind {
		case jString, jNumber:
			return x.str, true
		case jBool:
			return strconv.FormatBool(x.b), true
		}
		return "", false
	}
	if v.kind == jArray {
		if len(v.arr) == 0 {
			return nil, p.errorf("%s Condition %s on %s has no values.", syntaxMsg, op, key)
		}
		out := make([]string, 0, len(v.arr))
		for i := range v.arr {
			s, ok := scalar(&v.arr[i])
			if !ok {
				return nil, p.errorf("%s Condition values for %s must be strings, numbers or booleans.", syntaxMsg, key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, p.errorf("%s Condition values for %s must be strings, numbers or booleans.", syntaxMsg, key)
	}
	return []string{s}, nil
}

// checkValues rejects values the operator can never use, so that a typo in
// a Deny statement cannot silently disable it.
func (p *parser) checkValues(op operator, opName, key string, vals []string) error {
	for _, v := range vals {
		bad := false
		switch op.family {
		case famNull:
			if strings.Contains(v, "${") {
				return p.errorf("Policy variables are not allowed in the Null condition operator (%s).", key)
			}
			lv := strings.ToLower(v)
			bad = lv != "true" && lv != "false"
		case famBool:
			// Bool accepts policy variables (IAM-OPS), resolved at evaluation.
			lv := strings.ToLower(v)
			bad = lv != "true" && lv != "false" && !strings.Contains(v, "${")
		case famNumeric:
			_, ok := parseNumber(v)
			bad = !ok
		case famDate:
			_, ok := parseDate(v)
			bad = !ok
		case famIP:
			_, ok := parseCIDR(v)
			bad = !ok
		}
		if bad {
			return p.errorf("Invalid value %q for condition %s on %s.", v, opName, key)
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if pf, err := netip.ParsePrefix(s); err == nil {
		return pf.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// --- strict, order-preserving JSON decoding ---

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

type jvalue struct {
	kind jkind
	str  string // string value, or a number's literal text
	b    bool
	arr  []jvalue
	obj  []jkv
}

type jkv struct {
	key string
	val jvalue
}

func (v *jvalue) display() string {
	switch v.kind {
	case jString:
		return v.str
	case jNumber:
		return v.str
	case jBool:
		return strconv.FormatBool(v.b)
	case jNull:
		return "null"
	case jArray:
		return "[...]"
	default:
		return "{...}"
	}
}

// maxDepth bounds nesting so hostile documents cannot exhaust the stack.
const maxDepth = 32

// decodeJSON decodes exactly one JSON value, rejecting duplicate object
// keys and trailing data.
func decodeJSON(doc []byte) (jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jvalue{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jvalue{}, detailf("Unexpected data after the policy document.")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (jvalue, error) {
	if depth > maxDepth {
		return jvalue{}, detailf("The policy document is nested too deeply.")
	}
	tok, err := dec.Token()
	if err != nil {
		return jvalue{}, jsonErr(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := jvalue{kind: jObject}
			seen := make(map[string]bool)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jvalue{}, jsonErr(err)
				}
				key, ok := kt.(string)
				if !ok {
					return jvalue{}, detailf("Object keys must be strings.")
				}
				if seen[key] {
					return jvalue{}, detailf("Duplicate key %q.", key)
				}
				seen[key] = true
				val, err := decodeValue(dec, depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.obj = append(v.obj, jkv{key: key, val: val})
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, jsonErr(err)
			}
			return v, nil
		case '[':
			v := jvalue{kind: jArray}
			for dec.More() {
				val, err := decodeValue(dec, depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.arr = append(v.arr, val)
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, jsonErr(err)
			}
			return v, nil
		default:
			return jvalue{}, detailf("Unexpected %q.", string(t))
		}
	case string:
		return jvalue{kind: jString, str: t}, nil
	case json.Number:
		return jvalue{kind: jNumber, str: t.String()}, nil
	case bool:
		return jvalue{kind: jBool, b: t}, nil
	case nil:
		return jvalue{kind: jNull}, nil
	default:
		return jvalue{}, detailf("Unexpected token %v.", tok)
	}
}

func jsonErr(err error) error {
	if errors.Is(err, io.EOF) {
		return detailf("Unexpected end of the policy document.")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return detailf("Invalid JSON at offset %d.", se.Offset)
	}
	return detailf("Invalid JSON.")
}

// detailError carries a sentence for a ParseError message.
type detailError struct{ msg string }

func (e *detailError) Error() string { return e.msg }

func detailf(format string, args ...any) error {
	return &detailError{msg: fmt.Sprintf(format, args...)}
}
