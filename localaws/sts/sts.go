// Package sts serves the local AWS's STS endpoint: AssumeRole and
// GetCallerIdentity over the AWS Query protocol.
//
// Wire format: POST / with Content-Type application/x-www-form-urlencoded and
// a body such as
//
//	Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=...&DurationSeconds=900
//	&Policy=...&Tags.member.1.Key=k&Tags.member.1.Value=v&TransitiveTagKeys.member.1=k
//	&ExternalId=...&SourceIdentity=...
//
// (GET with the same parameters in the query string is accepted too), SigV4
// signed for service "sts". Responses are AWS's XML documents in the
// https://sts.amazonaws.com/doc/2011-06-15/ namespace; errors are
// <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>
// with AWS's codes and HTTP statuses. Every response carries x-amzn-RequestId.
//
// AssumeRole enforces every documented parameter constraint (ValidationError),
// the 2,048-character session policy limit and the packed size of the
// session policy and session tags together (PackedPolicyTooLarge; the
// packed size is approximated from plaintext, see packedPercent, and
// returned as PackedPolicySize whenever the session has a policy or tags),
// policy syntax (MalformedPolicyDocument), AWS's authorization rule for
// sts:AssumeRole (and sts:TagSession with tags, sts:SetSourceIdentity with a
// source identity): the role's trust policy must allow; within the role's
// account a trust statement naming the caller itself (user ARN,
// assumed-role session ARN, or the session's role ARN while its session
// policies allow) is enough, one naming the account also needs the caller's
// identity policy; a caller from another account needs both; an explicit
// Deny anywhere wins. Then the role's MaxSessionDuration and the one-hour
// cap of role chaining. It logs one structured line per authorization
// decision.
//
// A Handler is safe for concurrent use.
package sts

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/policies/iam"
	"github.com/tvmkit/tvm/policies/stsrules"
)

// Namespace is the STS XML namespace.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// APIVersion is the only Version accepted.
const APIVersion = "2011-06-15"

// STS's limits that only the local STS applies (STS API reference,
// AssumeRole). The limits the broker shares (lengths, grammars, counts,
// duration bounds, the policy's size and characters) are
// policies/stsrules'.
const (
	// DefaultDuration is AssumeRole's DurationSeconds when none is given.
	DefaultDuration = time.Hour
	// ChainedMaxDuration caps a session assumed by role chaining.
	ChainedMaxDuration = time.Hour
	// maxPolicyARNs bounds PolicyArns.
	maxPolicyARNs = 10
	// SerialNumber (an MFA device's serial number or ARN) is 9-256
	// characters, TokenCode 6 (the STS model's serialNumberType and
	// tokenCodeType). The broker sends neither.
	minSerialNumberLen, maxSerialNumberLen = 9, 256
	tokenCodeLen                           = 6
	DefaultMaxBodyBytes                    = 256 << 10
	// MaxSessionTokenSize is the largest session token STS issues (bytes;
	// the STS API's MinimumSessionTokenSize documentation, September 2026).
	// SessionTokenUtilization is a token's share of it.
	MaxSessionTokenSize = 4096
)

// PolicyPlaintextLimit is the session policy's plaintext limit,
// stsrules.MaxPolicySize.
const PolicyPlaintextLimit = stsrules.MaxPolicySize

// Options configures a Handler.
type Options = awsquery.Options

// Handler is the STS endpoint.
type Handler = awsquery.Endpoint

// New returns an STS handler over opts.Store.
func New(opts Options) (*Handler, error) {
	return awsquery.NewEndpoint(awsquery.Service{
		Name: "sts", Namespace: Namespace, Version: APIVersion, DefaultMaxBodyBytes: DefaultMaxBodyBytes,
		Actions: map[string]awsquery.Action{"AssumeRole": assumeRole, "GetCallerIdentity": getCallerIdentity},
	}, opts)
}

// Error is an STS error response.
type Error = awsquery.Error

func senderErr(status int, code, format string, args ...any) *Error {
	return awsquery.Senderf(status, code, format, args...)
}

