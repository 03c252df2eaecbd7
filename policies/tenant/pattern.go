package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern is a compiled tenant-id pattern, proven safe by Compile, with its
// analysis. It is immutable and safe for concurrent use.
type Pattern struct {
	src      string
	re       *regexp.Regexp
	alphabet []rune // sorted, disjoint [lo, hi] pairs of the runes it can match
	maxLen   int    // characters
	maxBytes int    // UTF-8 bytes
	longest  string
}

var defaultPattern = func() *Pattern {
	p, err := Compile(DefaultPattern)
	if err != nil {
		panic(err)
	}
	return p
}()

// Default returns the compiled DefaultPattern.
func Default() *Pattern { return defaultPattern }

// Compile compiles a tenant-id pattern ("" means DefaultPattern) and proves
// it safe: it must be anchored (^...$ or \A...\z at the top level, no
// multi-line mode), bound the length of what it matches to MaxLength
// characters, never match the empty string and never match a Forbidden
// character. The proof walks the parsed expression, so it holds for every
// string the pattern accepts. Errors describe the problem without a
// field name (callers prefix one).
func Compile(src string) (*Pattern, error) {
	if src == "" {
		src = DefaultPattern
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %w", err)
	}
	tree, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("does not compile: %w", err)
	}
	if !anchored(tree) {
		return nil, errors.New(`must be anchored: start with ^ and end with $`)
	}
	n, bounded := maxMatchLen(tree)
	if !bounded || n > MaxLength {
		return nil, fmt.Errorf("must bound the tenant length to at most %d characters (use {m,n}, not * or +)", MaxLength)
	}
	alphabet, err := collectAlphabet(tree)
	if err != nil {
		return nil, err
	}
	if re.MatchString("") {
		return nil, errors.New("must not match the empty string")
	}
	p := &Pattern{src: src, re: re, alphabet: alphabet, maxLen: n, maxBytes: maxMatchBytes(tree), longest: longest(tree)}
	if !re.MatchString(p.longest) || utf8.RuneCountInString(p.longest) != n {
		// Empty-width assertions (\b, \B) can make the longest shape
		// unmatchable; a pattern start-up cannot reason about is refused.
		return nil, errors.New(`must admit an id of its maximum length (avoid \b and \B), and match at least one id`)
	}
	return p, nil
}

// String returns the pattern's source.
func (p *Pattern) String() string { return p.src }

// Check reports whether id is a valid tenant id: the fixed rules of
// CheckRunes, then a full match of the pattern. The error wraps
// ErrInvalidTenant and does not echo id.
func (p *Pattern) Check(id string) error {
	if err := CheckRunes(id); err != nil {
		return err
	}
	if !p.re.MatchString(id) {
		return fmt.Errorf("%w: does not match the tenant pattern", ErrInvalidTenant)
	}
	return nil
}

// MatchString reports whether Check accepts id.
func (p *Pattern) MatchString(id string) bool { return p.Check(id) == nil }

// MaxLen is the most characters an id the pattern admits can have.
func (p *Pattern) MaxLen() int { return p.maxLen }

// MaxBytes is the most UTF-8 bytes an id the pattern admits can have (a
// Latin-1 letter such as 'é' is one character and two bytes).
func (p *Pattern) MaxBytes() int { return p.maxBytes }

// Longest returns an id the pattern admits with MaxLen characters, choosing
// at every position the character that grows most when encoded (two-byte
// UTF-8 over one-byte; no admitted character is escaped by JSON), so that
// rendering every profile for it checks the worst case of every size limit
// counted in characters.
func (p *Pattern) Longest() string { return p.longest }

// CheckAlphabet reports an error naming the first character the pattern
// can match that allowed refuses; what names the consumer, e.g.
// `the value of session tag "tenant"`.
func (p *Pattern) CheckAlphabet(what string, allowed func(rune) bool) error {
	for i := 0; i+1 < len(p.alphabet); i += 2 {
		for r := p.alphabet[i]; r <= p.alphabet[i+1]; r++ {
			if !allowed(r) {
				return fmt.Errorf("admits the character %q, which %s does not allow", r, what)
			}
		}
	}
	return nil
}

func anchored(re *syntax.Regexp) bool {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return false
	}
	return re.Sub[0].Op == syntax.OpBeginText && re.Sub[len(re.Sub)-1].Op == syntax.OpEndText
}

