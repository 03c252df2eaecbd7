package policies

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
)

// GlobalKeys documents the global condition keys every proof request
// carries, and where each value comes from. A real request by a vended
// session carries them too, so a template or role policy that narrows on
// one of them (say "Bool": {"aws:SecureTransport": "true"}) keeps its own
// tenant's rows allowed. The Prober builds them, in one place, through
// iam.Session (newProofEnv, proofEnv.prober and Prober.requestKeys).
//
//	aws:PrincipalArn          the profile's role ARN
//	aws:PrincipalAccount      the role ARN's account
//	aws:PrincipalType         "AssumedRole"
//	aws:userid                "<role id>:<session name>": the role id from IAM (GetRole), else a
//	                          synthetic AROA id derived from the role ARN; the session name as the
//	                          broker names the tenant's session
//	aws:TokenIssueTime        the proof's time (the session was just issued)
//	aws:CurrentTime           the proof's time (start-up, or `tvm-broker check`)
//	aws:EpochTime             the same, in seconds
//	aws:SourceIdentity        the sample subject, when the profile sets source_identity
//	aws:PrincipalTag/<key>    the profile's session tags ({tenant} = the sample tenant, {subject}
//	                          = the sample subject), over the role's own tags (from IAM)
//	aws:SecureTransport       "true": the SDKs and the CLI call AWS over HTTPS
//	aws:ViaAWSService         "false": the tenant calls the service itself
//	aws:PrincipalIsAWSService "false"
//	aws:RequestedRegion       the region of the request's resource ARN; for a regionless ARN (S3)
//	                          the profile's STS region (sts.region, default us-east-1)
//	aws:ResourceAccount       the account of the request's resource ARN; for an ARN naming none
//	                          (S3) the one the battery gives: the role's account (Prober.Account)
//
// Absent, because the broker cannot know them or a vended session never
// has them: aws:SourceIp, aws:SourceVpc, aws:SourceVpce, aws:VpcSourceIp
// (where the tenant's code runs), aws:PrincipalOrgID and
// aws:PrincipalOrgPaths, aws:MultiFactorAuthPresent and
// aws:MultiFactorAuthAge (AssumeRole without MFA), aws:username (IAM
// users only), aws:CalledVia, aws:SourceArn, aws:SourceAccount (requests
// made by a service), aws:RequestTag/*, aws:TagKeys, aws:ResourceTag/*,
// aws:Referer and aws:UserAgent. These values serve the rows that want a
// request allowed (which also pass when some value of an unknown key
// allows it: a template narrowed to an address range is accepted); a row
// that wants a request denied holds whatever the keys it does not know
// (knownKeys) take — the time among them.
//
// Each battery adds the request's own keys (dynamodb:LeadingKeys, say).
var GlobalKeys = []string{
	"aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType", "aws:userid", "aws:TokenIssueTime",
	"aws:CurrentTime", "aws:EpochTime", "aws:SourceIdentity", "aws:PrincipalTag/<key>", "aws:SecureTransport",
	"aws:ViaAWSService", "aws:PrincipalIsAWSService", "aws:RequestedRegion", "aws:ResourceAccount",
}

// proofEnv is what every tenant's Prober of one Prove call shares.
type proofEnv struct {
	spec      ProofSpec
	now       time.Time
	region    string
	identity  []*iam.Policy // the role's policies, or allowAll
	grantRole []*iam.Policy // their Allow statements without conditions
}

func newProofEnv(spec ProofSpec) *proofEnv {
	e := &proofEnv{spec: spec, now: spec.Time, region: spec.Region, identity: spec.Role.Policies}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	if e.region == "" {
		e.region = DefaultProofRegion
	}
	if !spec.Role.Known {
		e.identity = []*iam.Policy{allowAll}
	}
	e.grantRole = grantsOnly(e.identity)
	return e
}

