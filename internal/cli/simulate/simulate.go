// Package simulate implements `tvm-local simulate`: it evaluates one request
// by a role session — its session policy and, optionally, the role's
// identity policies, session tags and source identity — with the same
// evaluator (iam.Session) the local AWS enforces, and prints the decision,
// the deciding policy and statement, the explanation and, for a denial,
// AWS's AccessDenied message.
//
// Usage:
//
//	simulate --policy session.json [--role-policy role.json ...]
//	         --action dynamodb:Query --resource arn:aws:dynamodb:...:table/T
//	         [--principal ARN] [--tag key=value ...] [--source-identity S]
//	         [--token-issue-time RFC3339] [--context key=v1,v2 ...] [--json]
//
// Without --role-policy the session policy is evaluated alone, as if it were
// the identity policy. --tag sets a session tag (aws:PrincipalTag/key);
// the keys a session owns (aws:PrincipalTag/*, aws:SourceIdentity,
// aws:TokenIssueTime, aws:PrincipalArn, aws:userid, ...) come from these
// flags and --principal, never from --context. --context may be repeated;
// "key=" puts the key in the request with an empty value set, and a key
// that is never named is absent. Values cannot contain commas (repeat the
// key instead: values accumulate).
//
// Output is either text, one "field: value" line per field, or with --json
// one JSON object:
//
//	{"decision":"ImplicitDeny","allowed":false,"kind":"session policy",
//	 "policy":"","statement":-1,"sid":"","reason":"...","message":"User: ..."}
//
// Exit status: 0 allowed (or -h), 1 denied, 2 usage or policy errors.
//
// Main has no global state and may be called concurrently.
package simulate

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tvmkit/tvm/internal/cli"
	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/policies/iam"
)

// DefaultPrincipal is the caller ARN used when --principal is not given: a
// session of the local AWS's read role.
const DefaultPrincipal = "arn:aws:sts::123456789012:assumed-role/tvm-tenant-read/simulate"

// Exit statuses.
const (
	ExitAllowed = 0
	ExitDenied  = 1
	ExitUsage   = 2
)

// maxPolicyFile bounds how much of a policy file is read.
const maxPolicyFile = 1 << 20

// Result is the JSON form of a simulation.
type Result struct {
	Decision  iam.Outcome    `json:"decision"`
	Allowed   bool           `json:"allowed"`
	Kind      iam.PolicyKind `json:"kind"`
	Policy    string         `json:"policy"`
	Statement int            `json:"statement"`
	Sid       string         `json:"sid"`
	Reason    string         `json:"reason"`
	Message   string         `json:"message,omitempty"`
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

type options struct {
	policy         string
	rolePolicies   listFlag
	action         string
	resource       string
	principal      string
	tags           listFlag
	sourceIdentity string
	tokenIssueTime string
	contexts       listFlag
	json           bool
}

// Main runs the simulate command with args (without the command name) and
// returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.policy, "policy", "", "session policy `file` (JSON)")
	fs.Var(&o.rolePolicies, "role-policy", "role identity policy `file` (JSON); repeatable. Without it the session policy is evaluated alone")
	fs.StringVar(&o.action, "action", "", "action to check, e.g. dynamodb:Query (required)")
	fs.StringVar(&o.resource, "resource", "", "resource ARN, e.g. arn:aws:dynamodb:us-east-1:123456789012:table/T (required)")
	fs.StringVar(&o.principal, "principal", DefaultPrincipal, "caller `ARN`")
	fs.Var(&o.tags, "tag", "session tag `key=value` (aws:PrincipalTag/key); repeatable")
	fs.StringVar(&o.sourceIdentity, "source-identity", "", "the session's source identity (aws:SourceIdentity)")
	fs.StringVar(&o.tokenIssueTime, "token-issue-time", "", "when the session was issued, RFC 3339 (aws:TokenIssueTime)")
	fs.Var(&o.contexts, "context", "condition key and values, `key=v1,v2`; repeatable; key= for an empty value set")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: simulate --policy FILE [--role-policy FILE ...] --action ACTION --resource ARN [--principal ARN] [--tag k=v ...] [--source-identity S] [--token-issue-time T] [--context key=v1,v2 ...] [--json]")
		fs.PrintDefaults()
	}
	if code, ok := cli.ParseFlags(fs, args); !ok {
		return code // cli.ExitOK is ExitAllowed, cli.ExitUsage is ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "simulate: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ExitUsage
	}
	sess, ctx, err := o.build()
	if err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitUsage
	}
	d := sess.Evaluate(o.action, o.resource, ctx)
	res := Result{
		Decision:  d.Outcome,
		Allowed:   d.Allowed(),
		Kind:      d.Kind,
		Policy:    d.Policy,
		Statement: d.Statement,
		Sid:       d.Sid,
		Reason:    d.Explain(),
		Message:   d.Message(),
	}
	if err := write(stdout, res, o.json); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return ExitUsage
	}
	if d.Allowed() {
		return ExitAllowed
	}
	return ExitDenied
}

