package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/policies"
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

// The session-name layout: "t-" + the tenant part + "@" + the suffix.
//
// The tenant part never holds '@' (nor '.' unless shortened), so the first
// '@' ends it and a revocation can match every session of one tenant, and
// no other's, with the StringLike pattern "t-<tenant part>@*" on aws:userid
// (SessionNamePattern): tenants "a" and "a-b" give "t-a@..." and
// "t-a-b@...", which no pattern of the other matches. With '-' as the
// separator they overlapped ("t-a-b-read" is tenant "a", profile "b-read",
// or tenant "a-b", profile "read").
const (
	sessionPrefix = "t-"
	// SessionSeparator ends the tenant part of a session name.
	SessionSeparator = "@"
)

// tenantPart returns the tenant part of a session name with room
// characters at most: tenantID verbatim when it is clean, holds neither
// the separator nor '.', and fits; else a sanitized prefix (separator and
// '.' replaced too) + "." + hash8(tenantID). A verbatim part has no '.'
// and a shortened one has one, so two distinct tenant ids share a part
// only when their 32-bit hashes and sanitized prefixes collide.
func tenantPart(tenantID string, room int) string {
	if n := len(tenantID); n >= 1 && n <= room && cleanName(tenantID) && !strings.ContainsAny(tenantID, SessionSeparator+".") {
		return tenantID
	}
	prefix := strings.NewReplacer(SessionSeparator, "_", ".", "_").Replace(sanitizeName(tenantID))
	if r := room - hashLen - 1; len(prefix) > r {
		prefix = prefix[:r] // ASCII only after sanitizing
	}
	return prefix + "." + hash8(tenantID)
}

// TenantNamePart returns tenantPart(tenantID, room): the tenant's part of
// a session name, for other names that must tell tenants apart the same
// way (a revocation policy's name). room must be at least 10.
func TenantNamePart(tenantID string, room int) string { return tenantPart(tenantID, room) }

// sessionSuffix returns the part after the separator: the profile name
// (shortened by fitName) for per-tenant sessions, hash8(subject) for
// per-subject ones.
func sessionSuffix(profile, subject string, perSubject bool) string {
	if perSubject {
		return hash8(subject)
	}
	return fitName(profile, 1, maxProfileInName)
}

// sessionTenantPart returns the tenant part of the sessions of tenantID
// under a profile: its room depends on the suffix length, and so on the
// profile (never on the subject: every hash8 has hashLen characters).
func sessionTenantPart(tenantID, profile string, perSubject bool) string {
	room := stsrules.MaxNameLen - len(sessionPrefix) - len(SessionSeparator) - len(sessionSuffix(profile, "", perSubject))
	return tenantPart(tenantID, room)
}

// SessionName builds the RoleSessionName:
//   - per-subject sessions: t-<tenant>@<hash8(subject)>
//   - per-tenant sessions:  t-<tenant>@<profile>
//
// The tenant part is kept verbatim when it is clean, holds neither '@' nor
// '.' and fits, else shortened (tenantPart); the profile part is kept
// verbatim when clean and at most 20 characters, else shortened by fitName.
// The result is always 11-64 characters of [\w+=,.@-].
func SessionName(tenantID, profile, subject string, perSubject bool) string {
	return sessionPrefix + sessionTenantPart(tenantID, profile, perSubject) + SessionSeparator + sessionSuffix(profile, subject, perSubject)
}

// SessionNamePattern returns the IAM StringLike pattern that matches the
// name of every session of tenantID under the profile, and of no other
// tenant's session (up to the 32-bit hash of a shortened tenant part): the
// exact name for per-tenant sessions, "t-<tenant part>@*" for per-subject
// ones. Neither part can hold IAM's wildcards '*' and '?'.
func SessionNamePattern(tenantID, profile string, perSubject bool) string {
	if !perSubject {
		return SessionName(tenantID, profile, "", false)
	}
	return sessionPrefix + sessionTenantPart(tenantID, profile, true) + SessionSeparator + "*"
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

// TenantSessions says how to recognise every session of one tenant under
// one profile, and no other tenant's: what a revocation scopes its Deny to.
type TenantSessions struct {
	// TagKeys are the profile's session tags whose value is exactly
	// {tenant} (sorted): each session of the tenant carries TagValue in
	// each of them (aws:PrincipalTag/<key>).
	TagKeys  []string
	TagValue string
	// NamePattern is the StringLike pattern of the session names
	// (SessionNamePattern), to match after "<role id>:" in aws:userid.
	NamePattern string
}

// SessionsOf returns how to recognise the sessions of tenantID under the
// configured profile pc. It reads the configuration only (names, session
// scope, session tags), so it serves a profile whose role cannot be read.
func SessionsOf(pc *config.Profile, tenantID string) TenantSessions {
	ts := TenantSessions{NamePattern: SessionNamePattern(tenantID, pc.Name, pc.Sessions == config.PerSubject)}
	for k, v := range pc.SessionTags {
		if v == tenant.Placeholder {
			ts.TagKeys = append(ts.TagKeys, k)
		}
	}
	if len(ts.TagKeys) > 0 {
		slices.Sort(ts.TagKeys)
		ts.TagValue = TagValue(tenant.Placeholder, tenantID, "")
	}
	return ts
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

// Fingerprint identifies what p's sessions are made of: a change of role,
// template (its document), target settings, extra grants, external id,
// session tags, transitive keys, session scope or source identity changes
// it; a change that only decides who may get a session (allowed_tenants,
// required_scope, durations) or what the proof evaluates (the role policy
// source) does not. Two compiled profiles of one name with the same
// fingerprint vend the same sessions, so credentials cached for one serve
// the other (vend keys its cache by it, and drops the entries of a profile
// whose fingerprint changed on a configuration reload).
func (p *Profile) Fingerprint() string { return p.fingerprint }

// fingerprint computes Profile.Fingerprint from the configuration.
func fingerprint(pc *config.Profile, tmpl *policies.Template) string {
	c := *pc
	c.AllowedTenants, c.RequiredScope, c.DefaultDuration, c.MaxDuration = nil, "", 0, 0
	c.RolePolicyFiles, c.RolePolicyFromIAM = nil, false
	// Target sections by content: neither a node's position nor its style
	// (flow or block) counts.
	targets := map[string]string{}
	for name, n := range pc.Targets {
		targets[name] = nodeContent(&n)
	}
	c.Targets = nil
	digest := ""
	if tmpl != nil {
		digest = tmpl.Name() + ":" + tmpl.Digest()
	}
	data, err := json.Marshal(struct {
		Profile  config.Profile
		Targets  map[string]string
		Template string
	}{c, targets, digest})
	if err != nil { // plain strings, numbers and slices always encode
		panic("profiles: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// nodeContent renders a YAML node's content as JSON (YAML text when it has
// no JSON form, such as a mapping with non-string keys).
func nodeContent(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err == nil {
		if data, err := json.Marshal(v); err == nil {
			return string(data)
		}
	}
	data, err := yaml.Marshal(n)
	if err != nil {
		return "invalid: " + err.Error()
	}
	return string(data)
}
