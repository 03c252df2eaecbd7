package iam

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// reason returns Decision.Reason: one constant line per outcome and kind,
// so that deciding costs no formatting.
func reason(o Outcome, k PolicyKind) string {
	switch o {
	case Allowed:
		switch k {
		case SessionPolicy:
			return "allowed by a session policy and an identity-based policy"
		case ResourcePolicy:
			return "allowed by a resource-based policy"
		default:
			return "allowed by an identity-based policy"
		}
	case ExplicitDeny:
		switch k {
		case SessionPolicy:
			return "explicit deny in a session policy"
		case ResourcePolicy:
			return "explicit deny in a resource-based policy"
		default:
			return "explicit deny in an identity-based policy"
		}
	default:
		switch k {
		case SessionPolicy:
			return "implicit deny: no session policy allows the request"
		case ResourcePolicy:
			return "implicit deny: no resource-based policy allows the request"
		default:
			return "implicit deny: no identity-based policy allows the request"
		}
	}
}

func (h hit) String() string {
	var b strings.Builder
	h.writeTo(&b)
	return b.String()
}

// writeTo writes String's text to b: Explain runs for every decision the
// local AWS logs, so it formats without fmt.
func (h hit) writeTo(b *strings.Builder) {
	b.WriteString("statement ")
	b.WriteString(strconv.Itoa(h.index))
	if sid := h.policy.Statements[h.index].Sid; sid != "" {
		b.WriteString(" (Sid ")
		writeQuoted(b, sid)
		b.WriteByte(')')
	}
	b.WriteString(" of policy ")
	writeQuoted(b, h.policy.Name)
}

// writeQuoted writes strconv.Quote(s): s itself in quotes when it is
// printable ASCII without a quote or backslash, which Quote leaves as is.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			b.WriteString(strconv.Quote(s))
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

// Explain explains the decision in one line, naming the deciding statement
// (and, for an allow through a session or resource-based policy, the other
// statement that allowed) or, for an implicit deny, the first statement
// that matched the action and resource but whose condition was false. It
// is computed on each call from what the evaluation recorded.
func (d Decision) Explain() string {
	if (d.Outcome == Allowed || d.Outcome == ExplicitDeny) && d.by.policy == nil {
		return d.Reason
	}
	var b strings.Builder
	b.Grow(192) // most explanations fit: one allocation
	switch d.Outcome {
	case Allowed:
		b.WriteString("allowed by ")
		d.by.writeTo(&b)
		writeAll(&b, " (", string(d.Kind), ")")
		if d.Kind == ResourcePolicy {
			writeAll(&b, ", which names the caller's ", d.Grant.String())
		}
		if d.also.policy != nil {
			b.WriteString("; also allowed by ")
			d.also.writeTo(&b)
		}
	case ExplicitDeny:
		b.WriteString("explicit deny: ")
		d.by.writeTo(&b)
		writeAll(&b, " (", string(d.Kind), ") matches ", d.action, " on ", d.resource)
	default:
		writeAll(&b, "implicit deny: no ", string(kindOrIdentity(d.Kind)), " allows ", d.action, " on ", d.resource)
		if m := d.miss; m.policy != nil && m.cond >= 0 && m.cond < len(m.policy.Statements[m.index].Conditions) {
			c := m.policy.Statements[m.index].Conditions[m.cond]
			b.WriteString(" (")
			m.writeTo(&b)
			writeAll(&b, " matches the action and resource but its condition ", c.Operator, " on ", c.Key, " is false)")
		}
	}
	return b.String()
}

func writeAll(b *strings.Builder, parts ...string) {
	for _, p := range parts {
		b.WriteString(p)
	}
}

// LogAttrs returns the decision as the structured log fields the local
// AWS's enforcing endpoints write with every authorization decision:
// decision, policy_kind, policy, statement, sid and reason (Explain).
func (d Decision) LogAttrs() []slog.Attr {
	return d.AppendLogAttrs(make([]slog.Attr, 0, 6))
}

// AppendLogAttrs appends LogAttrs's fields to dst and returns the extended
// slice, for a caller that logs them with fields of its own.
func (d Decision) AppendLogAttrs(dst []slog.Attr) []slog.Attr {
	return append(dst,
		slog.String("decision", string(d.Outcome)),
		slog.String("policy_kind", string(d.Kind)),
		slog.String("policy", d.Policy),
		slog.Int("statement", d.Statement),
		slog.String("sid", d.Sid),
		slog.String("reason", d.Explain()),
	)
}

// Message returns AWS's AccessDenied message for a denied decision, naming
// the principal, action and resource that were evaluated, e.g. "User:
// arn:aws:sts::123456789012:assumed-role/R/S is not authorized to perform:
// dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T
// because no session policy allows the dynamodb:Query action". It returns
// "" for an allowed decision.
func (d Decision) Message() string {
	return d.DenialMessage(Request{Principal: d.principal, Action: d.action, Resource: d.resource})
}

// DenialMessage is Message for the principal, action and resource of req.
func (d Decision) DenialMessage(req Request) string {
	head := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", req.Principal, req.Action, req.Resource)
	kind := kindOrIdentity(d.Kind)
	switch d.Outcome {
	case ExplicitDeny:
		return fmt.Sprintf("%s with an explicit deny in %s %s", head, article(kind), kind)
	case ImplicitDeny:
		return fmt.Sprintf("%s because no %s allows the %s action", head, kind, req.Action)
	default:
		return ""
	}
}

func kindOrIdentity(k PolicyKind) PolicyKind {
	if k == "" {
		return IdentityPolicy
	}
	return k
}

func article(k PolicyKind) string {
	if strings.HasPrefix(string(k), "identity") {
		return "an"
	}
	return "a"
}
