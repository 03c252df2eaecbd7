package dynamo

import (
	"fmt"
	"strings"
)

// keyCond is one condition of a parsed KeyConditionExpression: an
// attribute (placeholders resolved), an operator ("=", "<", "<=", ">", ">=",
// "BETWEEN" or "begins_with") and its value placeholders.
type keyCond struct {
	Attr   string
	Op     string
	Values []string // ":name" placeholders, unresolved
}

type tokenKind int

const (
	tkEOF tokenKind = iota
	tkName
	tkNamePH  // #name
	tkValuePH // :name
	tkLParen
	tkRParen
	tkComma
	tkOp
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// singleTokens are the one-character tokens.
var singleTokens = map[byte]tokenKind{'(': tkLParen, ')': tkRParen, ',': tkComma, '=': tkOp}

// tokenize splits a key condition expression. Attribute names that are not
// plain identifiers (dots, brackets, dashes, non-ASCII) must be written as
// #placeholders, as DynamoDB requires in key conditions, so anything else is
// a syntax error.
func tokenize(s string) ([]token, error) {
	out := make([]token, 0, 8) // "PK = :v AND SK > :s" and its end: one allocation
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case singleTokens[c] != 0:
			out = append(out, token{singleTokens[c], s[i : i+1], i})
			i++
		case c == '<' || c == '>':
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '=' || c == '<' && s[i+1] == '>') {
				op += string(s[i+1])
			}
			out = append(out, token{tkOp, op, i})
			i += len(op)
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, kcErr("Syntax error; token: %q, near: %q", string(c), near(s, i))
			}
			kind := tkNamePH
			if c == ':' {
				kind = tkValuePH
			}
			out = append(out, token{kind, s[i:j], i})
			i = j
		case isNameByte(c):
			j := i
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			out = append(out, token{tkName, s[i:j], i})
			i = j
		default:
			return nil, kcErr("Invalid character encountered; near: %q", near(s, i))
		}
	}
	return append(out, token{tkEOF, "<EOF>", len(s)}), nil
}

func near(s string, i int) string {
	i = min(max(i, 0), len(s))
	end := min(i+10, len(s))
	return s[i:end]
}

type kcParser struct {
	expr string
	toks []token
	i    int
	out  []keyCond
}

func (p *kcParser) peek() token { return p.toks[p.i] }
func (p *kcParser) next() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func isKeyword(t token, kw string) bool { return t.kind == tkName && strings.EqualFold(t.text, kw) }

// parseKeyConditionExpression parses a KeyConditionExpression into its
// conditions. It accepts DynamoDB's key-condition grammar: at most a few
// conditions joined by AND, each `path op :v` (either order for
// comparisons), `path BETWEEN :a AND :b` or `begins_with(path, :v)`, with any
// parentheses. OR, NOT, IN and other functions are not allowed in key
// conditions. Messages follow DynamoDB's wording.
func parseKeyConditionExpression(expr string) ([]keyCond, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, kcErr("Invalid KeyConditionExpression: %s", err.Error())
	}
	p := &kcParser{expr: expr, toks: toks}
	if p.peek().kind == tkEOF {
		return nil, kcErr("Invalid KeyConditionExpression: The expression can not be empty;")
	}
	if err := p.conj(0); err != nil {
		return nil, kcErr("Invalid KeyConditionExpression: %s", err.Error())
	}
	if t := p.peek(); t.kind != tkEOF {
		return nil, kcErr("Invalid KeyConditionExpression: %s", unexpected(t, expr))
	}
	return p.out, nil
}

func unexpected(t token, expr string) string {
	if isKeyword(t, "OR") || isKeyword(t, "NOT") || isKeyword(t, "IN") {
		return "Invalid operator used in KeyConditionExpression: " + strings.ToUpper(t.text)
	}
	return fmt.Sprintf("Syntax error; token: %q, near: %q", t.text, near(expr, t.pos))
}

const maxKeyCondDepth = 32

func (p *kcParser) conj(depth int) error {
	if err := p.primary(depth); err != nil {
		return err
	}
	for isKeyword(p.peek(), "AND") {
		p.next()
		if err := p.primary(depth); err != nil {
			return err
		}
	}
	if t := p.peek(); t.kind != tkEOF && t.kind != tkRParen {
		return kcErr("%s", unexpected(t, p.expr))
	}
	return nil
}

// primary parses one condition, or a parenthesized conjunction.
func (p *kcParser) primary(depth int) error {
	if depth > maxKeyCondDepth {
		return kcErr("The expression has too many nested parentheses")
	}
	t := p.peek()
	switch {
	case t.kind == tkLParen:
		p.next()
		if err := p.conj(depth + 1); err != nil {
			return err
		}
		return p.expect(tkRParen, ")")
	case isKeyword(t, "begins_with") && p.toks[p.i+1].kind == tkLParen:
		return p.beginsWith(t)
	case t.kind == tkName && p.toks[p.i+1].kind == tkLParen:
		return kcErr("Invalid function name; function: %s", t.text)
	case isKeyword(t, "NOT") || isKeyword(t, "OR") || isKeyword(t, "IN"):
		return kcErr("Invalid operator used in KeyConditionExpression: %s", strings.ToUpper(t.text))
	}
	return p.comparison()
}

