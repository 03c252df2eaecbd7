package iam

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// elemKind is the kind of one element of a compiled wildcard pattern.
type elemKind uint8

const (
	elemLit  elemKind = iota // one literal character
	elemAny                  // "?": exactly one character
	elemStar                 // "*": any run of characters
)

// elem is one element of a compiled wildcard pattern.
type elem struct {
	kind elemKind
	r    rune
}

// glob is a compiled wildcard pattern. Literal characters that came from
// policy variables (including ${*}, ${?} and ${$}) are elemLit, so they
// never act as wildcards.
type glob []elem

// compileWildcard compiles a pattern in which '*' and '?' are wildcards and
// every other character is literal.
func compileWildcard(p string) glob {
	g := make(glob, 0, len(p))
	for i := 0; i < len(p); {
		r, size := decodeAt(p, i)
		g = appendWild(g, r)
		i += size
	}
	return g
}

// invalidBase maps each byte of an invalid UTF-8 sequence to its own value
// above the Unicode range, so that distinct invalid bytes never compare
// equal (as they would if both decoded to U+FFFD).
const invalidBase = utf8.MaxRune + 1

// decodeAt decodes the rune at byte offset i of s, byte-exactly for
// invalid UTF-8.
func decodeAt(s string, i int) (rune, int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		r = invalidBase + rune(s[i])
	}
	return r, size
}

func appendWild(g glob, r rune) glob {
	switch r {
	case '*':
		return append(g, elem{kind: elemStar})
	case '?':
		return append(g, elem{kind: elemAny})
	default:
		return append(g, elem{kind: elemLit, r: r})
	}
}

func appendLiteral(g glob, s string) glob {
	for i := 0; i < len(s); {
		r, size := decodeAt(s, i)
		g = append(g, elem{kind: elemLit, r: r})
		i += size
	}
	return g
}

// hasWild reports whether g contains any wildcard element.
func (g glob) hasWild() bool {
	for _, e := range g {
		if e.kind != elemLit {
			return true
		}
	}
	return false
}

// literal returns g's characters when g has no wildcard.
func (g glob) literal() string {
	var b strings.Builder
	b.Grow(len(g))
	for _, e := range g {
		if e.r >= invalidBase {
			b.WriteByte(byte(e.r - invalidBase))
			continue
		}
		b.WriteRune(e.r)
	}
	return b.String()
}

// match reports whether s matches g; fold makes literal comparison
// case-insensitive (Unicode simple folding). It allocates nothing: a
// greedy scan that, on a mismatch, lets the last '*' absorb one more
// character, which is exact for patterns made of literals, '?' and '*'
// and takes O(len(g)*len(s)) time at worst.
func (g glob) match(s string, fold bool) bool {
	pi, si := 0, 0
	star, starSi := -1, 0
	for si < len(s) {
		r, size := decodeAt(s, si)
		if pi < len(g) {
			e := g[pi]
			if e.kind == elemStar {
				star, starSi = pi, si
				pi++
				continue
			}
			if e.kind == elemAny || e.matchLit(r, fold) {
				pi++
				si += size
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, sz := decodeAt(s, starSi)
		starSi += sz
		si, pi = starSi, star+1
	}
	for pi < len(g) && g[pi].kind == elemStar {
		pi++
	}
	return pi == len(g)
}

func (e elem) matchLit(r rune, fold bool) bool {
	if e.r == r {
		return true
	}
	return fold && e.r < invalidBase && r < invalidBase && runeEqualFold(e.r, r)
}

// runeEqualFold reports whether a and b are equal under Unicode simple
// case folding, as strings.EqualFold compares runes.
func runeEqualFold(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// pattern is a compiled action or condition-value pattern.
type pattern struct {
	all   bool   // "*" (actions only)
	isLit bool   // no wildcard: compare lit
	lit   string // the literal text when isLit
	g     glob
}

func newPattern(g glob) pattern {
	if !g.hasWild() {
		return pattern{isLit: true, lit: g.literal(), g: g}
	}
	return pattern{g: g}
}

func (p *pattern) match(s string, fold bool) bool {
	switch {
	case p.all:
		return true
	case p.isLit:
		if fold && utf8.ValidString(p.lit) && utf8.ValidString(s) {
			return strings.EqualFold(p.lit, s)
		}
		return p.lit == s
	default:
		return p.g.match(s, fold)
	}
}

// compileAction compiles an action pattern ("dynamodb:Get*", "*").
func compileAction(a string) pattern {
	if a == "*" {
		return pattern{all: true}
	}
	return newPattern(compileWildcard(a))
}

// MatchAction reports whether an action pattern from a policy ("dynamodb:Get*",
// "*", "s3:?etObject") matches an action ("dynamodb:GetItem"). Matching is
// case-insensitive; '*' matches any run of characters and '?' exactly one.
func MatchAction(pattern, action string) bool {
	p := compileAction(pattern)
	return p.match(action, true)
}

// MatchResource reports whether a resource pattern from a policy matches a
// resource ARN, case-sensitively. An ARN has six colon-separated components
// (arn:partition:service:region:account:resource), the last of which may
// itself contain colons. Each component of the pattern is matched against
// the same component of the ARN, '*' matching any run of characters
// (including '/', and ':' inside the resource component) and '?' exactly one.
// A pattern with fewer than six components whose last component ends in
// '*' lets that '*' expand beyond the colon boundaries, so "*" and
// "arn:aws:dynamodb:*" match every ARN of their scope. Hence
// "arn:aws:dynamodb:*:123456789012:table/T/*" matches the table's index and
// stream ARNs, and "table/T/index/*" only its indexes.
func MatchResource(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	p := compileARN(compileWildcard(pattern))
	return p.match(arn)
}

// arnPattern is an ARN pattern split into its (at most six) components.
// ArnLike and ArnEquals conditions use it too: AWS checks each of the six
// components separately.
type arnPattern struct {
	parts []pattern
	// spans is true when the pattern has fewer than six components and its
	// last one ends in '*', which then spans the remaining components.
	spans bool
}

func compileARN(g glob) arnPattern {
	gs := splitGlob(g, 6)
	p := arnPattern{parts: make([]pattern, len(gs))}
	for i, part := range gs {
		p.parts[i] = newPattern(part)
	}
	last := gs[len(gs)-1]
	p.spans = len(gs) < 6 && len(last) > 0 && last[len(last)-1].kind == elemStar
	return p
}

// match matches an ARN component by component; see MatchResource.
func (p *arnPattern) match(arn string) bool {
	n := len(p.parts)
	rest := arn
	for i := 0; i < n-1; i++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 || !p.parts[i].match(rest[:j], false) {
			return false
		}
		rest = rest[j+1:]
	}
	if !p.spans && n < 6 && strings.IndexByte(rest, ':') >= 0 {
		return false
	}
	return p.parts[n-1].match(rest, false)
}

// splitGlob splits g at literal ':' into at most n parts.
func splitGlob(g glob, n int) []glob {
	var parts []glob
	start := 0
	for i, e := range g {
		if len(parts) == n-1 {
			break
		}
		if e.kind == elemLit && e.r == ':' {
			parts = append(parts, g[start:i])
			start = i + 1
		}
	}
	return append(parts, g[start:])
}
