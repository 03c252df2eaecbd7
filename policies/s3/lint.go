package s3

import (
	"fmt"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// Statement lint rule ids of the target (stable; documented in docs/s3.md).
const (
	// RuleNotAction: an Allow statement uses NotAction or NotResource and
	// thereby grants S3 actions.
	RuleNotAction = "s3-notaction"
	// RuleAction: an action pattern with a wildcard (s3:*, *, s3:Put*, ...)
	// expands to an S3 action no tenant statement may grant, or a pattern
	// names no known S3 action.
	RuleAction = "s3-action"
	// RuleListMultipart: s3:ListBucketMultipartUploads is granted: its
	// requests carry no s3:prefix, so it lists every tenant's uploads.
	RuleListMultipart = "s3-list-multipart"
	// RuleBucketAction: a bucket- or account-level action is granted
	// (bucket policy, ACL, lifecycle, CORS, ..., ListAllMyBuckets, access
	// points, jobs) or an object ACL write, which grants access outside
	// IAM. ListBucket and ListBucketVersions are the only bucket actions a
	// tenant statement may grant, with a prefix condition.
	RuleBucketAction = "s3-bucket-action"
	// RuleListPrefix: ListBucket or ListBucketVersions is granted without
	// a StringLike (or StringEquals) condition on s3:prefix, s3:prefix is
	// tested with another operator (IfExists, negated and set operators
	// let a missing or any prefix through), a prefix value is empty or
	// starts with a wildcard or has one before its end, or the listing's
	// resource is not an exact bucket ARN.
	RuleListPrefix = "s3-list-prefix"
	// RuleResource: an object action is granted on a resource that is not
	// confined to a key prefix: *, arn:aws:s3:::BUCKET/* (the whole
	// bucket), a wildcard in the bucket name or inside the key prefix, a
	// "?" wildcard, or an S3 resource other than a bucket or object ARN.
	RuleResource = "s3-resource"
	// RuleDelimiter: the tenant is not followed by the delimiter "/": an
	// object resource ending in "*" not right after "/" (tenants/1* also
	// reaches tenants/12/), or an s3:prefix value not ending in "/" or
	// "/*".
	RuleDelimiter = "s3-delimiter"
	// RuleVariables: a policy variable ("${...}") in an S3 resource or an
	// s3:prefix value of a session policy (the broker renders the tenant;
	// variables belong in role policies).
	RuleVariables = "s3-variables"
)

func (target) Rules() []string {
	return []string{
		RuleNotAction, RuleAction, RuleListMultipart, RuleBucketAction,
		RuleVariables, RuleListPrefix, RuleResource, RuleDelimiter,
	}
}

// LintStatement checks one Allow statement against the rules, in Rules
// order (a resource's own problems are reported in the order it shows
// them).
func (target) LintStatement(st *iam.Statement) *policies.Finding {
	if f := policies.LintNot(st, catalogue, RuleNotAction, "S3"); f != nil {
		return f
	}
	granted := catalogue.Granted(st)
	if f := lintActions(st); f != nil {
		return f
	}
	var objects, lists bool
	for _, a := range granted {
		objects = objects || kindOf(a.Name) == kindObject
		lists = lists || kindOf(a.Name) == kindList
	}
	if lists {
		if f := lintList(st); f != nil {
			return f
		}
	}
	if objects {
		for _, r := range st.Resource {
			if f := lintObjectResource(r); f != nil {
				return f
			}
		}
	}
	return nil
}

func finding(rule, detail, text string) *policies.Finding {
	return &policies.Finding{Rule: rule, Detail: detail, Text: text}
}

// lintActions refuses actions that cannot be confined to a prefix.
func lintActions(st *iam.Statement) *policies.Finding {
	for _, p := range st.Action {
		matched := catalogue.Expand(p)
		if len(matched) == 0 && catalogue.CouldMatch(p) {
			return finding(RuleAction, "names no known S3 action", p)
		}
		wildcard := strings.ContainsAny(p, "*?")
		for _, a := range matched {
			k := kindOf(a.Name)
			if k == kindObject || k == kindList {
				continue
			}
			switch {
			case wildcard:
				return finding(RuleAction, fmt.Sprintf("expands to s3:%s, which %s", a.Name, whyNot(a.Name)), p)
			case a.Name == "ListBucketMultipartUploads":
				return finding(RuleListMultipart, "s3:ListBucketMultipartUploads has no s3:prefix key: it lists every tenant's uploads", p)
			default:
				return finding(RuleBucketAction, "s3:"+a.Name+" "+whyNot(a.Name), p)
			}
		}
	}
	return nil
}

// whyNot says why a tenant statement may not grant an action.
func whyNot(name string) string {
	switch {
	case name == "ListBucketMultipartUploads":
		return "has no s3:prefix key (it lists every tenant's uploads)"
	case kindOf(name) == kindACLWrite:
		return "writes an object ACL, which grants access outside IAM"
	case byName[name].write:
		return "is a bucket- or account-level write, not confined to a prefix"
	}
	return "is a bucket- or account-level action, not confined to a prefix"
}

// lintList checks a statement granting ListBucket or ListBucketVersions:
// exact bucket ARNs, and s3:prefix tested with StringLike or StringEquals
// only, every value confined to one delimited prefix.
func lintList(st *iam.Statement) *policies.Finding {
	confined := false
	for _, c := range st.Conditions {
		if !strings.EqualFold(c.Key, PrefixKey) {
			continue
		}
		like := strings.EqualFold(c.Operator, "StringLike")
		if !like && !strings.EqualFold(c.Operator, "StringEquals") {
			return finding(RuleListPrefix, "s3:prefix must be tested with StringLike or StringEquals (this operator lets a missing or another prefix through)", c.Operator)
		}
		for _, v := range c.Values {
			if f := lintPrefixValue(v, like); f != nil {
				return f
			}
		}
		confined = confined || len(c.Values) > 0
	}
	if !confined {
		return finding(RuleListPrefix, `grants s3:ListBucket or s3:ListBucketVersions without a StringLike condition on s3:prefix (a request without prefix, or with prefix "", lists every tenant's keys)`, "")
	}
	for _, r := range st.Resource {
		if mayMatchBucket(r) {
			return finding(RuleListPrefix, "list actions need exact bucket ARNs (arn:aws:s3:::BUCKET), no wildcard", r)
		}
	}
	return nil
}

// mayMatchBucket reports whether a Resource entry with a wildcard may match
// an S3 bucket ARN (arn:PARTITION:s3:::NAME, no "/"). An exact ARN is a
// bucket (fine) or something else (ignored), and a pattern whose resource
// part has a "/" before any wildcard matches objects only.
func mayMatchBucket(r string) bool {
	service, rest, ok := s3Resource(r)
	if !ok || !strings.ContainsAny(service+rest, "*?") {
		return false
	}
	parts := strings.SplitN(rest, ":", 3)
	res := parts[len(parts)-1]
	slash, wild := strings.Index(res, "/"), strings.IndexAny(res, "*?")
	return slash < 0 || (wild >= 0 && wild < slash) || len(parts) < 3
}

// lintPrefixValue checks one s3:prefix value: no variable; not empty; a
// StringLike wildcard only as the final "*"; ending in "/" or "/*" (under
// StringEquals "*" is a literal character: "tenants/1/*" names a prefix
// inside tenants/1/, as {{s3_prefixes}} renders).
func lintPrefixValue(v string, like bool) *policies.Finding {
	if strings.Contains(v, "${") {
		return finding(RuleVariables, "policy variable in an s3:prefix value", v)
	}
	body := strings.TrimSuffix(v, "*")
	if like {
		switch {
		case body == "":
			return finding(RuleListPrefix, "s3:prefix value is a bare wildcard: it matches every prefix", v)
		case strings.ContainsAny(body, "*?"):
			return finding(RuleListPrefix, "s3:prefix value has a wildcard before its end: it matches other tenants' prefixes", v)
		}
	}
	switch {
	case v == "":
		return finding(RuleListPrefix, `s3:prefix value "" lists the bucket's root: every tenant's key names`, v)
	case !strings.HasSuffix(body, Delimiter):
		return finding(RuleDelimiter, `s3:prefix value must end with "/" or "/*": without the delimiter, tenant "1" also lists "12/"`, v)
	}
	return nil
}

// lintObjectResource checks one Resource of a statement granting object
// actions: unless it cannot match an S3 object ARN, it must be
// arn:PARTITION:s3:::BUCKET/KEY with a wildcard-free bucket and a key that
// is exact or ends in "/*" with no other wildcard.
func lintObjectResource(r string) *policies.Finding {
	if r == "*" {
		return finding(RuleResource, "Resource \"*\" matches every object of every bucket", r)
	}
	service, rest, ok := s3Resource(r)
	if !ok {
		return nil
	}
	if strings.Contains(r, "${") {
		return finding(RuleVariables, "policy variable in an S3 resource", r)
	}
	region, rest, _ := strings.Cut(rest, ":")
	account, res, _ := strings.Cut(rest, ":")
	if strings.ContainsAny(service, "*?") || region != "" || account != "" {
		return finding(RuleResource, "not a bucket or object ARN (arn:<partition>:s3:::BUCKET/PREFIX/*)", r)
	}
	bucketPart, key, hasKey := strings.Cut(res, "/")
	switch {
	case strings.ContainsAny(bucketPart, "*?"):
		return finding(RuleResource, "wildcard in the bucket name: name the buckets", r)
	case !hasKey:
		return nil // a bucket ARN matches no object
	case key == "" || strings.IndexAny(key, "*?") == 0:
		return finding(RuleResource, "bucket-wide object wildcard: it matches every tenant's objects", r)
	case strings.Contains(key, "?") || strings.Contains(strings.TrimSuffix(key, "*"), "*"):
		return finding(RuleResource, `wildcard inside the key prefix: only a final "*" after the tenant's "/" is confined`, r)
	case strings.HasSuffix(key, "*") && !strings.HasSuffix(key, Delimiter+"*"):
		return finding(RuleDelimiter, `object resource must end with "/*": without the delimiter, tenant "1" also reaches "12/"`, r)
	}
	return nil
}

// s3Resource splits a Resource entry that may match an S3 ARN into its
// service component and what follows it ("REGION:ACCOUNT:RESOURCE"). A
// pattern with fewer than six components counts when its last component
// has a wildcard (it may then span the missing colons, as "*" does).
func s3Resource(r string) (service, rest string, ok bool) {
	if r == "*" {
		return "*", "::*", true
	}
	parts := strings.SplitN(r, ":", 4)
	if len(parts) < 4 {
		return "*", "::" + r, strings.Contains(r, "*")
	}
	if !iam.MatchAction(parts[2]+":x", Service+":x") {
		return "", "", false
	}
	return parts[2], parts[3], true
}
