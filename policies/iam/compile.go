package iam

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"time"
)

// compiled is a statement's patterns, compiled once. src records the
// slices it was compiled from, so that a statement whose slices were
// replaced after Parse is recompiled rather than evaluated stale.
type compiled struct {
	src                     [5]sliceID
	vars                    bool
	actions, notActions     []pattern
	resources, notResources []resourcePattern
	conds                   []compiledCond
}

// sliceID identifies a slice by its first element and length.
type sliceID struct {
	first any
	n     int
}

func idOf[T any](s []T) sliceID {
	if len(s) == 0 {
		return sliceID{}
	}
	return sliceID{first: &s[0], n: len(s)}
}

func sourceOf(st *Statement) [5]sliceID {
	return [5]sliceID{idOf(st.Action), idOf(st.NotAction), idOf(st.Resource), idOf(st.NotResource), idOf(st.Conditions)}
}

// matcher returns st's compiled patterns for a policy of the given version,
// compiling them now when Parse did not (hand-built statements) or when
// the statement changed since.
func (st *Statement) matcher(version string) *compiled {
	vars := version == Version2012
	if c := st.compiled; c != nil && c.vars == vars && c.src == sourceOf(st) {
		return c
	}
	return compileStatement(st, vars)
}

func compileStatement(st *Statement, vars bool) *compiled {
	c := &compiled{src: sourceOf(st), vars: vars}
	for _, a := range st.Action {
		c.actions = append(c.actions, compileAction(a))
	}
	for _, a := range st.NotAction {
		c.notActions = append(c.notActions, compileAction(a))
	}
	for _, r := range st.Resource {
		c.resources = append(c.resources, compileResource(r, vars))
	}
	for _, r := range st.NotResource {
		c.notResources = append(c.notResources, compileResource(r, vars))
	}
	c.conds = make([]compiledCond, len(st.Conditions))
	for i := range st.Conditions {
		c.conds[i] = compileCondition(&st.Conditions[i], vars)
	}
	return c
}

// resourcePattern is a compiled Resource / NotResource entry. An entry
// with policy variables keeps its resource part (after the fifth colon)
// as text, expanded at evaluation.
type resourcePattern struct {
	all  bool
	arn  arnPattern
	head glob   // with variables: the compiled "arn:p:s:r:a:" prefix
	tail string // with variables: the resource part to expand
	vars bool
}

func compileResource(r string, vars bool) resourcePattern {
	if r == "*" {
		return resourcePattern{all: true}
	}
	if !vars || !strings.Contains(r, "${") {
		return resourcePattern{arn: compileARN(compileWildcard(r))}
	}
	head, tail := r, ""
	if parts := strings.SplitN(r, ":", 6); len(parts) == 6 {
		tail = parts[5]
		head = r[:len(r)-len(tail)]
	}
	return resourcePattern{vars: true, head: compileWildcard(head), tail: tail}
}

// compiledCond is a condition with its operator decoded and its values
// prepared for comparison.
type compiledCond struct {
	op    operator
	valid bool // false for an unknown operator (hand-built policies)
	key   string
	vals  []condValue
}

// condValue is one policy value prepared for its operator's comparison.
// A value with a policy variable (dynamic) is expanded at evaluation.
type condValue struct {
	raw     string
	dynamic bool
	pat     pattern    // String family
	arn     arnPattern // Arn family
	num     float64    // Numeric family
	date    time.Time  // Date family
	cidr    netip.Prefix
	bin     []byte
	ok      bool // the value parsed for its family
}

func compileCondition(c *Condition, vars bool) compiledCond {
	op, msg := parseOperator(c.Operator)
	cc := compiledCond{op: op, valid: msg == "", key: c.Key}
	if !cc.valid {
		return cc
	}
	cc.vals = make([]condValue, len(c.Values))
	for i, v := range c.Values {
		cc.vals[i] = compileValue(op, v, vars)
	}
	return cc
}

func compileValue(op operator, v string, vars bool) condValue {
	cv := condValue{raw: v, ok: true}
	if vars && strings.Contains(v, "${") {
		switch op.family {
		case famString, famArn, famBool:
			cv.dynamic = true
			return cv
		}
	}
	switch op.family {
	case famString:
		if op.compare == cmpLike {
			cv.pat = newPattern(compileWildcard(v))
		} else {
			cv.pat = newPattern(appendLiteral(nil, v))
		}
	case famArn:
		cv.arn = compileARN(compileWildcard(v))
	case famNumeric:
		cv.num, cv.ok = parseNumber(v)
	case famDate:
		cv.date, cv.ok = parseDate(v)
	case famIP:
		cv.cidr, cv.ok = parseCIDR(v)
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		cv.bin, cv.ok = b, err == nil
	}
	return cv
}
