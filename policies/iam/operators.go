package iam

import "strings"

// opFamily groups condition operators that share value parsing and matching.
type opFamily uint8

const (
	famString opFamily = iota + 1
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

// opCompare is the comparison an operator performs within its family.
type opCompare uint8

const (
	cmpEquals opCompare = iota + 1
	cmpEqualsIgnoreCase
	cmpLike
	cmpLessThan
	cmpLessThanEquals
	cmpGreaterThan
	cmpGreaterThanEquals
)

// baseOp describes one base operator (without set qualifier or IfExists).
type baseOp struct {
	family  opFamily
	compare opCompare
	// negated operators ("StringNotEquals", "NotIpAddress", ...) are true
	// when the key is absent and combine several values as NOR.
	negated bool
}

// baseOps lists every condition operator AWS documents, keyed by name.
// Operator names are matched case-sensitively, as written in AWS's
// documentation: anything else is an unknown operator and a parse error.
var baseOps = map[string]baseOp{
	"StringEquals":              {famString, cmpEquals, false},
	"StringNotEquals":           {famString, cmpEquals, true},
	"StringEqualsIgnoreCase":    {famString, cmpEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {famString, cmpEqualsIgnoreCase, true},
	"StringLike":                {famString, cmpLike, false},
	"StringNotLike":             {famString, cmpLike, true},

	"NumericEquals":            {famNumeric, cmpEquals, false},
	"NumericNotEquals":         {famNumeric, cmpEquals, true},
	"NumericLessThan":          {famNumeric, cmpLessThan, false},
	"NumericLessThanEquals":    {famNumeric, cmpLessThanEquals, false},
	"NumericGreaterThan":       {famNumeric, cmpGreaterThan, false},
	"NumericGreaterThanEquals": {famNumeric, cmpGreaterThanEquals, false},

	"DateEquals":            {famDate, cmpEquals, false},
	"DateNotEquals":         {famDate, cmpEquals, true},
	"DateLessThan":          {famDate, cmpLessThan, false},
	"DateLessThanEquals":    {famDate, cmpLessThanEquals, false},
	"DateGreaterThan":       {famDate, cmpGreaterThan, false},
	"DateGreaterThanEquals": {famDate, cmpGreaterThanEquals, false},

	"Bool":         {famBool, cmpEquals, false},
	"BinaryEquals": {famBinary, cmpEquals, false},

	"IpAddress":    {famIP, cmpEquals, false},
	"NotIpAddress": {famIP, cmpEquals, true},

	"ArnEquals":    {famArn, cmpLike, false},
	"ArnLike":      {famArn, cmpLike, false},
	"ArnNotEquals": {famArn, cmpLike, true},
	"ArnNotLike":   {famArn, cmpLike, true},

	"Null": {famNull, cmpEquals, false},
}

// setQualifier is the ForAllValues / ForAnyValue prefix of an operator.
type setQualifier uint8

const (
	setNone setQualifier = iota
	setForAll
	setForAny
)

// operator is a fully decoded condition operator.
type operator struct {
	baseOp
	name     string // base name, e.g. "StringEquals"
	set      setQualifier
	ifExists bool
}

// parseOperator decodes an operator as written in a policy, e.g.
// "ForAllValues:StringEqualsIfExists". It returns a message suitable for a
// ParseError when the operator is unknown or not allowed.
func parseOperator(s string) (operator, string) {
	var op operator
	rest := s
	switch {
	case strings.HasPrefix(rest, "ForAllValues:"):
		op.set = setForAll
		rest = strings.TrimPrefix(rest, "ForAllValues:")
	case strings.HasPrefix(rest, "ForAnyValue:"):
		op.set = setForAny
		rest = strings.TrimPrefix(rest, "ForAnyValue:")
	}
	base, ok := baseOps[rest]
	if !ok {
		if trimmed, had := strings.CutSuffix(rest, "IfExists"); had {
			if b, known := baseOps[trimmed]; known {
				base, ok = b, true
				op.ifExists = true
				rest = trimmed
			}
		}
	}
	if !ok {
		return op, "Invalid Condition type : " + s
	}
	if base.family == famNull && (op.ifExists || op.set != setNone) {
		return op, "Invalid Condition type : " + s
	}
	op.baseOp = base
	op.name = rest
	return op, ""
}
