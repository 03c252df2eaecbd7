package iam

import (
	"strings"
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
	for _, r := range decodeRunes(p) {
		g = appendWild(g, r)
	}
	return g
}

// invalidBase maps each byte of an invalid UTF-8 sequence to its own value
// above the Unicode range, so that distinct invalid bytes never compare
// equal (as they would if both decoded to U+FFFD).
const invalidBase = utf8.MaxRune + 1

// decodeRunes decodes s into runes, byte-exactly for invalid UTF-8.
func decodeRunes(s string) []rune {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = invalidBase + rune(s[i])
		}
		out = append(out, r)
		i += size
	}
	return out
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
	for _, r := range decodeRunes(s) {
		g = append(g, elem{kind: elemLit, r: r})
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
// case-insensitive (Unicode simple folding).
func (g glob) match(s string, fold bool) bool {
	if !g.hasWild() {
		lit := g.literal()
		if fold && utf8.ValidString(lit) && utf8.ValidString(s) {
			return strings.EqualFold(lit, s)
		}
		return lit == s
	}
	// Dynamic programming over the subject's runes: cur[j] is true when the
	// pattern prefix processed so far matches the first j runes of s.
	// O(len(g)*len(s)) time, O(len(s)) space, no backtracking blow-up.
	runes := decodeRunes(s)
	n := len(runes)
	prev := make([]bool, n+1)
	cur := make([]bool, n+1)
	prev[0] = true
	for _, e := range g {
		switch e.kind {
		case elemStar:
			cur[0] = prev[0]
			for j := 1; j <= n; j++ {
				cur[j] = prev[j] || cur[j-1]
			}
		default:
			cur[0] = false
			for j := 1; j <= n; j++ {
				cur[j] = prev[j-1] && e.matchOne(runes[j-1], fold)
			}
		}
		prev, cur = cur, prev
	}
	return prev[n]
}

func (e elem) matchOne(r rune, fold bool) bool {
	switch e.kind {
	case elemAny:
		return true
	default:
		if e.r == r {
			return true
		}
		return fold && e.r < invalidBase && r < invalidBase && runeEqualFold(e.r, r)
	}
}

func runeEqualFold(a, b rune) bool {
	var ab, bb [utf8.UTFMax]byte
	return strings.EqualFold(string(ab[:utf8.EncodeRune(ab[:], a)]), string(bb[:utf8.EncodeRune(bb[:], b)]))
}

// MatchAction reports whether an action pattern from a policy ("dynamodb:Get*",
// "*", "s3:?etObject") matches an action ("dynamodb:GetItem"). Matching is
// case-insensitive; '*' matches any run of characters and '?' exactly one.
func MatchAction(pattern, action string) bool {
	if pattern == "*" {
		return true
	}
	return compileWildcard(pattern).match(action, true)
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
	return matchARN(compileWildcard(pattern), arn)
}

// matchARN matches a compiled ARN pattern component by component; see
// MatchResource. ArnLike and ArnEquals conditions use it too: AWS checks
// each of the six components separately.
func matchARN(g glob, arn string) bool {
	pp := splitGlob(g, 6)
	ap := strings.SplitN(arn, ":", 6)
	n := len(pp)
	if len(ap) < n {
		return false
	}
	for i := 0; i < n-1; i++ {
		if !pp[i].match(ap[i], false) {
			return false
		}
	}
	last := pp[n-1]
	if n < 6 && len(last) > 0 && last[len(last)-1].kind == elemStar {
		return last.match(strings.Join(ap[n-1:], ":"), false)
	}
	return len(ap) == n && last.match(ap[n-1], false)
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