// expect consumes the next token, which must be of kind; text is how the
// message names it.
func (p *kcParser) expect(kind tokenKind, text string) error {
	if c := p.next(); c.kind != kind {
		return kcErr("Syntax error; token: %q, expected: %q", c.text, text)
	}
	return nil
}

// beginsWith parses begins_with(path, :v); fn is the function name token.
func (p *kcParser) beginsWith(fn token) error {
	if fn.text != "begins_with" { // function names are case-sensitive
		return kcErr("Invalid function name; function: %s", fn.text)
	}
	p.next()
	p.next()
	path, err := p.path()
	if err != nil {
		return err
	}
	if err := p.expect(tkComma, ","); err != nil {
		return err
	}
	v, err := p.value()
	if err != nil {
		return err
	}
	if err := p.expect(tkRParen, ")"); err != nil {
		return err
	}
	p.out = append(p.out, keyCond{Attr: path, Op: "begins_with", Values: []string{v}})
	return nil
}

// comparison parses `path op :v` (either order) or `path BETWEEN :a AND :b`.
func (p *kcParser) comparison() error {
	left := p.next()
	if err := checkOperand(left); err != nil {
		return err
	}
	op := p.next()
	if isKeyword(op, "BETWEEN") {
		return p.between(left)
	}
	if op.kind != tkOp {
		if isKeyword(op, "IN") || isKeyword(op, "OR") || isKeyword(op, "NOT") {
			return kcErr("Invalid operator used in KeyConditionExpression: %s", strings.ToUpper(op.text))
		}
		return kcErr("Syntax error; token: %q", op.text)
	}
	if op.text == "<>" {
		return kcErr("Invalid operator used in KeyConditionExpression: <>")
	}
	right := p.next()
	if err := checkOperand(right); err != nil {
		return err
	}
	switch {
	case left.kind != tkValuePH && right.kind == tkValuePH:
		p.out = append(p.out, keyCond{Attr: left.text, Op: op.text, Values: []string{right.text}})
	case left.kind == tkValuePH && right.kind != tkValuePH:
		// ":v < SK" is "SK > :v".
		p.out = append(p.out, keyCond{Attr: right.text, Op: mirror(op.text), Values: []string{left.text}})
	default:
		return kcErr("Invalid condition in KeyConditionExpression: %s %s %s; a key condition compares one key attribute with one value",
			left.text, op.text, right.text)
	}
	return nil
}

// between parses the rest of `left BETWEEN :a AND :b`.
func (p *kcParser) between(left token) error {
	if left.kind == tkValuePH {
		return kcErr("Syntax error; token: %q", left.text)
	}
	lo, err := p.value()
	if err != nil {
		return err
	}
	if and := p.next(); !isKeyword(and, "AND") {
		return kcErr("Syntax error; token: %q, expected: \"AND\"", and.text)
	}
	hi, err := p.value()
	if err != nil {
		return err
	}
	p.out = append(p.out, keyCond{Attr: left.text, Op: "BETWEEN", Values: []string{lo, hi}})
	return nil
}

func mirror(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

func (p *kcParser) path() (string, error) {
	t := p.next()
	if t.kind != tkName && t.kind != tkNamePH {
		return "", kcErr("Syntax error; token: %q, expected an attribute name", t.text)
	}
	if err := checkOperand(t); err != nil {
		return "", err
	}
	return t.text, nil
}

// grammarWords are the words of the key-condition grammar; DynamoDB
// reserves them (with many others), so as attribute names they must be
// written as #placeholders.
var grammarWords = []string{"AND", "BETWEEN", "IN", "NOT", "OR"}

func checkOperand(t token) error {
	switch t.kind {
	case tkNamePH, tkValuePH:
		return nil
	case tkName:
		for _, w := range grammarWords {
			if strings.EqualFold(t.text, w) {
				return kcErr("Attribute name is a reserved keyword; reserved keyword: %s", t.text)
			}
		}
		return nil
	}
	return kcErr("Syntax error; token: %q", t.text)
}

func (p *kcParser) value() (string, error) {
	t := p.next()
	if t.kind != tkValuePH {
		return "", kcErr("Syntax error; token: %q, expected an expression attribute value", t.text)
	}
	return t.text, nil
}

// keyConditionError is a key-condition syntax error. Its text is the
// client-facing ValidationException message, in DynamoDB's wording (hence
// capitalized).
type keyConditionError struct{ msg string }

func (e *keyConditionError) Error() string { return e.msg }

func kcErr(format string, args ...any) error {
	return &keyConditionError{msg: fmt.Sprintf(format, args...)}
}
