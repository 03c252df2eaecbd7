package s3

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/iam"
)

// Proof constants: the object name probed under a prefix, a bucket no
// profile names, and the action names the battery uses.
const (
	proofObject  = "proof/object.txt"
	proofBucket  = "tvm-proof-unlisted-bucket"
	proofSubPath = "sub/"
	listBucket   = "ListBucket"
	listVersions = "ListBucketVersions"
	listUploads  = "ListBucketMultipartUploads"
	putPolicy    = "PutBucketPolicy"
	actionGet    = "GetObject"
	actionPut    = "PutObject"
)

// step is one request of the battery, before it is evaluated: an action
// on a resource (an object or bucket ARN), with the s3:prefix key when
// listed is true (values nil = no prefix parameter; [""] = prefix=).
type step struct {
	name, action, resource string // action without "s3:"
	listed                 bool
	values                 []string
	want                   iam.Outcome
}

// grants is what the profile grants, as the Prober reports it: the S3
// actions it names on some resource, and whether it names one on a given
// resource (conditions aside).
type grants struct {
	names map[string]bool
	on    func(action, resource string) bool // action without "s3:"
}

// plan returns the battery's rows for one bucket, for the session of
// tenant own (key prefix ownPrefix) against tenant other (otherPrefix);
// root is the prefix format's part before the tenant ("tenants/"). It is
// the one place that decides which rows apply.
//
// Own rows follow the grants: each object action g grants on an object
// under ownPrefix, allowed there; each listing g grants on the bucket,
// allowed with prefix ownPrefix and with a deeper prefix. Denied rows,
// always: the core object actions (coreObjectActions, named by the S3
// operations they authorize: GetObject and CopyObject's source,
// PutObject and CopyObject's destination and every step of a multipart
// upload, DeleteObject, AbortMultipartUpload, ListParts) and every other
// granted object action on otherPrefix; GetObject on ownPrefix in a bucket
// the profile does not name; each listing (ListBucket and
// ListBucketVersions) with otherPrefix, with ownPrefix without its
// delimiter (the "1" vs "12" trap), without a prefix, with prefix "" and
// with root; ListBucketMultipartUploads (no s3:prefix key);
// PutBucketPolicy and every other granted bucket- or account-level action.
func plan(g grants, bk bucket, ownPrefix, otherPrefix, root string) []step {
	allow, deny := iam.Allowed, iam.ImplicitDeny
	obj := func(name, action, key string, want iam.Outcome) step {
		return step{name: name, action: action, resource: bk.arn() + "/" + key, want: want}
	}
	list := func(name, action string, want iam.Outcome, prefix ...string) step {
		return step{name: name, action: action, resource: bk.arn(), listed: true, values: prefix, want: want}
	}
	var out []step
	for _, a := range actions {
		if own := bk.arn() + "/" + ownPrefix + proofObject; a.kind == kindObject && g.names[a.name] && g.on(a.name, own) {
			out = append(out, obj(a.name+" own object", a.name, ownPrefix+proofObject, allow))
		}
	}
	for _, l := range []string{listBucket, listVersions} {
		if g.names[l] && g.on(l, bk.arn()) {
			out = append(out, list(l+" own prefix", l, allow, ownPrefix), list(l+" below own prefix", l, allow, ownPrefix+proofSubPath))
		}
	}
	other := otherPrefix + proofObject
	out = append(out,
		obj("GetObject other tenant's object", actionGet, other, deny),
		obj("CopyObject from other tenant's prefix (source s3:GetObject)", actionGet, other, deny),
		obj("PutObject into other tenant's prefix", actionPut, other, deny),
		obj("CopyObject into other tenant's prefix (destination s3:PutObject)", actionPut, other, deny),
		obj("multipart upload into other tenant's prefix (s3:PutObject)", actionPut, other, deny),
		obj("DeleteObject other tenant's object", "DeleteObject", other, deny),
		obj("AbortMultipartUpload in other tenant's prefix", "AbortMultipartUpload", other, deny),
		obj("ListParts in other tenant's prefix (s3:ListMultipartUploadParts)", "ListMultipartUploadParts", other, deny),
	)
	for _, a := range actions {
		if a.kind == kindObject && g.names[a.name] && !slices.Contains(coreObjectActions, a.name) {
			out = append(out, obj(a.name+" other tenant's object", a.name, other, deny))
		}
	}
	unlisted := bucket{partition: bk.partition, name: proofBucket}
	out = append(out, step{name: "GetObject own prefix in a bucket the profile does not name", action: actionGet,
		resource: unlisted.arn() + "/" + ownPrefix + proofObject, want: deny})
	for _, l := range []string{listBucket, listVersions} {
		out = append(out, list(l+" other tenant's prefix", l, deny, otherPrefix),
			list(l+" own prefix without the delimiter", l, deny, strings.TrimSuffix(ownPrefix, Delimiter)),
			list(l+" without prefix", l, deny), list(l+` with prefix ""`, l, deny, ""))
		if root != "" {
			out = append(out, list(l+" with the common prefix "+root, l, deny, root))
		}
	}
	for _, a := range actions {
		if a.name == listUploads || a.name == putPolicy || (a.kind != kindObject && a.kind != kindList && g.names[a.name]) {
			out = append(out, step{name: a.name, action: a.name, resource: adminResource(a.name, bk), want: deny})
		}
	}
	return out
}