// IsRequest reports whether r looks like a Query-protocol request (an Action
// parameter in the query string, or a form-encoded POST).
func IsRequest(r *http.Request) bool { return awsquery.IsRequest(r) }

func getCallerIdentity(c *awsquery.Call) (any, error) {
	return c.Respond(getCallerIdentityResult{Arn: c.Caller.ARN(), UserID: c.Caller.UserID(), Account: c.Caller.Account()}), nil
}

// The patterns STS names in its validation messages; the characters they
// admit are stsrules' (NameRune, ExternalIDRune, TagRune, PolicyRune), the
// RoleArn member's arnRune.
const (
	namePattern         = `[\w+=,.@-]*`
	serialNumberPattern = `[\w+=/:,.@-]*`
	tokenCodePattern    = `[\d]*`
	externalIDPattern   = `[\w+=,.@:\/-]*`
	tagKeyPattern       = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePattern     = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	policyPattern       = `[\u0009\u000A\u000D\u0020-\u00FF]+`
	arnPattern          = `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`
)

// arnRune reports whether STS accepts r in the RoleArn member:
// U+0009, U+000A, U+000D, U+0020-U+007E, U+0085, U+00A0-U+D7FF,
// U+E000-U+FFFD and U+10000-U+10FFFF.
func arnRune(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

var errBadListMember = errors.New("list members must be numbered from 1 without gaps")

// validation collects AWS-style validation messages.
type validation []string

func (v *validation) addf(value, field, constraint string) {
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, field, constraint))
}

