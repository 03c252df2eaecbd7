// Package claimpath parses and resolves the claim paths of the broker's
// configuration (auth.tenant_claim, auth.subject_claim): which member of a
// verified JWT's claims holds a value. It is the one home of the syntax;
// configuration validation parses every path at start-up with Parse and the
// verifier resolves the parsed Path.
//
// # Syntax
//
// A path is at most MaxBytes bytes of valid UTF-8 without control
// characters. An unescaped '.' separates object keys; "\." is a literal dot
// inside a key and "\\" a literal backslash; a backslash before anything
// else, or at the end, is an error. Examples:
//
//	tenant_id                    the top-level claim "tenant_id"
//	custom:tenant_id             the top-level claim "custom:tenant_id"
//	org.tenant                   {"org": {"tenant": ...}}, or a top-level "org.tenant" (never both)
//	kubernetes\.io.namespace     {"kubernetes.io": {"namespace": ...}}  (a Kubernetes service-account token)
//	a\\b                         the top-level claim `a\b`
//
// # Resolution
//
// A path without a backslash means what plain claim names always meant: the
// top-level claim of exactly that name when there is one (so
// "https://example.com/tenant" names a top-level claim), otherwise the
// nested path of its '.'-separated keys. A token that has both — a
// top-level "org.tenant" and {"org": {"tenant": ...}} — is ambiguous and
// resolves to nothing (ErrAmbiguous): whoever can add a top-level claim
// must not be able to choose which value wins. A path with a backslash is exact:
// its keys, and nothing else, are looked up, from the top level down. Every
// key but the last must hold a JSON object. Empty keys ("a..b") are keys
// like any other.
//
// # Concurrency
//
// A Path is an immutable value, safe for concurrent use.
package claimpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxBytes bounds the text of a path.
const MaxBytes = 256

// Separator separates keys; Escape makes the next Separator or Escape
// literal.
const (
	Separator = '.'
	Escape    = '\\'
)

// Path is a parsed claim path. The zero Path is invalid: it finds nothing.
type Path struct {
	text string
	keys []string
	// exact is set for a path written with a backslash: only keys is
	// looked up, never text as a top-level name.
	exact bool
}

// Parse parses text as a claim path, or says why it is not one.
func Parse(text string) (Path, error) {
	switch {
	case text == "":
		return Path{}, errors.New("required")
	case len(text) > MaxBytes:
		return Path{}, fmt.Errorf("longer than %d bytes", MaxBytes)
	case !utf8.ValidString(text):
		return Path{}, errors.New("not valid UTF-8")
	case strings.IndexFunc(text, unicode.IsControl) >= 0:
		return Path{}, errors.New("contains a control character")
	}
	if !strings.ContainsRune(text, Escape) {
		return Path{text: text, keys: strings.Split(text, string(Separator))}, nil
	}
	var (
		keys []string
		key  strings.Builder
	)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case Separator:
			keys = append(keys, key.String())
			key.Reset()
		case Escape:
			if i+1 == len(text) || (text[i+1] != Separator && text[i+1] != Escape) {
				return Path{}, fmt.Errorf(`a backslash at byte %d escapes nothing: write \. for a dot inside a key, \\ for a backslash`, i)
			}
			i++
			key.WriteByte(text[i])
		default:
			key.WriteByte(c)
		}
	}
	keys = append(keys, key.String())
	return Path{text: text, keys: keys, exact: true}, nil
}

// MustParse is Parse for paths known to be valid; it panics otherwise.
func MustParse(text string) Path {
	p, err := Parse(text)
	if err != nil {
		panic(fmt.Sprintf("claimpath: %q: %v", text, err))
	}
	return p
}

// Quote returns the path text that addresses exactly keys, escaping every
// dot and backslash in them. Parse(Quote(keys...)).Keys() equals keys;
// a result without a backslash also means a top-level name (see
// Resolution).
func Quote(keys ...string) string {
	r := strings.NewReplacer(string(Escape), `\\`, string(Separator), `\.`)
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = r.Replace(k)
	}
	return strings.Join(quoted, string(Separator))
}

// String returns the path as written.
func (p Path) String() string { return p.text }

// Keys returns a copy of the object keys the path walks (for a path without
// a backslash, after its top-level name is not found).
func (p Path) Keys() []string { return append([]string(nil), p.keys...) }

// Errors of Lookup.
var (
	ErrAbsent    = errors.New("absent")
	ErrAmbiguous = errors.New("both a top-level claim of that name and the nested path exist")
)

// Lookup returns the value the path addresses in claims (see Resolution),
// ErrAbsent when there is none and ErrAmbiguous when a path without a
// backslash finds both a top-level claim and a nested value.
func (p Path) Lookup(claims map[string]any) (any, error) {
	if len(p.keys) == 0 {
		return nil, ErrAbsent
	}
	if p.exact || len(p.keys) == 1 {
		return walk(claims, p.keys)
	}
	top, atTop := claims[p.text]
	nested, err := walk(claims, p.keys)
	switch {
	case atTop && err == nil:
		return nil, ErrAmbiguous
	case atTop:
		return top, nil
	}
	return nested, err
}

// walk follows keys from claims down: every key but the last must hold a
// JSON object.
func walk(claims map[string]any, keys []string) (any, error) {
	var cur any = claims
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, ErrAbsent
		}
		if cur, ok = obj[k]; !ok {
			return nil, ErrAbsent
		}
	}
	return cur, nil
}
