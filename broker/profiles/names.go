package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies/stsrules"
	"github.com/tvmkit/tvm/policies/tenant"
)

// The names and tags of a tenant's session live here, in one place: vend
// sends them to STS, and the isolation proof evaluates the session they
// make (its principal ARN, aws:userid, aws:SourceIdentity and
// aws:PrincipalTag/* keys).

// Session-name layout. STS's limits (RoleSessionName and SourceIdentity are
// 2-64 characters of [\w+=,.@-]) are stsrules'.
const (
	// maxProfileInName bounds the profile part of a per-tenant session name.
	maxProfileInName = 20
	hashLen          = 8
)

// hash8 returns the first 8 hex digits of sha256(s).
func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// cleanName reports whether s consists only of allowed name characters.
func cleanName(s string) bool {
	for _, r := range s {
		if !stsrules.NameRune(r) {
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
		if stsrules.NameRune(r) {
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

// SessionName builds the RoleSessionName:
//   - per-subject sessions: t-<tenant>-<hash8(subject)>
//   - per-tenant sessions:  t-<tenant>-<profile>
//
// The tenant and profile parts are kept verbatim when they are clean and
// fit, else shortened by fitName. The result is always 11-64 characters of
// [\w+=,.@-].
func SessionName(tenantID, profile, subject string, perSubject bool) string {
	var suffix string
	if perSubject {
		suffix = hash8(subject)
	} else {
		suffix = fitName(profile, 1, maxProfileInName)
	}
	room := stsrules.MaxNameLen - len("t-") - len("-") - len(suffix)
	return "t-" + fitName(tenantID, 1, room) + "-" + suffix
}

// SourceIdentity derives AssumeRole's SourceIdentity from the subject:
// 2-64 characters of [\w+=,.@-]; since ':' is never kept it cannot start
// with "aws:".
func SourceIdentity(subject string) string {
	return fitName(subject, stsrules.MinNameLen, stsrules.MaxNameLen)
}

// TagValue substitutes {tenant} and {subject} in template. Start-up
// (Compile) checked that every admitted tenant id is valid in a tag value
// and that the value fits in stsrules.MaxTagValueLen characters without
// the subject, so only the subject is shortened to the room left. As a
// safety net, every character outside the tag value set then becomes '_'
// and the result is cut to the limit.
func TagValue(template, tenantID, subject string) string {
	if n := strings.Count(template, config.SubjectPlaceholder); n > 0 {
		fixed := utf8.RuneCountInString(strings.NewReplacer(tenant.Placeholder, tenantID, config.SubjectPlaceholder, "").Replace(template))
		subject = firstRunes(subject, max(stsrules.MaxTagValueLen-fixed, 0)/n)
	}
	v := strings.NewReplacer(tenant.Placeholder, tenantID, config.SubjectPlaceholder, subject).Replace(template)
	var b strings.Builder
	n := 0
	for _, r := range v {
		if n == stsrules.MaxTagValueLen {
			break
		}
		if !stsrules.TagRune(r) {
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// firstRunes returns the first n runes of s (an invalid byte counts as one).
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// SessionName returns the RoleSessionName of the session of tenantID and
// subject (subject matters for per-subject profiles only).
func (p *Profile) SessionName(tenantID, subject string) string {
	return SessionName(tenantID, p.name, subject, p.perSubject)
}

// SessionTags returns the session tags of the session of tenantID and
// subject, their values filled in (TagValue), sorted by key.
func (p *Profile) SessionTags(tenantID, subject string) []Tag {
	out := make([]Tag, len(p.tags))
	for i, t := range p.tags {
		out[i] = Tag{Key: t.Key, Value: TagValue(t.Value, tenantID, subject)}
	}
	return out
}
