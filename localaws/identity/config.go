// Package identity holds the local AWS's principals: accounts, IAM users with
// long-term access keys, customer managed policies, roles with trust,
// inline and attached policies, and the temporary sessions STS AssumeRole
// creates.
//
// Configuration is YAML (see default.yaml, embedded as DefaultYAML), decoded
// strictly: unknown keys, duplicate names or access keys, malformed policies
// and out-of-range durations are errors naming the field.
//
// A Store is safe for concurrent use. Users and managed policies are
// immutable after New. A role's inline policies change through
// Role.PutInlinePolicy / DeleteInlinePolicy (writers are serialised, readers
// see one consistent version), and every session is evaluated against its
// role's policies as they are at the time of each request. Sessions are
// added by CreateSession and purged lazily some time after they expire
// (they are kept for Options.Retention so that a client using an expired
// session is told so rather than that its key is unknown).
package identity

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
	"go.yaml.in/yaml/v3"
)

// DefaultYAML is the built-in configuration: account 123456789012 with
// users broker and admin, roles tvm-tenant-read, tvm-tenant-readwrite and
// tvm-no-grant, the silo model's tvm-tenant-silo and the ABAC model's
// tvm-tenant-abac, the seed's function and tenant roles, a role trusted by
// the account and one trusted by a user of a second account, 210987654321.
//
//go:embed default.yaml
var DefaultYAML []byte

// Config is the YAML configuration.
type Config struct {
	Accounts []AccountConfig `yaml:"accounts"`
}

// AccountConfig is one account's principals and managed policies.
type AccountConfig struct {
	ID              string                `yaml:"id"`
	ManagedPolicies []ManagedPolicyConfig `yaml:"managed_policies"`
	Users           []UserConfig          `yaml:"users"`
	Roles           []RoleConfig          `yaml:"roles"`
}

// ManagedPolicyConfig is a customer managed policy: ARN
// arn:aws:iam::ACCOUNT:policy/PATHNAME, versions v1, v2, ... in order.
type ManagedPolicyConfig struct {
	Name        string                `yaml:"name"`
	Path        string                `yaml:"path"`
	Description string                `yaml:"description"`
	Versions    []PolicyVersionConfig `yaml:"versions"`
	// DefaultVersion is the version in force ("v2"); "" means the last.
	DefaultVersion string `yaml:"default_version"`
}

// PolicyVersionConfig is one version of a managed policy.
type PolicyVersionConfig struct {
	Document string `yaml:"document"`
}

// UserConfig is an IAM user.
type UserConfig struct {
	Name       string         `yaml:"name"`
	AccessKeys []AccessKey    `yaml:"access_keys"`
	Policies   []PolicyConfig `yaml:"policies"`
}

// AccessKey is a long-term access key pair.
type AccessKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

// PolicyConfig is a named policy document (JSON text).
type PolicyConfig struct {
	Name     string `yaml:"name"`
	Document string `yaml:"document"`
}

// RoleConfig is an IAM role.
type RoleConfig struct {
	Name               string         `yaml:"name"`
	Path               string         `yaml:"path"`
	MaxSessionDuration string         `yaml:"max_session_duration"`
	TrustPolicy        string         `yaml:"trust_policy"`
	Policies           []PolicyConfig `yaml:"policies"`
	// ManagedPolicyARNs attaches managed policies of the same account.
	ManagedPolicyARNs []string `yaml:"managed_policy_arns"`
}

// ParseConfig decodes YAML strictly (unknown keys are errors). It does not
// validate semantics: New does.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("identity: config is empty")
		}
		return nil, fmt.Errorf("identity: config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("identity: config: more than one YAML document")
	}
	return &c, nil
}

// LoadConfig reads and decodes a YAML file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return ParseConfig(data)
}

// DefaultConfig decodes DefaultYAML.
func DefaultConfig() *Config {
	c, err := ParseConfig(DefaultYAML)
	if err != nil {
		panic("identity: built-in config: " + err.Error())
	}
	return c
}