// maxMatchLen returns the maximum number of characters re can match and
// whether that number is bounded (by MaxLength).
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
		switch {
		case !ok:
			return 0, false
		case n == 0:
			return 0, true
		case re.Max < 0 || re.Max > MaxLength:
			return 0, false
		}
		return n * re.Max, true
	case syntax.OpConcat, syntax.OpAlternate:
		// A concatenation matches the sum of its parts (bounded), an
		// alternation the longest of its branches.
		acc := 0
		for _, s := range re.Sub {
			n, ok := maxMatchLen(s)
			if !ok {
				return 0, false
			}
			if re.Op == syntax.OpAlternate {
				acc = max(acc, n)
			} else if acc += n; acc > MaxLength {
				return 0, false
			}
		}
		return acc, true
	default: // empty-width operators and OpNoMatch
		return 0, true
	}
}

// maxMatchBytes returns the maximum number of UTF-8 bytes re can match. re
// has passed maxMatchLen and collectAlphabet.
func maxMatchBytes(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(bestVariant(r, re.Flags))
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return utf8.RuneLen(re.Rune[len(re.Rune)-1])
	case syntax.OpCapture, syntax.OpQuest, syntax.OpStar, syntax.OpPlus:
		if re.Op == syntax.OpStar || re.Op == syntax.OpPlus {
			return 0 // bounded only when the sub-expression matches nothing
		}
		return maxMatchBytes(re.Sub[0])
	case syntax.OpRepeat:
		return max(re.Max, 0) * maxMatchBytes(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, s := range re.Sub {
			if re.Op == syntax.OpConcat {
				n += maxMatchBytes(s)
			} else {
				n = max(n, maxMatchBytes(s))
			}
		}
		return n
	default:
		return 0
	}
}

// longest builds a longest string re matches (see Pattern.Longest).
func longest(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			b.WriteRune(bestVariant(r, re.Flags))
		}
		return b.String()
	case syntax.OpCharClass:
		return bestInClass(re.Rune)
	case syntax.OpCapture, syntax.OpQuest, syntax.OpPlus:
		return longest(re.Sub[0])
	case syntax.OpRepeat:
		return strings.Repeat(longest(re.Sub[0]), max(re.Max, re.Min, 0))
	case syntax.OpConcat:
		var b strings.Builder
		for _, s := range re.Sub {
			b.WriteString(longest(s))
		}
		return b.String()
	case syntax.OpAlternate:
		best := ""
		for _, s := range re.Sub {
			if c := longest(s); longer(c, best) {
				best = c
			}
		}
		return best
	default: // OpStar (bounded only when empty), empty-width operators, OpNoMatch
		return ""
	}
}

// longer orders candidates: more characters, then more bytes.
func longer(a, b string) bool {
	na, nb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	return na > nb || (na == nb && len(a) > len(b))
}

// bestVariant returns, for a literal rune, the case variant (under (?i))
// with the longest UTF-8 encoding, preferring r itself.
func bestVariant(r rune, flags syntax.Flags) rune {
	best := r
	if flags&syntax.FoldCase != 0 {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if utf8.RuneLen(f) > utf8.RuneLen(best) {
				best = f
			}
		}
	}
	return best
}

// bestInClass returns the lowest rune of the class with the longest UTF-8
// encoding.
func bestInClass(ranges []rune) string {
	if len(ranges) == 0 {
		return ""
	}
	width := utf8.RuneLen(ranges[len(ranges)-1])
	for i := 0; i+1 < len(ranges); i += 2 {
		if utf8.RuneLen(ranges[i+1]) != width {
			continue
		}
		r := ranges[i]
		for utf8.RuneLen(r) < width {
			r++
		}
		return string(r)
	}
	return ""
}

