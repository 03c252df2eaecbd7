// Package jsondup finds what encoding/json lets pass silently: a member
// name given twice in one JSON object, of which decoding keeps the last.
// The project refuses such input wherever two readers could disagree on
// it: the broker's request bodies (names compared as encoding/json matches
// them to struct fields, case-insensitively), JWT headers and payloads
// (compared exactly, as decoding into a map keys them), and the local
// DynamoDB gateway's API structures. This package is the one home of that
// rule and of encoding/json's name folding.
//
// Its functions hold no state and are safe for concurrent use.
package jsondup

import (
	"unicode"
	"unicode/utf8"
)

// Compare says when two member names are the same name.
type Compare uint8

const (
	// Exact compares names byte for byte, as decoding into a map keys them.
	Exact Compare = iota
	// Fold compares names as encoding/json matches them to struct fields:
	// case-insensitively, with Unicode simple folding (FoldName).
	Fold
)

// FoldName maps s to a canonical case-folded form: each rune becomes the
// smallest rune of its Unicode simple-folding orbit, which is the
// equivalence encoding/json uses to match member names to struct fields
// (bytes.EqualFold on valid UTF-8).
func FoldName(s string) string {
	if f, ok := foldASCII(s); ok {
		return f
	}
	return foldRunes(s)
}

// foldRunes is FoldName for any s.
func foldRunes(s string) string {
	var b []byte
	for _, r := range s {
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < lo {
				lo = f
			}
		}
		b = utf8.AppendRune(b, lo)
	}
	return string(b)
}

// foldASCII is FoldName for an ASCII s (the member names of every real
// request): the smallest rune of an ASCII letter's folding orbit is its
// upper case (K's orbit also holds U+212A KELVIN SIGN and s's U+017F LONG
// S, both larger). ok is false when s holds a non-ASCII byte.
func foldASCII(s string) (f string, ok bool) {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'a' <= c && c <= 'z' {
			upper = false
		}
	}
	if upper {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b), true
}