var (
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	nameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	longKeyRE   = regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`)
	policyNameR = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	pathRE      = regexp.MustCompile(`^/([\x21-\x7E]{0,510}/)?$`)
)

// Role session duration bounds (IAM's MaxSessionDuration range).
const (
	MinRoleMaxSession     = time.Hour
	MaxRoleMaxSession     = 12 * time.Hour
	DefaultRoleMaxSession = time.Hour
)

// built is a validated configuration.
type built struct {
	users   []*User
	keys    map[string]longTermKey
	roles   map[string]*Role
	managed map[string]*ManagedPolicy
}

// build validates c and turns it into users, roles and managed policies;
// created is the creation date of every entity.
func (c *Config) build(created time.Time) (*built, error) {
	b := &built{keys: map[string]longTermKey{}, roles: map[string]*Role{}, managed: map[string]*ManagedPolicy{}}
	if len(c.Accounts) == 0 {
		return nil, errors.New("identity: accounts: at least one account is required")
	}
	seenAcct := map[string]bool{}
	for ai, a := range c.Accounts {
		at := fmt.Sprintf("accounts[%d]", ai)
		if !accountRE.MatchString(a.ID) {
			return nil, fmt.Errorf("identity: %s.id: %q is not a 12-digit account id", at, a.ID)
		}
		if seenAcct[a.ID] {
			return nil, fmt.Errorf("identity: %s.id: duplicate account %s", at, a.ID)
		}
		seenAcct[a.ID] = true
		for i, mc := range a.ManagedPolicies {
			if err := b.addManaged(fmt.Sprintf("%s.managed_policies[%d]", at, i), a.ID, mc, created); err != nil {
				return nil, err
			}
		}
		seenUser := map[string]bool{}
		for ui, uc := range a.Users {
			ut := fmt.Sprintf("%s.users[%d]", at, ui)
			if seenUser[uc.Name] {
				return nil, fmt.Errorf("identity: %s.name: duplicate user %q", ut, uc.Name)
			}
			seenUser[uc.Name] = true
			if err := b.addUser(ut, a.ID, uc); err != nil {
				return nil, err
			}
		}
		for ri, rc := range a.Roles {
			if err := b.addRole(fmt.Sprintf("%s.roles[%d]", at, ri), a.ID, rc, created); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// pathedARN checks the name (against nameRE) and path of an IAM entity of
// kind ("role", "policy") configured at at, and returns its normalized path
// and ARN, arn:aws:iam::ACCOUNT:KIND/PATH/NAME.
func pathedARN(at, account, kind string, nameRE *regexp.Regexp, name, rawPath string) (path, arn string, err error) {
	if !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("identity: %s.name: %q is not a valid %s name", at, name, kind)
	}
	if path, err = normalizePath(rawPath); err != nil {
		return "", "", fmt.Errorf("identity: %s.path: %v", at, err)
	}
	return path, "arn:aws:iam::" + account + ":" + kind + "/" + pathName(path, name), nil
}

func (b *built) addManaged(at, account string, mc ManagedPolicyConfig, created time.Time) error {
	path, arn, err := pathedARN(at, account, "policy", policyNameR, mc.Name, mc.Path)
	if err != nil {
		return err
	}
	if _, dup := b.managed[arn]; dup {
		return fmt.Errorf("identity: %s.name: duplicate managed policy %q", at, mc.Name)
	}
	if len(mc.Versions) == 0 || len(mc.Versions) > 5 {
		return fmt.Errorf("identity: %s.versions: a managed policy has 1 to 5 versions", at)
	}
	m := &ManagedPolicy{Name: mc.Name, Path: path, ARN: arn, ID: stableID("ANPA", arn), Description: mc.Description, CreateDate: created}
	for i, vc := range mc.Versions {
		id := fmt.Sprintf("v%d", i+1)
		p, err := iam.Parse("managed policy "+mc.Name, []byte(vc.Document))
		if err != nil {
			return fmt.Errorf("identity: %s.versions[%d].document: %w", at, i, err)
		}
		m.Versions = append(m.Versions, PolicyVersion{ID: id, Document: vc.Document, Policy: p, CreateDate: created})
	}
	m.DefaultVersionID = m.Versions[len(m.Versions)-1].ID
	if mc.DefaultVersion != "" {
		if _, ok := m.Version(mc.DefaultVersion); !ok {
			return fmt.Errorf("identity: %s.default_version: %q is not one of v1..v%d", at, mc.DefaultVersion, len(m.Versions))
		}
		m.DefaultVersionID = mc.DefaultVersion
	}
	b.managed[arn] = m
	return nil
}

func (b *built) addUser(ut, account string, uc UserConfig) error {
	if !nameRE.MatchString(uc.Name) {
		return fmt.Errorf("identity: %s.name: %q is not a valid user name", ut, uc.Name)
	}
	arn := "arn:aws:iam::" + account + ":user/" + uc.Name
	u := &User{Name: uc.Name, Account: account, ARN: arn, ID: stableID("AIDA", arn)}
	inline, err := parsePolicies(ut, "user", uc.Policies)
	if err != nil {
		return err
	}
	for _, p := range inline {
		u.Policies = append(u.Policies, p.Policy)
	}
	if len(uc.AccessKeys) == 0 {
		return fmt.Errorf("identity: %s.access_keys: at least one access key is required", ut)
	}
	for ki, k := range uc.AccessKeys {
		kt := fmt.Sprintf("%s.access_keys[%d]", ut, ki)
		if !longKeyRE.MatchString(k.ID) {
			return fmt.Errorf("identity: %s.id: %q must be AKIA followed by 16 of [A-Z0-9]", kt, k.ID)
		}
		if len(k.Secret) < 16 || len(k.Secret) > 128 {
			return fmt.Errorf("identity: %s.secret: must be 16 to 128 characters", kt)
		}
		if _, dup := b.keys[k.ID]; dup {
			return fmt.Errorf("identity: %s.id: duplicate access key %s", kt, k.ID)
		}
		b.keys[k.ID] = longTermKey{secret: k.Secret, user: u}
	}
	b.users = append(b.users, u)
	return nil
}

func (b *built) addRole(rt, account string, rc RoleConfig, created time.Time) error {
	path, arn, err := pathedARN(rt, account, "role", nameRE, rc.Name, rc.Path)
	if err != nil {
		return err
	}
	for _, r := range b.roles {
		if r.Account == account && r.Name == rc.Name {
			return fmt.Errorf("identity: %s.name: duplicate role %q", rt, rc.Name)
		}
	}
	r := &Role{Name: rc.Name, Path: path, Account: account, ARN: arn, ID: stableID("AROA", arn),
		CreateDate: created, MaxSessionDuration: DefaultRoleMaxSession, TrustDocument: rc.TrustPolicy}
	if rc.MaxSessionDuration != "" {
		d, perr := time.ParseDuration(rc.MaxSessionDuration)
		if perr != nil || d < MinRoleMaxSession || d > MaxRoleMaxSession || d%time.Second != 0 {
			return fmt.Errorf("identity: %s.max_session_duration: %q must be a duration between 1h and 12h", rt, rc.MaxSessionDuration)
		}
		r.MaxSessionDuration = d
	}
	if rc.TrustPolicy == "" {
		return fmt.Errorf("identity: %s.trust_policy: required", rt)
	}
	if r.Trust, err = iam.ParseTrustPolicy("trust policy of role "+rc.Name, []byte(rc.TrustPolicy)); err != nil {
		return fmt.Errorf("identity: %s.trust_policy: %w", rt, err)
	}
	inline, err := parsePolicies(rt, "role", rc.Policies)
	if err != nil {
		return err
	}
	var attached []*ManagedPolicy
	for i, a := range rc.ManagedPolicyARNs {
		m, ok := b.managed[a]
		if !ok || iam.ARNAccount(a) != account {
			return fmt.Errorf("identity: %s.managed_policy_arns[%d]: %q is not a managed policy of account %s", rt, i, a, account)
		}
		if slices.Contains(attached, m) {
			return fmt.Errorf("identity: %s.managed_policy_arns[%d]: %q attached twice", rt, i, a)
		}
		attached = append(attached, m)
		m.AttachmentCount++
	}
	r.state.Store(newRoleState(inline, attached))
	b.roles[arn] = r
	return nil
}

func parsePolicies(at, kind string, pcs []PolicyConfig) ([]InlinePolicy, error) {
	seen := map[string]bool{}
	out := make([]InlinePolicy, 0, len(pcs))
	for i, pc := range pcs {
		pt := fmt.Sprintf("%s.policies[%d]", at, i)
		if !policyNameR.MatchString(pc.Name) {
			return nil, fmt.Errorf("identity: %s.name: %q is not a valid policy name", pt, pc.Name)
		}
		if seen[pc.Name] {
			return nil, fmt.Errorf("identity: %s.name: duplicate policy %q", pt, pc.Name)
		}
		seen[pc.Name] = true
		p, err := iam.Parse(kind+" policy "+pc.Name, []byte(pc.Document))
		if err != nil {
			return nil, fmt.Errorf("identity: %s.document: %w", pt, err)
		}
		out = append(out, InlinePolicy{Name: pc.Name, Document: pc.Document, Policy: p})
	}
	return out, nil
}
