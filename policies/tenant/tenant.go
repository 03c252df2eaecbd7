// Package tenant is the tenant model: the one home of the rules a tenant id
// obeys, shared by configuration validation, JWT verification, vending,
// policy templates, the isolation proof and the tvm-broker commands.
//
// A tenant id is 1 to MaxLength characters, none of them forbidden
// (Forbidden: IAM wildcards, policy-variable and JSON/ARN metacharacters,
// whitespace, control characters and anything outside Latin-1, the
// character set STS accepts in a policy). On top of that fixed rule, a
// deployment configures a Pattern (DefaultPattern unless set): an anchored
// regular expression that Compile proves, on its syntax tree, can only match
// ids obeying the fixed rule. Pattern.Check applies both at run time as
// defence in depth, so the compile-time proof and the run-time check use the
// same Forbidden rule and cannot disagree.
//
// A Pattern keeps its analysis — the alphabet it can match, the longest id
// it admits in characters and in UTF-8 bytes, and one longest id — so that
// start-up can check every consumer of tenant ids (a partition-key format, a
// session tag, a table name) against every id the pattern admits.
//
// A Format is a string with exactly one {tenant} placeholder, such as the
// DynamoDB leading-key format "Tenant#{tenant}".
//
// Errors about a tenant id wrap ErrInvalidTenant and never echo the id: it
// is attacker input.
//
// # Concurrency
//
// A *Pattern and a Format are immutable and safe for concurrent use.
package tenant

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultPattern is the tenant-id pattern used when none is configured: an
// ASCII letter or digit followed by up to 63 letters, digits, '_' or '-'.
const DefaultPattern = `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`

// MaxLength is the most characters a tenant id may have, whatever the
// pattern says; a pattern must bound its matches to it.
const MaxLength = 128

// Placeholder is the marker a Format contains exactly once.
const Placeholder = "{tenant}"

// ProofTenants are the default sample tenants of the isolation proof: "12"
// extends "1", so a template that matches keys by prefix or wildcard (the
// published `{tenant}*` StringLike bug) shows up as a leak.
var ProofTenants = [2]string{"1", "12"}

// ErrInvalidTenant is wrapped by every error about a tenant id.
var ErrInvalidTenant = errors.New("invalid tenant id")

// ErrInvalidFormat is wrapped by every error about a Format.
var ErrInvalidFormat = errors.New("invalid tenant format")

// forbiddenRunes may never appear in a tenant id: IAM wildcards, the
// policy-variable marker, JSON and ARN/path delimiters, and the braces of
// placeholders.
const forbiddenRunes = `*?"$/\{}`

// forbiddenRanges are never allowed in a tenant id: C0 controls and space,
// DEL, C1 controls and no-break space (all whitespace and control characters
// of Latin-1), and everything above U+00FF (outside STS's policy character
// set).
var forbiddenRanges = [][2]rune{{0, 0x20}, {0x7f, 0xa0}, {0x100, utf8.MaxRune}}

// Forbidden reports whether r may never appear in a tenant id: one of
// * ? " $ / \ { }, whitespace, a control character, or a character above
// U+00FF. It is the one rule both Compile's proof and Check apply.
func Forbidden(r rune) bool {
	_, bad := forbiddenIn(r, r)
	return bad
}

// forbiddenIn returns a forbidden rune within [lo, hi], if any.
func forbiddenIn(lo, hi rune) (rune, bool) {
	for _, f := range forbiddenRanges {
		if lo <= f[1] && f[0] <= hi {
			return max(lo, f[0]), true
		}
	}
	for _, r := range forbiddenRunes {
		if lo <= r && r <= hi {
			return r, true
		}
	}
	return 0, false
}

// CheckRunes applies the fixed rules alone, whatever the pattern: id is
// valid UTF-8, 1 to MaxLength characters, none of them Forbidden. The
// error wraps ErrInvalidTenant and does not echo id.
func CheckRunes(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTenant)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidTenant)
	}
	n := 0
	for i, r := range id {
		n++
		if n > MaxLength {
			return fmt.Errorf("%w: longer than %d characters", ErrInvalidTenant, MaxLength)
		}
		if !Forbidden(r) {
			continue
		}
		switch {
		case strings.ContainsRune(forbiddenRunes, r):
			return fmt.Errorf("%w: forbidden character %q", ErrInvalidTenant, r)
		case r > 0xFF:
			return fmt.Errorf("%w: character outside Latin-1 at offset %d", ErrInvalidTenant, i)
		default:
			return fmt.Errorf("%w: whitespace or control character at offset %d", ErrInvalidTenant, i)
		}
	}
	return nil
}

// Format is a string with exactly one {tenant}, e.g. "Tenant#{tenant}".
// The zero Format is not valid; use ParseFormat.
type Format struct {
	prefix, suffix string
	ok             bool
}

// ParseFormat parses s: it must contain {tenant} exactly once and none of
// * ? $ " \ or a control character (wildcards, policy-variable syntax, JSON
// delimiters). Errors match ErrInvalidFormat with errors.Is; their text is
// the bare problem ("must contain ..."), for callers to prefix a field.
func ParseFormat(s string) (Format, error) {
	if n := strings.Count(s, Placeholder); n != 1 {
		return Format{}, formatError(fmt.Sprintf(`must contain "%s" exactly once, found %d`, Placeholder, n))
	}
	if !utf8.ValidString(s) || strings.ContainsAny(s, `*?$"\`) || strings.IndexFunc(s, isControl) >= 0 {
		return Format{}, formatError(`must not contain * ? $ " \ or control characters`)
	}
	prefix, suffix, _ := strings.Cut(s, Placeholder)
	return Format{prefix: prefix, suffix: suffix, ok: true}, nil
}

// MustParseFormat is ParseFormat for constants; it panics on error.
func MustParseFormat(s string) Format {
	f, err := ParseFormat(s)
	if err != nil {
		panic(err)
	}
	return f
}

// formatError is a Format problem; it matches ErrInvalidFormat.
type formatError string

func (e formatError) Error() string        { return string(e) }
func (e formatError) Is(target error) bool { return target == ErrInvalidFormat }

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// Expand returns the format with {tenant} replaced by id. id must already
// be valid (Pattern.Check); Expand does not check it.
func (f Format) Expand(id string) string { return f.prefix + id + f.suffix }

// String returns the format as written.
func (f Format) String() string { return f.prefix + Placeholder + f.suffix }

// IsZero reports whether f is the zero Format (not parsed).
func (f Format) IsZero() bool { return !f.ok }

// FixedBytes is the length in bytes of the format without {tenant}.
func (f Format) FixedBytes() int { return len(f.prefix) + len(f.suffix) }