// prober returns the Prober of tenant's session, whose session policy is
// session (nil = none): the session of the first of ProofSubjects, whose
// keys are compared with the second's to find those the caller chooses.
func (e *proofEnv) prober(tenantID string, session *iam.Policy) *Prober {
	var sessionPolicies []*iam.Policy
	if session != nil {
		sessionPolicies = []*iam.Policy{session}
	}
	s := e.session(tenantID, ProofSubjects[0])
	s.Identity, s.SessionPolicies = e.identity, sessionPolicies
	grants := s // what the profile grants: the session policy, else the role's
	grants.Identity, grants.SessionPolicies = e.grantRole, nil
	if session != nil {
		grants.Identity = grantsOnly(sessionPolicies)
	}
	return &Prober{tenant: tenantID, session: session, sess: s, grants: grants, roleKnown: e.spec.Role.Known,
		region: e.region, known: e.knownKeys(tenantID, s, e.session(tenantID, ProofSubjects[1])), roleTags: e.spec.Role.Tags}
}

// session returns the keys of the session of tenantID for subject (no
// policies yet).
func (e *proofEnv) session(tenantID, subject string) iam.Session {
	roleARN := e.spec.Role.ARN
	if roleARN == "" {
		roleARN = placeholderRole
	}
	name := "t-" + tenantID
	if e.spec.Session.Name != nil {
		name = e.spec.Session.Name(tenantID, subject)
	}
	roleID := e.spec.Role.ID
	if roleID == "" {
		roleID = syntheticRoleID(roleARN)
	}
	var sourceIdentity string
	if e.spec.Session.SourceIdentity != nil {
		sourceIdentity = e.spec.Session.SourceIdentity(subject)
	}
	return iam.Session{
		Principal:      assumedRoleARN(roleARN, name),
		PrincipalARN:   roleARN,
		Type:           "AssumedRole",
		UserID:         roleID + ":" + name,
		TokenIssueTime: e.now,
		SourceIdentity: sourceIdentity,
		Tags:           e.tags(tenantID, subject),
		RequestTime:    e.now,
		Extra: map[string][]string{
			"aws:SecureTransport":       {"true"},
			"aws:ViaAWSService":         {"false"},
			"aws:PrincipalIsAWSService": {"false"},
		},
	}
}

// knownKeys says which condition keys the requests of tenantID's session
// fix (see knownKeys); a and b are its sessions for the two ProofSubjects.
func (e *proofEnv) knownKeys(tenantID string, a, b iam.Session) knownKeys {
	k := knownKeys{roleTags: e.spec.Role.TagsKnown, bySubject: map[string]bool{}}
	if e.spec.Session.Tags != nil {
		for _, t := range e.spec.Session.Tags(tenantID, ProofSubjects[0]) {
			k.sessionTags = append(k.sessionTags, strings.ToLower(t.Key))
		}
	}
	k.bySubject["aws:userid"] = a.UserID != b.UserID
	k.bySubject["aws:sourceidentity"] = a.SourceIdentity != b.SourceIdentity
	for _, t := range a.Tags {
		i := slices.IndexFunc(b.Tags, func(o iam.Tag) bool { return strings.EqualFold(o.Key, t.Key) })
		if i < 0 || b.Tags[i].Value != t.Value {
			k.bySubject[principalTagPrefix+strings.ToLower(t.Key)] = true
		}
	}
	return k
}

// principalTagPrefix is the lower-case prefix of principal tag keys.
const principalTagPrefix = "aws:principaltag/"

