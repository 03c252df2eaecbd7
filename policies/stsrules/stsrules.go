// Package stsrules holds, in one place, the limits and grammars AWS STS
// imposes on AssumeRole's parameters, and the ARN grammar those parameters
// (and the isolation targets' resource ARNs) use: the session policy's size
// and character set, RoleSessionName and SourceIdentity, session tags and
// transitive tag keys, ExternalId, DurationSeconds and RoleArn (STS API
// reference, AssumeRole; IAM User Guide, "Passing session tags in AWS STS").
//
// Configuration validation, the profile compile step, the policy linter and
// the vending core call these functions; none of them keeps its own copy.
//
// Every function is pure and safe for concurrent use. Error messages never
// echo the value checked (it may be a tenant id or a secret-ish ExternalId).
package stsrules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Session policy limits.
const (
	// MaxPolicySize is the most characters an inline session policy may
	// have (STS counts the plaintext; the SDK does not check it).
	MaxPolicySize = 2048
)

// Session duration bounds (DurationSeconds).
const (
	MinDuration = 15 * time.Minute
	MaxDuration = 12 * time.Hour
)

// RoleSessionName and SourceIdentity: 2-64 characters of [\w+=,.@-].
const (
	MinNameLen = 2
	MaxNameLen = 64
)

// Session tag limits.
const (
	MaxTags              = 50
	MaxTransitiveTagKeys = 50
	MaxTagKeyLen         = 128
	MaxTagValueLen       = 256
	// ReservedTagPrefix may not start a tag key (compared case-insensitively),
	// nor a SourceIdentity.
	ReservedTagPrefix = "aws:"
)

// ExternalId: 2-1224 characters of [\w+=,.@:/-].
const (
	MinExternalIDLen = 2
	MaxExternalIDLen = 1224
)

// RoleArn length bounds.
const (
	MinRoleARNLen = 20
	MaxRoleARNLen = 2048
)

// ARN grammar fragments (regular-expression syntax, unanchored): the
// partition (aws, aws-cn, aws-us-gov, aws-iso-b, ...), the region
// (us-east-1, us-gov-west-1, ...) and the 12-digit account.
const (
	PartitionRE = `aws(?:-[a-z]+)*`
	RegionRE    = `[a-z]{2}(?:-[a-z]+)+-[0-9]+`
	AccountRE   = `[0-9]{12}`
)

var (
	regionRE = regexp.MustCompile(`^` + RegionRE + `$`)
	// role/<path/>name: path and name characters per IAM.
	roleARNRE = regexp.MustCompile(`^arn:` + PartitionRE + `:iam::` + AccountRE + `:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$`)
)

// PolicyRune reports whether STS accepts r in a session policy: U+0009,
// U+000A, U+000D and U+0020-U+00FF.
func PolicyRune(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xFF)
}

// NameRune reports whether r is allowed in a RoleSessionName or a
// SourceIdentity: [\w+=,.@-] with ASCII \w.
func NameRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}

// TagRune reports whether r is allowed in a session tag key or value:
// [\p{L}\p{Z}\p{N}_.:/=+\-@].
func TagRune(r rune) bool {
	if r == utf8.RuneError {
		return false
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// CheckName checks a RoleSessionName or SourceIdentity.
func CheckName(s string) error {
	if n := len(s); n < MinNameLen || n > MaxNameLen {
		return fmt.Errorf("must be %d-%d characters", MinNameLen, MaxNameLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !NameRune(r) }) >= 0 {
		return errors.New(`must consist of [\w+=,.@-]`)
	}
	return nil
}

// CheckTagKey checks a session tag key: 1-128 characters of
// [\p{L}\p{Z}\p{N}_.:/=+\-@], not starting with "aws:".
func CheckTagKey(k string) error {
	if n := utf8.RuneCountInString(k); n < 1 || n > MaxTagKeyLen || !utf8.ValidString(k) || strings.IndexFunc(k, notTagRune) >= 0 {
		return fmt.Errorf("key must be 1-%d characters of letters, digits, spaces and _.:/=+-@", MaxTagKeyLen)
	}
	if strings.HasPrefix(strings.ToLower(k), ReservedTagPrefix) {
		return fmt.Errorf("key must not start with %q (reserved)", ReservedTagPrefix)
	}
	return nil
}

// CheckTagValue checks a session tag value: at most 256 characters of
// [\p{L}\p{Z}\p{N}_.:/=+\-@].
func CheckTagValue(v string) error {
	if utf8.RuneCountInString(v) > MaxTagValueLen || !utf8.ValidString(v) || strings.IndexFunc(v, notTagRune) >= 0 {
		return fmt.Errorf("value must be at most %d characters of letters, digits, spaces and _.:/=+-@", MaxTagValueLen)
	}
	return nil
}

func notTagRune(r rune) bool { return !TagRune(r) }

func notExternalIDRune(r rune) bool { return !ExternalIDRune(r) }

// ExternalIDRune reports whether r is allowed in an ExternalId:
// [\w+=,.@:/-] with ASCII \w.
func ExternalIDRune(r rune) bool { return NameRune(r) || r == ':' || r == '/' }

// CheckExternalID checks an ExternalId: 2-1224 characters of [\w+=,.@:/-].
func CheckExternalID(s string) error {
	if n := len(s); n < MinExternalIDLen || n > MaxExternalIDLen || strings.IndexFunc(s, notExternalIDRune) >= 0 {
		return fmt.Errorf(`must be %d-%d characters of [\w+=,.@:/-]`, MinExternalIDLen, MaxExternalIDLen)
	}
	return nil
}

// CheckDuration checks a session duration: a whole number of seconds
// between MinDuration and MaxDuration.
func CheckDuration(d time.Duration) error {
	if d < MinDuration || d > MaxDuration {
		return fmt.Errorf("must be between %s and %s", MinDuration, MaxDuration)
	}
	if d%time.Second != 0 {
		return errors.New("must be a whole number of seconds")
	}
	return nil
}

// CheckRoleARN checks a RoleArn: 20-2048 characters naming an IAM role,
// arn:<partition>:iam::<account>:role/<path/><name>, with no wildcard.
func CheckRoleARN(s string) error {
	if n := len(s); n < MinRoleARNLen || n > MaxRoleARNLen || !roleARNRE.MatchString(s) || strings.ContainsAny(s, "*?") {
		return errors.New("not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)")
	}
	return nil
}

// CheckRegion checks an AWS region name such as us-east-1.
func CheckRegion(s string) error {
	if !regionRE.MatchString(s) {
		return errors.New("not an AWS region name")
	}
	return nil
}