// build validates the options, loads the policies and returns the session
// and the request context.
func (o *options) build() (*iam.Session, map[string][]string, error) {
	switch {
	case o.action == "":
		return nil, nil, errors.New("--action is required")
	case o.resource == "":
		return nil, nil, errors.New("--resource is required")
	case o.principal == "":
		return nil, nil, errors.New("--principal must not be empty")
	case o.policy == "" && len(o.rolePolicies) == 0:
		return nil, nil, errors.New("give --policy, --role-policy or both")
	}
	c, err := parseContext(o.contexts)
	if err != nil {
		return nil, nil, err
	}
	for key := range c {
		if iam.IsSessionKey(key) {
			return nil, nil, fmt.Errorf("--context %s: a key of the session: use --tag, --source-identity, --token-issue-time or --principal", key)
		}
	}
	s := &iam.Session{Principal: o.principal, SourceIdentity: o.sourceIdentity}
	if o.tokenIssueTime != "" {
		if s.TokenIssueTime, err = time.Parse(time.RFC3339, o.tokenIssueTime); err != nil {
			return nil, nil, fmt.Errorf("--token-issue-time %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", o.tokenIssueTime)
		}
	}
	for _, t := range o.tags {
		k, v, ok := strings.Cut(t, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, nil, fmt.Errorf("--tag %q: want key=value", t)
		}
		s.Tags = append(s.Tags, iam.Tag{Key: strings.TrimSpace(k), Value: v})
	}
	for _, f := range o.rolePolicies {
		p, err := load(f)
		if err != nil {
			return nil, nil, err
		}
		s.Identity = append(s.Identity, p)
	}
	if o.policy != "" {
		p, err := load(o.policy)
		if err != nil {
			return nil, nil, err
		}
		if len(s.Identity) == 0 {
			s.Identity = []*iam.Policy{p}
		} else {
			s.SessionPolicies = []*iam.Policy{p}
		}
	}
	return s, c, nil
}

// parseContext turns "key=v1,v2" flags into a request context.
func parseContext(flags []string) (map[string][]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	c := make(map[string][]string, len(flags))
	for _, f := range flags {
		key, vals, ok := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("--context %q: want key=v1,v2 (or key= for an empty set)", f)
		}
		list := c[key]
		if list == nil {
			list = []string{}
		}
		if vals != "" {
			list = append(list, strings.Split(vals, ",")...)
		}
		c[key] = list
	}
	return c, nil
}

func load(path string) (*iam.Policy, error) {
	doc, err := filelimit.Read(path, maxPolicyFile)
	if err != nil {
		return nil, err
	}
	p, err := iam.Parse(path, doc)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func write(w io.Writer, r Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "decision:  %s\n", r.Decision)
	if r.Statement >= 0 {
		stmt := fmt.Sprintf("statement %d", r.Statement)
		if r.Sid != "" {
			stmt += fmt.Sprintf(" (Sid %q)", r.Sid)
		}
		fmt.Fprintf(&b, "statement: %s of %s %q\n", stmt, r.Kind, r.Policy)
	} else {
		fmt.Fprintf(&b, "statement: none (no %s allows the request)\n", r.Kind)
	}
	fmt.Fprintf(&b, "reason:    %s\n", r.Reason)
	if r.Message != "" {
		fmt.Fprintf(&b, "message:   %s\n", r.Message)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