func (v *validation) length(value, field string, minLen, maxLen int) bool {
	n := utf8.RuneCountInString(value)
	switch {
	case n < minLen:
		v.addf(value, field, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
		return false
	case n > maxLen:
		v.addf(awsquery.Clip(value, 128), field, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
		return false
	}
	return true
}

// pattern checks that every character of value is allowed (invalid UTF-8
// is U+FFFD); text is the pattern STS names.
func (v *validation) pattern(value, field string, allowed func(rune) bool, text string) {
	if strings.IndexFunc(value, func(r rune) bool { return !allowed(r) }) >= 0 {
		v.addf(value, field, "Member must satisfy regular expression pattern: "+text)
	}
}

// text checks value's length (in characters) and then its characters.
func (v *validation) text(value, field string, minLen, maxLen int, allowed func(rune) bool, pattern string) {
	if v.length(value, field, minLen, maxLen) {
		v.pattern(value, field, allowed, pattern)
	}
}

// tagKey checks a tag key (of Tags or TransitiveTagKeys).
func (v *validation) tagKey(k, field string) {
	v.text(k, field, 1, stsrules.MaxTagKeyLen, stsrules.TagRune, tagKeyPattern)
}

// integer reads the integer parameter param (member field) when present,
// reporting whether it was sent and lies in [minVal, maxVal]; otherwise
// the value is 0.
func (v *validation) integer(p url.Values, param, field string, minVal, maxVal int) (int, bool) {
	if !p.Has(param) {
		return 0, false
	}
	raw := p.Get(param)
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil:
		v.addf(awsquery.Clip(raw, 32), field, "Member must be an integer")
	case n < minVal:
		v.addf(raw, field, fmt.Sprintf("Member must have value greater than or equal to %d", minVal))
	case n > maxVal:
		v.addf(raw, field, fmt.Sprintf("Member must have value less than or equal to %d", maxVal))
	default:
		return n, true
	}
	return 0, false
}

// count checks the length n of a list against maxLen, reporting whether it
// fits.
func (v *validation) count(n int, field string, maxLen int) bool {
	if n <= maxLen {
		return true
	}
	v.addf(strconv.Itoa(n), field, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	return false
}

func (v validation) err() *Error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return senderErr(http.StatusBadRequest, "ValidationError", "%d validation %s detected: %s", len(v), noun, strings.Join(v, "; "))
}

// assumeRoleInput is a parsed and validated AssumeRole request.
type assumeRoleInput struct {
	roleARN           string
	sessionName       string
	duration          time.Duration
	durationSet       bool
	policy            string
	policySet         bool
	policyArns        []string
	tags              []identity.Tag
	transitiveTagKeys []string
	externalID        string
	sourceIdentity    string
	// serialNumber and tokenCode are the MFA parameters; mfaSet is true
	// when either was sent.
	serialNumber, tokenCode string
	mfaSet                  bool
	// providedContexts is true when any ProvidedContexts member was sent.
	providedContexts bool
	// minTokenSize is MinimumSessionTokenSize (0 when not sent).
	minTokenSize int
}

func parseAssumeRole(p url.Values) (*assumeRoleInput, *Error) {
	var v validation
	in := &assumeRoleInput{duration: DefaultDuration}
	if !p.Has("RoleArn") {
		v = append(v, "Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	} else {
		in.roleARN = p.Get("RoleArn")
		v.text(in.roleARN, "roleArn", stsrules.MinRoleARNLen, stsrules.MaxRoleARNLen, arnRune, arnPattern)
	}
	if !p.Has("RoleSessionName") {
		v = append(v, "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	} else {
		in.sessionName = p.Get("RoleSessionName")
		v.text(in.sessionName, "roleSessionName", stsrules.MinNameLen, stsrules.MaxNameLen, stsrules.NameRune, namePattern)
	}
	if n, ok := v.integer(p, "DurationSeconds", "durationSeconds", int(stsrules.MinDuration/time.Second), int(stsrules.MaxDuration/time.Second)); ok {
		in.duration, in.durationSet = time.Duration(n)*time.Second, true
	}
	// MinimumSessionTokenSize: 0 leaves the token's size unchanged.
	in.minTokenSize, _ = v.integer(p, "MinimumSessionTokenSize", "minimumSessionTokenSize", 0, MaxSessionTokenSize)
	if p.Has("ExternalId") {
		in.externalID = p.Get("ExternalId")
		v.text(in.externalID, "externalId", stsrules.MinExternalIDLen, stsrules.MaxExternalIDLen, stsrules.ExternalIDRune, externalIDPattern)
	}
	if p.Has("SerialNumber") {
		in.serialNumber, in.mfaSet = p.Get("SerialNumber"), true
		// [\w+=/:,.@-] is ExternalId's character set.
		v.text(in.serialNumber, "serialNumber", minSerialNumberLen, maxSerialNumberLen, stsrules.ExternalIDRune, serialNumberPattern)
	}
	if p.Has("TokenCode") {
		in.tokenCode, in.mfaSet = p.Get("TokenCode"), true
		v.text(in.tokenCode, "tokenCode", tokenCodeLen, tokenCodeLen, func(r rune) bool { return r >= '0' && r <= '9' }, tokenCodePattern)
	}
	if p.Has("SourceIdentity") {
		in.sourceIdentity = p.Get("SourceIdentity")
		v.text(in.sourceIdentity, "sourceIdentity", stsrules.MinNameLen, stsrules.MaxNameLen, stsrules.NameRune, namePattern)
	}
	if p.Has("Policy") {
		in.policy, in.policySet = p.Get("Policy"), true
		// 1-2,048 characters (the model's sessionPolicyDocumentType): a
		// longer policy fails validation before any packing.
		if v.length(in.policy, "policy", 1, stsrules.MaxPolicySize) &&
			strings.IndexFunc(in.policy, func(r rune) bool { return !stsrules.PolicyRune(r) }) >= 0 {
			v.addf(awsquery.Clip(in.policy, 128), "policy", "Member must satisfy regular expression pattern: "+policyPattern)
		}
	}
	var err error
	if in.policyArns, err = memberList(p, "PolicyArns.member.", ".arn"); err != nil {
		v = append(v, "PolicyArns must be numbered PolicyArns.member.N.arn from 1")
	}
	v.count(len(in.policyArns), "policyArns", maxPolicyARNs)
	if e := parseTags(p, &v, in); e != nil {
		return nil, e
	}
	if in.transitiveTagKeys, err = memberList(p, "TransitiveTagKeys.member.", ""); err != nil {
		v = append(v, "TransitiveTagKeys must be numbered TransitiveTagKeys.member.N from 1")
	}
	v.count(len(in.transitiveTagKeys), "transitiveTagKeys", stsrules.MaxTransitiveTagKeys)
	for i, k := range in.transitiveTagKeys {
		v.tagKey(k, fmt.Sprintf("transitiveTagKeys.%d.member", i+1))
	}
	for k := range p {
		in.providedContexts = in.providedContexts || strings.HasPrefix(k, "ProvidedContexts.")
	}
	if e := v.err(); e != nil {
		return nil, e
	}
	if e := checkReserved(in); e != nil {
		return nil, e
	}
	return in, nil
}

// checkReserved refuses what STS reserves or does not support: tag keys
// and a source identity starting with "aws:", transitive keys that are not
// tags, managed session policies, trusted context assertions.
func checkReserved(in *assumeRoleInput) *Error {
	for _, t := range in.tags {
		if reserved(t.Key) {
			return senderErr(http.StatusBadRequest, "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for AWS use.")
		}
	}
	for _, k := range in.transitiveTagKeys {
		found := false
		for _, t := range in.tags {
			found = found || strings.EqualFold(t.Key, k)
		}
		if !found {
			return senderErr(http.StatusBadRequest, "InvalidParameterValue", "The transitive tag key %s is not present in the session tags.", awsquery.Clip(k, 128))
		}
	}
	if reserved(in.sourceIdentity) {
		return senderErr(http.StatusBadRequest, "ValidationError", "The source identity cannot start with the reserved prefix 'aws:'.")
	}
	if len(in.policyArns) > 0 {
		return senderErr(http.StatusBadRequest, "ValidationError", "Managed session policies (PolicyArns) are not supported by tvm-local: pass an inline Policy.")
	}
	if in.providedContexts {
		// STS verifies the signed, encrypted assertion of a trusted
		// context provider; tvm-local cannot, and an unverified one must
		// not yield credentials.
		return senderErr(http.StatusBadRequest, "ValidationError", "ProvidedContexts (trusted context assertions) are not supported by tvm-local.")
	}
	return nil
}

// checkMFA refuses a request that carries SerialNumber or TokenCode, as
// STS refuses an MFA code it cannot validate: the local AWS has no MFA
// devices, so no serial number is valid and associated with the caller,
// and a code it never checked must not yield credentials. STS's
// AccessDenied messages: "MultiFactorAuthentication failed, must provide
// both MFA serial number and one time pass code." when one is missing,
// "MultiFactorAuthentication failed, unable to validate MFA code.  Please
// verify your MFA serial number is valid and associated with this user."
// for an unknown device (as reported in y13i/sgviz#9 and
// 99designs/aws-vault#676).
func checkMFA(in *assumeRoleInput) *Error {
	switch {
	case !in.mfaSet:
		return nil
	case in.serialNumber == "" || in.tokenCode == "":
		return senderErr(http.StatusForbidden, "AccessDenied",
			"MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.")
	default:
		return senderErr(http.StatusForbidden, "AccessDenied",
			"MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.")
	}
}

// reserved reports whether s starts with stsrules.ReservedTagPrefix
// ("aws:"), in any case.
func reserved(s string) bool {
	return strings.HasPrefix(strings.ToLower(s), stsrules.ReservedTagPrefix)
}

// parseTags reads Tags.member.N.Key / .Value into in.tags, adding
// validation messages to v; duplicate keys (case-insensitive) are an
// InvalidParameterValue error.
func parseTags(p url.Values, v *validation, in *assumeRoleInput) *Error {
	keys, err1 := memberIndex(p, "Tags.member.", ".Key")
	values, err2 := memberIndex(p, "Tags.member.", ".Value")
	n := max(len(keys), len(values))
	numbered := err1 == nil && err2 == nil
	for i := 1; numbered && i <= n; i++ {
		_, hasKey := keys[i]
		_, hasValue := values[i]
		numbered = hasKey || hasValue
	}
	if !numbered {
		*v = append(*v, "Tags must be numbered Tags.member.N.Key / Tags.member.N.Value from 1")
		return nil
	}
	if !v.count(n, "tags", stsrules.MaxTags) {
		return nil
	}
	seen := map[string]bool{}
	for i := 1; i <= n; i++ {
		// Key and Value are both required members of Tag.
		k, hasKey := keys[i]
		val, hasValue := values[i]
		if !hasKey || !hasValue {
			if !hasKey {
				*v = append(*v, fmt.Sprintf("Value null at 'tags.%d.member.key' failed to satisfy constraint: Member must not be null", i))
			}
			if !hasValue {
				*v = append(*v, fmt.Sprintf("Value null at 'tags.%d.member.value' failed to satisfy constraint: Member must not be null", i))
			}
			continue
		}
		v.tagKey(k, fmt.Sprintf("tags.%d.member.key", i))
		v.text(val, fmt.Sprintf("tags.%d.member.value", i), 0, stsrules.MaxTagValueLen, stsrules.TagRune, tagValuePattern)
		lk := strings.ToLower(k)
		if seen[lk] {
			return senderErr(http.StatusBadRequest, "InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[lk] = true
		in.tags = append(in.tags, identity.Tag{Key: k, Value: val})
	}
	return nil
}

// memberList reads PREFIX1SUFFIX, PREFIX2SUFFIX, ... in order; a gap or a
// non-numeric index is an error.
func memberList(p url.Values, prefix, suffix string) ([]string, error) {
	byIndex, err := memberIndex(p, prefix, suffix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(byIndex))
	for i := 1; i <= len(byIndex); i++ {
		v, ok := byIndex[i]
		if !ok {
			return nil, errBadListMember
		}
		out = append(out, v)
	}
	return out, nil
}

// memberIndex reads every PREFIXnSUFFIX by its index n; a non-numeric index
// or one below 1 is an error, gaps are not.
func memberIndex(p url.Values, prefix, suffix string) (map[int]string, error) {
	byIndex := map[int]string{}
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		idx, ok := strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		if suffix == "" && strings.Contains(idx, ".") {
			return nil, errBadListMember
		}
		n, err := strconv.Atoi(idx)
		if err != nil || n < 1 {
			return nil, errBadListMember
		}
		byIndex[n] = vs[0]
	}
	return byIndex, nil
}

// packedPercent is PackedPolicySize: the share of the packed limit used by
// the session policy and the session tags together, rounded up. AWS packs
// both into the session token in a compressed binary form whose size and
// limit it does not publish ("IAM and AWS STS quotas"; the knowledge-center
// article on PackedPolicyTooLarge), so this is an approximation: the
// plaintext policy (characters, as its 2,048 limit counts them) plus every
// tag's key and value (UTF-8 bytes, inherited transitive tags included),
// against PolicyPlaintextLimit. Compression
// only shrinks JSON, so the approximation errs on the strict side: a
// request it accepts fits at AWS too, and AWS may accept a policy close
// to 2,048 characters with tags that it refuses. tagsOnly is the tags'
// share alone, for the error message AWS gives when the tags overflow.
func packedPercent(policy string, tags []identity.Tag) (total, tagsOnly int) {
	tagChars := 0
	for _, t := range tags {
		tagChars += len(t.Key) + len(t.Value)
	}
	ceil := func(n int) int { return (n*100 + PolicyPlaintextLimit - 1) / PolicyPlaintextLimit }
	return ceil(utf8.RuneCountInString(policy) + tagChars), ceil(tagChars)
}

func assumeRole(c *awsquery.Call) (any, error) {
	caller := c.Caller
	in, verr := parseAssumeRole(c.Request.Params)
	if verr != nil {
		return nil, verr
	}
	if e := checkMFA(in); e != nil {
		return nil, e
	}
	chained := caller.Session != nil
	// A chained session also carries the calling session's transitive
	// tags: they count toward the packed size like the tags sent.
	tags, transitive := in.tags, in.transitiveTagKeys
	if chained {
		var terr *Error
		if tags, transitive, terr = inheritTransitive(caller.Session, tags, transitive); terr != nil {
			return nil, terr
		}
	}
	packed, sessionPolicies, perr := sessionPolicy(in, tags)
	if perr != nil {
		return nil, perr
	}

	log := c.Log.With("role", in.roleARN, "session_name", in.sessionName)
	role, denied := authorize(c.Store, caller, in, log)
	if denied != nil {
		return nil, denied
	}

	if chained && in.duration > ChainedMaxDuration {
		return nil, senderErr(http.StatusBadRequest, "ValidationError",
			"The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if in.duration > role.MaxSessionDuration {
		return nil, senderErr(http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	sourceIdentity := in.sourceIdentity
	if prev := caller.Session; chained && prev.SourceIdentity != "" {
		if sourceIdentity != "" && sourceIdentity != prev.SourceIdentity {
			return nil, senderErr(http.StatusForbidden, "AccessDenied", "The source identity of a role session cannot be changed by role chaining.")
		}
		sourceIdentity = prev.SourceIdentity
	}
	sess, err := c.Store.CreateSession(identity.SessionSpec{
		Role: role, Name: in.sessionName, Duration: in.duration, Policies: sessionPolicies,
		Tags: tags, TransitiveTagKeys: transitive, SourceIdentity: sourceIdentity, Chained: chained,
		MinTokenSize: in.minTokenSize,
	})
	if err != nil {
		return nil, err
	}
	log.Info("sts session issued", "action", "sts:AssumeRole", "session_arn", sess.ARN,
		"session_key", identity.KeyHint(sess.AccessKeyID), "expiration", sess.Expiration.Format(time.RFC3339),
		"packed_policy_size", packed, "source_identity", sourceIdentity)
	res := assumeRoleResult{
		SourceIdentity: sourceIdentity,
		Credentials: xmlCredentials{
			SessionToken:    sess.SessionToken,
			SecretAccessKey: sess.SecretAccessKey,
			Expiration:      sess.Expiration.UTC().Format("2006-01-02T15:04:05Z"),
			AccessKeyID:     sess.AccessKeyID,
		},
		AssumedRoleUser: assumedRoleUser{Arn: sess.ARN, AssumedRoleID: sess.AssumedRoleID},
	}
	if in.policySet || len(tags) > 0 {
		res.PackedPolicySize = &packed
	}
	tokenSize := len(sess.SessionToken)
	utilization := (tokenSize*100 + MaxSessionTokenSize - 1) / MaxSessionTokenSize
	res.SessionTokenSize, res.SessionTokenUtilization = &tokenSize, &utilization
	return c.Respond(res), nil
}

// sessionPolicy checks the session policy's size (alone, and packed with
// the session's tags: PackedPolicyTooLarge) and syntax
// (MalformedPolicyDocument), and returns PackedPolicySize and the parsed
// policy (none when not given).
func sessionPolicy(in *assumeRoleInput, tags []identity.Tag) (packed int, policies []*iam.Policy, e *Error) {
	packed, tagPct := packedPercent(in.policy, tags)
	if packed > 100 {
		if tagPct > 100 {
			return 0, nil, senderErr(http.StatusBadRequest, "PackedPolicyTooLarge", "Packed size of session tags consumes %d%% of allotted space.", tagPct)
		}
		return 0, nil, senderErr(http.StatusBadRequest, "PackedPolicyTooLarge", "Packed policy consumes %d%% of allotted space, please use smaller policy.", packed)
	}
	if !in.policySet {
		return packed, nil, nil
	}
	pol, err := iam.Parse("session policy", []byte(in.policy))
	if err != nil {
		var pe *iam.ParseError
		msg := "The policy is not in the valid JSON format."
		if errors.As(err, &pe) && pe.Msg != "" {
			msg = pe.Msg
		}
		return 0, nil, senderErr(http.StatusBadRequest, "MalformedPolicyDocument", "%s", msg)
	}
	return packed, []*iam.Policy{pol}, nil
}

// authorize decides sts:AssumeRole, and sts:TagSession with session tags
// and sts:SetSourceIdentity with a source identity, as AWS does: the
// role's trust policy must allow; within the role's account, a trust
// statement naming the caller (its user ARN, its assumed-role session ARN,
// or its role's ARN while its session policies allow) is enough, one
// naming the account needs the caller's identity policy to allow too; a
// caller from another account needs both; an explicit Deny anywhere wins
// (iam.Session.EvaluateWithResource). An unknown role is refused as a
// trust policy that does not allow. It returns the role, or the
// AccessDenied error of the first refused action.
func authorize(store *identity.Store, caller identity.Principal, in *assumeRoleInput, log *slog.Logger) (*identity.Role, *Error) {
	role, known := store.Role(in.roleARN)
	rp := iam.ResourcePolicies{Account: iam.ARNAccount(in.roleARN), Required: true}
	if known {
		rp = iam.ResourcePolicies{Account: role.Account, Policies: []*iam.Policy{role.Trust}, Required: true}
	}
	sess := caller.Evaluator(store.Now())
	ctx := requestKeys(in)
	for _, action := range requiredActions(in, caller.Session) {
		d := sess.EvaluateWithResource(action, in.roleARN, ctx, rp)
		logDecision(log, action, d)
		if !d.Allowed() {
			return nil, senderErr(http.StatusForbidden, "AccessDenied", "%s", accessDeniedMessage(caller.ARN(), action, in.roleARN, d))
		}
	}
	return role, nil
}

// requiredActions lists the actions an AssumeRole request by the session
// prev (nil for a user) needs. A source identity persists through role
// chaining, so a chained call from a session that has one sets it on the
// new session, and needs sts:SetSourceIdentity as passing one does: "When
// you assume a role with another role, called role chaining, permissions
// for sts:SetSourceIdentity are required in both the permissions policy of
// the principal who is assuming the role and in the role trust policy of
// the target role. Otherwise, the assume role operation will fail." (IAM
// User Guide, "Permissions required to set source identity").
func requiredActions(in *assumeRoleInput, prev *identity.Session) []string {
	actions := []string{"sts:AssumeRole"}
	if len(in.tags) > 0 || len(in.transitiveTagKeys) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if in.sourceIdentity != "" || (prev != nil && prev.SourceIdentity != "") {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	return actions
}

// requestKeys returns the condition keys of an AssumeRole request (the
// caller's own keys come from its session).
func requestKeys(in *assumeRoleInput) map[string][]string {
	ctx := map[string][]string{"sts:RoleSessionName": {in.sessionName}}
	if in.externalID != "" {
		ctx["sts:ExternalId"] = []string{in.externalID}
	}
	if in.sourceIdentity != "" {
		ctx["sts:SourceIdentity"] = []string{in.sourceIdentity}
	}
	if len(in.tags) > 0 {
		keys := make([]string, 0, len(in.tags))
		for _, t := range in.tags {
			ctx["aws:RequestTag/"+t.Key] = []string{t.Value}
			keys = append(keys, t.Key)
		}
		ctx["aws:TagKeys"] = keys
	}
	if len(in.transitiveTagKeys) > 0 {
		ctx["sts:TransitiveTagKeys"] = in.transitiveTagKeys
	}
	return ctx
}

// accessDeniedMessage words a refusal as STS does. A trust policy that
// does not allow gets STS's long-standing message, which names no policy
// ("User: arn:aws:sts::...:assumed-role/R/S is not authorized to perform:
// sts:AssumeRole on resource: arn:aws:iam::...:role/T", as reported in
// aws/karpenter-provider-aws#4680 and aws-actions/configure-aws-credentials#1219);
// an explicit Deny in it ends "with an explicit deny in the role trust
// policy" (IAM User Guide, "Troubleshoot access denied error messages");
// a refusal by the caller's own policies names the identity-based or
// session policy ("... because no identity-based policy allows the
// sts:AssumeRole action").
func accessDeniedMessage(principal, action, roleARN string, d iam.Decision) string {
	head := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", principal, action, roleARN)
	switch {
	case d.Kind != iam.ResourcePolicy:
		return d.Message()
	case d.Outcome == iam.ExplicitDeny:
		return head + " with an explicit deny in the role trust policy"
	default:
		return head
	}
}

// inheritedTagMessage refuses a session tag whose key is that of an
// inherited transitive tag. AWS documents the refusal ("If you pass a
// session tag with the same key as an inherited tag, the operation
// fails.", STS API reference, AssumeRole, Tags; the IAM User Guide's
// "Chaining roles with session tags" example: passing Heart=3 over an
// inherited Heart=1 fails) but not its wording; the code is the one STS
// gives the other tag-key conflict, duplicate keys.
const inheritedTagMessage = "A session tag key cannot be the key of a transitive session tag inherited from the calling session. Please note that Tag keys are case insensitive."

// inheritTransitive adds the calling session's transitive tags to a chained
// session; a tag sent for the key of an inherited one (in any case) is an
// InvalidParameterValue error, as at AWS, whatever its value.
func inheritTransitive(prev *identity.Session, tags []identity.Tag, transitive []string) ([]identity.Tag, []string, *Error) {
	if len(prev.TransitiveTagKeys) == 0 {
		return tags, transitive, nil
	}
	byKey := map[string]string{}
	for _, t := range prev.Tags {
		byKey[strings.ToLower(t.Key)] = t.Value
	}
	out := make([]identity.Tag, 0, len(tags)+len(prev.TransitiveTagKeys))
	inherited := map[string]bool{}
	for _, k := range prev.TransitiveTagKeys {
		if v, ok := byKey[strings.ToLower(k)]; ok {
			out = append(out, identity.Tag{Key: k, Value: v})
			inherited[strings.ToLower(k)] = true
			transitive = append(transitive, k)
		}
	}
	for _, t := range tags {
		if inherited[strings.ToLower(t.Key)] {
			return nil, nil, senderErr(http.StatusBadRequest, "InvalidParameterValue", "%s", inheritedTagMessage)
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, dedupFold(transitive), nil
}

func dedupFold(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			out = append(out, k)
		}
	}
	return out
}

func logDecision(log *slog.Logger, action string, d iam.Decision) {
	attrs := append([]slog.Attr{slog.String("action", action)}, d.LogAttrs()...)
	log.LogAttrs(context.Background(), slog.LevelInfo, "authorization decision", append(attrs, slog.String("grant", d.Grant.String()))...)
}

// XML result elements; awsquery.Call.Respond wraps them in their
// <Action>Response.

type getCallerIdentityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	Arn     string   `xml:"Arn"`
	UserID  string   `xml:"UserId"`
	Account string   `xml:"Account"`
}

type assumeRoleResult struct {
	XMLName          xml.Name        `xml:"AssumeRoleResult"`
	SourceIdentity   string          `xml:"SourceIdentity,omitempty"`
	Credentials      xmlCredentials  `xml:"Credentials"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize *int            `xml:"PackedPolicySize,omitempty"`
	// SessionTokenSize and SessionTokenUtilization describe the token
	// issued (bytes, and percent of MaxSessionTokenSize), as STS reports
	// them since September 2026. Local tokens are opaque random strings of
	// a fixed size (or MinimumSessionTokenSize, when larger), so the local
	// values do not grow with policy and tags.
	SessionTokenSize        *int `xml:"SessionTokenSize,omitempty"`
	SessionTokenUtilization *int `xml:"SessionTokenUtilization,omitempty"`
}

type xmlCredentials struct {
	SessionToken    string `xml:"SessionToken"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	Expiration      string `xml:"Expiration"`
	AccessKeyID     string `xml:"AccessKeyId"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}