// adminResource is the resource a bucket- or account-level row checks:
// "*" for ListAllMyBuckets (its resource in the reference), else the
// bucket.
func adminResource(name string, bk bucket) string {
	if name == "ListAllMyBuckets" {
		return "*"
	}
	return bk.arn()
}

// Prove runs the S3 battery on the session p evaluates (tenant own)
// against the sample tenant other: plan's rows on each bucket, with the
// grants p reports (the session policy's, or the role's when there is
// none); then every object resource and s3:prefix value an Allow statement
// of the session's policies names outside own's prefix, which must be
// denied (a constant prefix there would be reachable by every tenant).
// S3 ARNs name no account: the buckets are taken to be in the role's
// account (aws:ResourceAccount, p.Account). A profile whose policies grant
// its tenant nothing under its prefix gets an own-tenant GetObject row
// anyway, which fails.
func (b *binding) Prove(p *policies.Prober, own, other string) error {
	ownPrefix, otherPrefix := b.format.Expand(own), b.format.Expand(other)
	if ownPrefix == otherPrefix {
		return errors.New("the two sample tenants format to the same key prefix")
	}
	root, _, _ := strings.Cut(b.format.String(), "{tenant}")
	g := grants{names: p.GrantedActions(catalogue), on: func(action, resource string) bool {
		return p.Granted(catalogue.Full(action), resource)
	}}
	var ownObjects []string
	ownRows := 0
	for i, bk := range b.buckets {
		suffix := ""
		if len(b.buckets) > 1 {
			suffix = fmt.Sprintf(" (bucket %d)", i)
		}
		for _, s := range plan(g, bk, ownPrefix, otherPrefix, root) {
			if s.want == iam.Allowed {
				ownRows++
			}
			check(p, s, suffix)
		}
		ownObjects = append(ownObjects, bk.arn()+"/"+ownPrefix)
	}
	if ownRows == 0 {
		check(p, step{name: "GetObject own object (the profile grants the tenant nothing under its prefix)", action: actionGet,
			resource: ownObjects[0] + proofObject, want: iam.Allowed}, "")
	}
	for _, s := range named(p, ownObjects) {
		check(p, s, "")
	}
	for _, v := range p.ConditionValues(PrefixKey) {
		if strings.HasPrefix(v, ownPrefix) {
			continue
		}
		for _, bk := range b.buckets {
			check(p, step{name: fmt.Sprintf("ListBucket prefix %q named by the policy", v), action: listBucket,
				resource: bk.arn(), listed: true, values: []string{sample(v)}, want: iam.ImplicitDeny}, "")
		}
	}
	return nil
}

// listingKeys are the condition keys S3 sets on the listings alone
// (Service Authorization Reference: s3:prefix, s3:delimiter and s3:max-keys
// on ListBucket and ListBucketVersions): a request of any other action
// never carries them.
var listingKeys = []string{PrefixKey, "s3:delimiter", "s3:max-keys"}

// check evaluates one step through the Prober, in the role's account.
func check(p *policies.Prober, s step, suffix string) {
	req := policies.ProofRequest{
		Name:     s.name + suffix,
		Action:   catalogue.Full(s.action),
		Resource: s.resource,
		Account:  p.Account(),
		Want:     s.want,
	}
	if s.listed {
		req.Key, req.Values = PrefixKey, s.values
	} else {
		req.Absent = listingKeys
	}
	p.Check(req)
}

// named returns denied rows for the object resources that the Allow
// statements of the session's policies (p.Policies) name outside own's
// prefix (ownObjects, one per bucket), in policy order without repeats:
// each is probed with the first object action its statement grants
// (wildcards replaced by "x"). A resource holding a policy variable is
// probed as each session the proof evaluates resolves it (p.Resolve: the
// tenant's own resolves to its prefix, a default value or a role tag to a
// constant one). (The s3:prefix values the policies name are probed by
// Prove, through Prober.ConditionValues.)
func named(p *policies.Prober, ownObjects []string) []step {
	var out []step
	seen := map[string]bool{}
	for _, pol := range p.Policies() {
		for i := range pol.Statements {
			st := &pol.Statements[i]
			if st.Effect != iam.Allow {
				continue
			}
			var first string
			for _, a := range catalogue.Granted(st) {
				if kindOf(a.Name) == kindObject {
					first = a.Name
					break
				}
			}
			if first == "" {
				continue
			}
			for _, written := range st.Resource {
				for _, r := range p.Resolve(pol, written) {
					if !isObjectARN(r) || hasAnyPrefix(r, ownObjects) || seen[r] {
						continue
					}
					seen[r] = true
					out = append(out, step{name: fmt.Sprintf("%s on %s named by the policy", first, r), action: first,
						resource: sample(r), want: iam.ImplicitDeny})
				}
			}
		}
	}
	return out
}

// isObjectARN reports whether r names S3 objects: arn:P:s3:::BUCKET/KEY.
func isObjectARN(r string) bool {
	parts := strings.SplitN(r, ":", 6)
	return len(parts) == 6 && parts[2] == Service && parts[3] == "" && parts[4] == "" && strings.Contains(parts[5], "/")
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// sample turns a pattern into one concrete value it matches: each "*"
// becomes "x" and each "?" becomes "x".
func sample(pattern string) string {
	return strings.NewReplacer("*", "x", "?", "x").Replace(pattern)
}
