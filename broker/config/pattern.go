package config

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// MaxTenantLength bounds the length of any tenant id a tenant pattern may
// accept.
const MaxTenantLength = 128

// forbiddenTenantRunes may never appear in a tenant id, whatever the pattern:
// IAM wildcards and policy-variable syntax, JSON and path metacharacters.
const forbiddenTenantRunes = `*?"$/\{}`

// forbiddenTenantRanges are rune ranges never allowed in a tenant id:
// C0 controls and space, DEL, C1 controls and no-break space, and anything
// outside the Latin-1 range STS accepts in a policy.
var forbiddenTenantRanges = [][2]rune{{0, 0x20}, {0x7f, 0xa0}, {0x100, utf8.MaxRune}}

// CompileTenantPattern compiles a tenant-id pattern and proves it safe: it
// must be anchored (^...$ or \A...\z at the top level, no multi-line mode),
// bound the length of what it matches to MaxTenantLength, never match the
// empty string and never match a forbidden character (* ? " $ / \ { },
// whitespace, control characters, characters above U+00FF). The proof walks
// the parsed expression, so it holds for every string the pattern accepts.
func CompileTenantPattern(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %w", err)
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %w", err)
	}
	if !anchored(tree) {
		return nil, errors.New(`must be anchored: start with ^ and end with $`)
	}
	n, bounded := maxMatchLen(tree)
	if !bounded || n > MaxTenantLength {
		return nil, fmt.Errorf("must bound the tenant length to at most %d characters (use {m,n}, not * or +)", MaxTenantLength)
	}
	if err := safeRunes(tree); err != nil {
		return nil, err
	}
	if re.MatchString("") {
		return nil, errors.New("must not match the empty string")
	}
	return re, nil
}

func anchored(re *syntax.Regexp) bool {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return false
	}
	return re.Sub[0].Op == syntax.OpBeginText && re.Sub[len(re.Sub)-1].Op == syntax.OpEndText
}

// maxMatchLen returns the maximum number of characters re can match and
// whether that number is bounded.
func maxMatchLen(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune), true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, true
	case syntax.OpCapture, syntax.OpQuest:
		return maxMatchLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		n, ok := maxMatchLen(re.Sub[0])
		return 0, ok && n == 0
	case syntax.OpRepeat:
		n, ok := maxMatchLen(re.Sub[0])
		if !ok {
			return 0, false
		}
		if n == 0 {
			return 0, true
		}
		if re.Max < 0 || re.Max > MaxTenantLength {
			return 0, false
		}
		return n * re.Max, true
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			n, ok := maxMatchLen(s)
			if !ok {
				return 0, false
			}
			total += n
			if total > MaxTenantLength {
				return 0, false
			}
		}
		return total, true
	case syntax.OpAlternate:
		longest := 0
		for _, s := range re.Sub {
			n, ok := maxMatchLen(s)
			if !ok {
				return 0, false
			}
			longest = max(longest, n)
		}
		return longest, true
	default: // empty-width operators and OpNoMatch
		return 0, true
	}
}

// safeRunes reports an error if any node of re can match a forbidden rune.
func safeRunes(re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return errors.New("must not use '.' (it matches forbidden characters); use a character class")
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				// (?i): every case variant is matched, e.g. 'k' matches U+212A.
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					if forbiddenRune(f) {
						return fmt.Errorf("must not match the character %q", f)
					}
				}
			}
			if forbiddenRune(r) {
				return fmt.Errorf("must not match the character %q", r)
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if r, bad := forbiddenInRange(re.Rune[i], re.Rune[i+1]); bad {
				return fmt.Errorf("must not match the character %q", r)
			}
		}
	}
	for _, s := range re.Sub {
		if err := safeRunes(s); err != nil {
			return err
		}
	}
	return nil
}

// forbiddenRune reports whether r may never appear in a tenant id.
func forbiddenRune(r rune) bool {
	_, bad := forbiddenInRange(r, r)
	return bad
}

// forbiddenInRange returns a forbidden rune within [lo, hi], if any.
func forbiddenInRange(lo, hi rune) (rune, bool) {
	for _, f := range forbiddenTenantRanges {
		if lo <= f[1] && f[0] <= hi {
			return max(lo, f[0]), true
		}
	}
	for _, r := range forbiddenTenantRunes {
		if lo <= r && r <= hi {
			return r, true
		}
	}
	return 0, false
}