// knownKeys tells which condition keys a proof row knows the value of.
// Known: the keys the row's request sets (the target's isolating key,
// absent or with values, and its Context) or never carries (Absent); the session's principal keys
// (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:userid,
// aws:username, aws:SourceIdentity, aws:PrincipalIsAWSService) and the
// principal tags its session tags set — unless their value depends on the
// caller (subject); the other principal tags when the role's tags are
// known; aws:ResourceAccount, and aws:RequestedRegion when the resource
// ARN names a region. Everything else may take any value in a real
// request, and a denial row must hold for all of them: the time
// (aws:CurrentTime, aws:EpochTime, aws:TokenIssueTime — the policy serves
// for years), the network (aws:SourceIp, aws:SourceVpc, aws:SourceVpce,
// aws:SecureTransport), the path (aws:CalledVia, aws:ViaAWSService), the
// request's parameters (s3:delimiter, dynamodb:Attributes,
// dynamodb:Select, ...), and whatever the broker cannot know
// (aws:PrincipalOrgID, aws:ResourceTag/...).
type knownKeys struct {
	sessionTags []string        // the session tags' keys, lower case
	bySubject   map[string]bool // lower-case keys whose value the subject chooses
	roleTags    bool            // the role's own tags are known
}

// has reports whether the row of r knows key's value.
func (k knownKeys) has(key string, r ProofRequest) bool {
	if r.Key != "" && strings.EqualFold(key, r.Key) {
		return true
	}
	for c := range r.Context {
		if strings.EqualFold(c, key) {
			return true
		}
	}
	if slices.ContainsFunc(r.Absent, func(a string) bool { return strings.EqualFold(a, key) }) {
		return true
	}
	lk := strings.ToLower(key)
	if k.bySubject[lk] {
		return false
	}
	switch lk {
	case "aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:userid", "aws:username",
		"aws:sourceidentity", "aws:principalisawsservice", "aws:resourceaccount":
		return true
	case "aws:requestedregion":
		parts := strings.SplitN(r.Resource, ":", 6)
		return len(parts) == 6 && parts[3] != ""
	}
	if tag, ok := strings.CutPrefix(lk, principalTagPrefix); ok {
		return k.roleTags || slices.Contains(k.sessionTags, tag)
	}
	return false
}

// tags returns the session's principal tags: the role's tags, overridden
// (case-insensitively) by the session tags of tenantID and subject.
func (e *proofEnv) tags(tenantID, subject string) []iam.Tag {
	var session []iam.Tag
	if e.spec.Session.Tags != nil {
		session = e.spec.Session.Tags(tenantID, subject)
	}
	out := append([]iam.Tag(nil), session...)
	for _, rt := range e.spec.Role.Tags {
		overridden := false
		for _, st := range session {
			overridden = overridden || strings.EqualFold(st.Key, rt.Key)
		}
		if !overridden {
			out = append(out, rt)
		}
	}
	return out
}

// assumedRoleARN returns the ARN of session name of the role roleARN:
// arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION (the role's path dropped).
func assumedRoleARN(roleARN, name string) string {
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) < 6 {
		return roleARN
	}
	role := parts[5][strings.LastIndexByte(parts[5], '/')+1:]
	return "arn:" + parts[1] + ":sts::" + parts[4] + ":assumed-role/" + role + "/" + name
}

// syntheticRoleID returns a stable role-id-shaped value for roleARN:
// "AROA" and 17 characters of [A-Z2-7].
func syntheticRoleID(roleARN string) string {
	sum := sha256.Sum256([]byte(roleARN))
	return "AROA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

// grantsOnly returns copies of pols holding their Allow statements
// without conditions and their Deny statements that have none: what the
// policies grant, whatever the request — a Deny that always applies takes
// its actions out of the grants (a template denying DeleteItem does not
// grant it, so no own-tenant row demands it).
func grantsOnly(pols []*iam.Policy) []*iam.Policy {
	out := make([]*iam.Policy, 0, len(pols))
	for _, p := range pols {
		c := &iam.Policy{Name: p.Name, Version: p.Version, ID: p.ID}
		for _, st := range p.Statements {
			switch {
			case st.Effect == iam.Allow:
				st.Conditions = nil
			case len(st.Conditions) > 0:
				continue
			}
			c.Statements = append(c.Statements, st)
		}
		out = append(out, c)
	}
	return out
}