// collectAlphabet returns the runes re can match as sorted, merged [lo, hi]
// pairs, or an error naming a Forbidden rune it can match.
func collectAlphabet(re *syntax.Regexp) ([]rune, error) {
	var pairs [][2]rune
	var walk func(re *syntax.Regexp) error
	walk = func(re *syntax.Regexp) error {
		switch re.Op {
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			return errors.New("must not use '.' (it matches forbidden characters); use a character class")
		case syntax.OpLiteral:
			for _, r := range re.Rune {
				pairs = append(pairs, [2]rune{r, r})
				if re.Flags&syntax.FoldCase != 0 {
					// (?i): every case variant is matched, e.g. 'k' matches U+212A.
					for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
						pairs = append(pairs, [2]rune{f, f})
					}
				}
			}
		case syntax.OpCharClass:
			for i := 0; i+1 < len(re.Rune); i += 2 {
				pairs = append(pairs, [2]rune{re.Rune[i], re.Rune[i+1]})
			}
		}
		for _, s := range re.Sub {
			if err := walk(s); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(re); err != nil {
		return nil, err
	}
	slices.SortFunc(pairs, func(a, b [2]rune) int { return int(a[0] - b[0]) })
	var out []rune
	for _, p := range pairs {
		if r, bad := forbiddenIn(p[0], p[1]); bad {
			return nil, fmt.Errorf("must not match the character %q", r)
		}
		if n := len(out); n > 0 && p[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p[1])
			continue
		}
		out = append(out, p[0], p[1])
	}
	return out, nil
}

// admitsRune reports whether some id the pattern admits holds r.
func (p *Pattern) admitsRune(r rune) bool {
	for i := 0; i+1 < len(p.alphabet); i += 2 {
		if p.alphabet[i] <= r && r <= p.alphabet[i+1] {
			return true
		}
	}
	return false
}

// Names returns the id the pattern admits that f expands to name, if any:
// a name fixed elsewhere (a shared table, say) that is also some tenant's
// own.
func (p *Pattern) Names(f Format, name string) (id string, ok bool) {
	id, ok = strings.CutPrefix(name, f.prefix)
	if ok {
		id, ok = strings.CutSuffix(id, f.suffix)
	}
	if !ok || !p.MatchString(id) {
		return "", false
	}
	return id, true
}

// Overlap reports whether two different formats may expand two different
// admitted ids to the same value — t-{tenant} for "1-archive" and
// t-{tenant}-archive for "1" — and returns the fixed text such ids hold
// beyond each other ("-archive"). It is conservative: the values can only
// meet when one format's text before {tenant} is a prefix of the other's
// and its text after {tenant} a suffix of the other's, and an id then
// holds the difference; Overlap says yes whenever the pattern admits every
// character of that difference.
func (p *Pattern) Overlap(f, g Format) (diff string, ok bool) {
	pre, ok1 := affix(f.prefix, g.prefix, strings.HasPrefix, func(long, short string) string { return long[len(short):] })
	suf, ok2 := affix(f.suffix, g.suffix, strings.HasSuffix, func(long, short string) string { return long[:len(long)-len(short)] })
	diff = pre + suf
	if !ok1 || !ok2 || diff == "" {
		return "", false // the fixed texts differ where no id reaches, or f and g are one format
	}
	for _, r := range diff {
		if !p.admitsRune(r) {
			return "", false
		}
	}
	return diff, true
}

// affix returns what the longer of a and b holds beyond the shorter, when
// has(longer, shorter) (one is a prefix, or a suffix, of the other).
func affix(a, b string, has func(s, x string) bool, rest func(long, short string) string) (string, bool) {
	switch {
	case has(b, a):
		return rest(b, a), true
	case has(a, b):
		return rest(a, b), true
	}
	return "", false
}

// CaseTwins returns two ids the pattern admits that differ only in the case
// of their letters ("t" and "T"), when it finds such: a policy comparing
// tenant values case-insensitively (StringEqualsIgnoreCase) would merge
// them, which sample tenants without letters never show. It tries short
// shapes around each letter the pattern admits in both cases.
func (p *Pattern) CaseTwins() (twins [2]string, ok bool) {
	for i := 0; i+1 < len(p.alphabet); i += 2 {
		for r := p.alphabet[i]; r <= p.alphabet[i+1]; r++ {
			lo, up := unicode.ToLower(r), unicode.ToUpper(r)
			if r != lo || lo == up || !p.admitsRune(up) {
				continue
			}
			for _, shape := range []string{"%c", "%c%c", "t%c", "%c1", "1%c", "0%c", "%c0"} {
				n := strings.Count(shape, "%c")
				a, b := fmt.Sprintf(shape, repeat(lo, n)...), fmt.Sprintf(shape, repeat(up, n)...)
				if p.MatchString(a) && p.MatchString(b) {
					return [2]string{a, b}, true
				}
			}
		}
	}
	return twins, false
}

func repeat(r rune, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = r
	}
	return out
}
