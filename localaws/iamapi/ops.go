package iamapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/policies/iam"
)

// required returns the named parameters, or IAM's ValidationError naming
// each missing one ("Value null at 'roleName' failed to satisfy
// constraint: Member must not be null").
func required(c *call, names ...string) ([]string, *awsquery.Error) {
	out := make([]string, len(names))
	var missing []string
	for i, n := range names {
		if !c.Request.Params.Has(n) {
			missing = append(missing, "Value null at '"+lowerFirst(n)+"' failed to satisfy constraint: Member must not be null")
			continue
		}
		out[i] = c.Request.Params.Get(n)
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, awsquery.Senderf(http.StatusBadRequest, "ValidationError", "1 validation error detected: %s", missing[0])
	default:
		return nil, awsquery.Senderf(http.StatusBadRequest, "ValidationError", "%d validation errors detected: %s", len(missing), strings.Join(missing, "; "))
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// with reads the required parameters first and names, and resolves the
// entity first names with find, which authorizes the call on it: it returns
// the entity and the values of names.
func with[T any](c *call, find func(*call, string) (T, *awsquery.Error), first string, names ...string) (T, []string, *awsquery.Error) {
	var zero T
	p, e := required(c, append([]string{first}, names...)...)
	if e != nil {
		return zero, nil, e
	}
	v, e := find(c, p[0])
	if e != nil {
		return zero, nil, e
	}
	return v, p[1:], nil
}

// findRole authorizes the call on the named role of the caller's account and
// returns it (NoSuchEntity when it does not exist).
func findRole(c *call, name string) (*identity.Role, *awsquery.Error) {
	account := c.Caller.Account()
	role, ok := c.Store.RoleByName(account, name)
	arn := "arn:aws:iam::" + account + ":role/" + name
	if ok {
		arn = role.ARN
	}
	if e := authorize(c, arn, "role "+name); e != nil {
		return nil, e
	}
	if !ok {
		return nil, awsquery.Senderf(http.StatusNotFound, "NoSuchEntity", "The role with name %s cannot be found.", awsquery.Clip(name, 64))
	}
	return role, nil
}

// findPolicy authorizes the call on a managed policy ARN and returns the
// policy if it belongs to the caller's account.
func findPolicy(c *call, arn string) (*identity.ManagedPolicy, *awsquery.Error) {
	if e := authorize(c, arn, "policy "+arn); e != nil {
		return nil, e
	}
	m, ok := c.Store.ManagedPolicy(arn)
	if !ok || iam.ARNAccount(arn) != c.Caller.Account() {
		return nil, awsquery.Senderf(http.StatusNotFound, "NoSuchEntity", "Policy %s was not found.", awsquery.Clip(arn, 2048))
	}
	return m, nil
}

func getRole(c *call) (any, error) {
	role, _, e := with(c, findRole, "RoleName")
	if e != nil {
		return nil, e
	}
	return c.Respond(getRoleResult{Role: xmlRole{
		Path: role.Path, RoleName: role.Name, RoleID: role.ID, Arn: role.ARN, CreateDate: isoTime(role.CreateDate),
		AssumeRolePolicyDocument: encodeDocument(role.TrustDocument), MaxSessionDuration: int(role.MaxSessionDuration / time.Second),
	}}), nil
}

func getRolePolicy(c *call) (any, error) {
	role, p, e := with(c, findRole, "RoleName", "PolicyName")
	if e != nil {
		return nil, e
	}
	pol, ok := role.InlinePolicy(p[0])
	if !ok {
		return nil, noSuchRolePolicy(p[0])
	}
	return c.Respond(getRolePolicyResult{RoleName: role.Name, PolicyName: pol.Name, PolicyDocument: encodeDocument(pol.Document)}), nil
}

func noSuchRolePolicy(name string) *awsquery.Error {
	return awsquery.Senderf(http.StatusNotFound, "NoSuchEntity", "The role policy with name %s cannot be found.", awsquery.Clip(name, 128))
}

func listRolePolicies(c *call) (any, error) {
	role, _, e := with(c, findRole, "RoleName")
	if e != nil {
		return nil, e
	}
	var names []string
	for _, pol := range role.InlinePolicies() {
		names = append(names, pol.Name)
	}
	page, truncated, marker, e := paginate(c, len(names))
	if e != nil {
		return nil, e
	}
	return c.Respond(listRolePoliciesResult{PolicyNames: names[page[0]:page[1]], IsTruncated: truncated, Marker: marker}), nil
}

func listAttachedRolePolicies(c *call) (any, error) {
	role, _, e := with(c, findRole, "RoleName")
	if e != nil {
		return nil, e
	}
	prefix := c.Request.Params.Get("PathPrefix")
	var attached []attachedPolicy
	for _, m := range role.AttachedPolicies() {
		if prefix == "" || len(m.Path) >= len(prefix) && m.Path[:len(prefix)] == prefix {
			attached = append(attached, attachedPolicy{PolicyName: m.Name, PolicyArn: m.ARN})
		}
	}
	page, truncated, marker, e := paginate(c, len(attached))
	if e != nil {
		return nil, e
	}
	return c.Respond(listAttachedRolePoliciesResult{AttachedPolicies: attached[page[0]:page[1]], IsTruncated: truncated, Marker: marker}), nil
}

// paginate reads MaxItems (1-1000, default 100) and Marker (an opaque
// position returned by an earlier page) and returns the page bounds.
func paginate(c *call, n int) (page [2]int, truncated bool, marker string, e *awsquery.Error) {
	limit := 100
	if v := c.Request.Params.Get("MaxItems"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > 1000 {
			return page, false, "", awsquery.Senderf(http.StatusBadRequest, "ValidationError",
				"1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", awsquery.Clip(v, 16))
		}
		limit = m
	}
	start := 0
	if v := c.Request.Params.Get("Marker"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 0 || m > n {
			return page, false, "", awsquery.Senderf(http.StatusBadRequest, "ValidationError", "Invalid Marker.")
		}
		start = m
	}
	end := min(start+limit, n)
	if end < n {
		return [2]int{start, end}, true, strconv.Itoa(end), nil
	}
	return [2]int{start, end}, false, "", nil
}

func putRolePolicy(c *call) (any, error) {
	role, p, e := with(c, findRole, "RoleName", "PolicyName", "PolicyDocument")
	if e != nil {
		return nil, e
	}
	err := role.PutInlinePolicy(p[0], p[1])
	var pe *iam.ParseError
	switch {
	case err == nil:
		c.Log.Info("iam role policy put", "role", role.ARN, "policy", p[0])
		return c.Respond(nil), nil
	case errors.As(err, &pe):
		return nil, awsquery.Senderf(http.StatusBadRequest, "MalformedPolicyDocument", "%s", pe.Msg)
	case errors.Is(err, identity.ErrPolicySize):
		return nil, awsquery.Senderf(http.StatusConflict, "LimitExceeded", "Cannot exceed quota for PolicySize: %d", identity.MaxInlinePolicySize)
	default:
		return nil, awsquery.Senderf(http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", awsquery.Clip(p[0], 128))
	}
}

func deleteRolePolicy(c *call) (any, error) {
	role, p, e := with(c, findRole, "RoleName", "PolicyName")
	if e != nil {
		return nil, e
	}
	if err := role.DeleteInlinePolicy(p[0]); err != nil {
		return nil, noSuchRolePolicy(p[0])
	}
	c.Log.Info("iam role policy deleted", "role", role.ARN, "policy", p[0])
	return c.Respond(nil), nil
}

func getPolicy(c *call) (any, error) {
	m, _, e := with(c, findPolicy, "PolicyArn")
	if e != nil {
		return nil, e
	}
	return c.Respond(getPolicyResult{Policy: xmlPolicy{
		PolicyName: m.Name, PolicyID: m.ID, Arn: m.ARN, Path: m.Path, DefaultVersionID: m.DefaultVersionID,
		AttachmentCount: m.AttachmentCount, IsAttachable: true, Description: m.Description,
		CreateDate: isoTime(m.CreateDate), UpdateDate: isoTime(m.CreateDate),
	}}), nil
}

func getPolicyVersion(c *call) (any, error) {
	m, p, e := with(c, findPolicy, "PolicyArn", "VersionId")
	if e != nil {
		return nil, e
	}
	v, ok := m.Version(p[0])
	if !ok {
		return nil, awsquery.Senderf(http.StatusNotFound, "NoSuchEntity", "Policy %s version %s does not exist or is not attachable.",
			m.ARN, awsquery.Clip(p[0], 32))
	}
	return c.Respond(getPolicyVersionResult{PolicyVersion: xmlPolicyVersion{Document: encodeDocument(v.Document), VersionID: v.ID,
		IsDefaultVersion: v.ID == m.DefaultVersionID, CreateDate: isoTime(v.CreateDate)}}), nil
}

// encodeDocument URL-encodes a policy document as IAM returns it (RFC 3986:
// a space is %20; a literal '+' is %2B), for url.QueryUnescape to decode.
func encodeDocument(doc string) string { return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
