package vend

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tvmkit/tvm/policies"
)

// STS identifier limits: RoleSessionName and SourceIdentity are 2-64
// characters of [\w+=,.@-] (ASCII \w).
const (
	minNameLen = 2
	maxNameLen = 64
	// maxProfileInName bounds the profile part of a per-tenant session name.
	maxProfileInName = 20
	hashLen          = 8
)

// hash8 returns the first 8 hex digits of sha256(s).
func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// nameChar reports whether r is allowed in a RoleSessionName or SourceIdentity.
func nameChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}

// cleanName reports whether s consists only of allowed name characters.
func cleanName(s string) bool {
	for _, r := range s {
		if !nameChar(r) {
			return false
		}
	}
	return true
}

// sanitizeName replaces every character outside [\w+=,.@-] with '_' (one
// '_' per rune, so invalid UTF-8 bytes each become one '_').
func sanitizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if nameChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fitName returns s unchanged when it is clean and its length is in
// [minLen, maxLen]. Otherwise it returns a sanitized prefix of s followed by
// "." and hash8(s), at most maxLen long, so that two different inputs still
// give different results (up to the 32-bit hash). maxLen must be >= 10.
func fitName(s string, minLen, maxLen int) string {
	if n := len(s); n >= minLen && n <= maxLen && cleanName(s) {
		return s
	}
	prefix := sanitizeName(s)
	if room := maxLen - hashLen - 1; len(prefix) > room {
		prefix = prefix[:room] // ASCII only after sanitizing
	}
	return prefix + "." + hash8(s)
}

// sessionName builds the RoleSessionName:
//   - per-subject sessions: t-<tenant>-<hash8(subject)>
//   - per-tenant sessions:  t-<tenant>-<profile>
//
// The tenant and profile parts are kept verbatim when they are clean and
// fit, else shortened by fitName. The result is always 11-64 characters of
// [\w+=,.@-].
func sessionName(tenant, profile, subject string, perSubject bool) string {
	var suffix string
	if perSubject {
		suffix = hash8(subject)
	} else {
		suffix = fitName(profile, 1, maxProfileInName)
	}
	room := maxNameLen - len("t-") - len("-") - len(suffix)
	return "t-" + fitName(tenant, 1, room) + "-" + suffix
}

// sourceIdentity derives AssumeRole's SourceIdentity from the subject:
// 2-64 characters of [\w+=,.@-]; since ':' is never kept it cannot start
// with "aws:".
func sourceIdentity(subject string) string {
	return fitName(subject, minNameLen, maxNameLen)
}

// tagValueChar reports whether r is allowed in a session tag value
// ([\p{L}\p{Z}\p{N}_.:/=+\-@]).
func tagValueChar(r rune) bool {
	if r == utf8.RuneError {
		return false
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// tagValue substitutes {tenant} and {subject} in template, replaces every
// character outside the tag value set with '_' and truncates the result to
// 256 characters.
func tagValue(template, tenant, subject string) string {
	v := strings.NewReplacer(policies.TenantPlaceholder, tenant, placeholderSubject, subject).Replace(template)
	var b strings.Builder
	n := 0
	for _, r := range v {
		if n == maxTagValueLen {
			break
		}
		if !tagValueChar(r) {
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
