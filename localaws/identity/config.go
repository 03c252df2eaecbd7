// Package identity holds the local AWS's principals: accounts, IAM users with
// long-term access keys, roles with trust and identity policies, and the
// temporary sessions STS AssumeRole creates.
//
// Configuration is YAML (see default.yaml, embedded as DefaultYAML), decoded
// strictly: unknown keys, duplicate names or access keys, malformed policies
// and out-of-range durations are errors naming the field.
//
// A Store is safe for concurrent use. Users and roles are immutable after
// New; sessions are added by CreateSession and purged lazily some time after
// they expire (they are kept for Options.Retention so that a client using an
// expired session is told so rather than that its key is unknown).
package identity

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
	"go.yaml.in/yaml/v3"
)

// DefaultYAML is the built-in configuration: account 123456789012, users
// broker and admin, roles tvm-tenant-read, tvm-tenant-readwrite and
// tvm-no-grant.
//
//go:embed default.yaml
var DefaultYAML []byte

// Config is the YAML configuration.
type Config struct {
	Accounts []AccountConfig `yaml:"accounts"`
}

// AccountConfig is one account's principals.
type AccountConfig struct {
	ID    string       `yaml:"id"`
	Users []UserConfig `yaml:"users"`
	Roles []RoleConfig `yaml:"roles"`
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
	MaxSessionDuration string         `yaml:"max_session_duration"`
	TrustPolicy        string         `yaml:"trust_policy"`
	Policies           []PolicyConfig `yaml:"policies"`
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
)

// Role session duration bounds (IAM's MaxSessionDuration range).
const (
	MinRoleMaxSession     = time.Hour
	MaxRoleMaxSession     = 12 * time.Hour
	DefaultRoleMaxSession = time.Hour
)

// build validates c and turns it into users and roles.
func (c *Config) build() (users []*User, keys map[string]longTermKey, roles map[string]*Role, err error) {
	keys = map[string]longTermKey{}
	roles = map[string]*Role{}
	if len(c.Accounts) == 0 {
		return nil, nil, nil, errors.New("identity: accounts: at least one account is required")
	}
	seenAcct := map[string]bool{}
	for ai, a := range c.Accounts {
		at := fmt.Sprintf("accounts[%d]", ai)
		if !accountRE.MatchString(a.ID) {
			return nil, nil, nil, fmt.Errorf("identity: %s.id: %q is not a 12-digit account id", at, a.ID)
		}
		if seenAcct[a.ID] {
			return nil, nil, nil, fmt.Errorf("identity: %s.id: duplicate account %s", at, a.ID)
		}
		seenAcct[a.ID] = true
		seenUser := map[string]bool{}
		for ui, uc := range a.Users {
			ut := fmt.Sprintf("%s.users[%d]", at, ui)
			if !nameRE.MatchString(uc.Name) {
				return nil, nil, nil, fmt.Errorf("identity: %s.name: %q is not a valid user name", ut, uc.Name)
			}
			if seenUser[uc.Name] {
				return nil, nil, nil, fmt.Errorf("identity: %s.name: duplicate user %q", ut, uc.Name)
			}
			seenUser[uc.Name] = true
			arn := "arn:aws:iam::" + a.ID + ":user/" + uc.Name
			u := &User{Name: uc.Name, Account: a.ID, ARN: arn, ID: stableID("AIDA", arn)}
			if u.Policies, err = parsePolicies(ut, "user", uc.Policies); err != nil {
				return nil, nil, nil, err
			}
			if len(uc.AccessKeys) == 0 {
				return nil, nil, nil, fmt.Errorf("identity: %s.access_keys: at least one access key is required", ut)
			}
			for ki, k := range uc.AccessKeys {
				kt := fmt.Sprintf("%s.access_keys[%d]", ut, ki)
				if !longKeyRE.MatchString(k.ID) {
					return nil, nil, nil, fmt.Errorf("identity: %s.id: %q must be AKIA followed by 16 of [A-Z0-9]", kt, k.ID)
				}
				if len(k.Secret) < 16 || len(k.Secret) > 128 {
					return nil, nil, nil, fmt.Errorf("identity: %s.secret: must be 16 to 128 characters", kt)
				}
				if _, dup := keys[k.ID]; dup {
					return nil, nil, nil, fmt.Errorf("identity: %s.id: duplicate access key %s", kt, k.ID)
				}
				keys[k.ID] = longTermKey{secret: k.Secret, user: u}
			}
			users = append(users, u)
		}
		for ri, rc := range a.Roles {
			rt := fmt.Sprintf("%s.roles[%d]", at, ri)
			if !nameRE.MatchString(rc.Name) {
				return nil, nil, nil, fmt.Errorf("identity: %s.name: %q is not a valid role name", rt, rc.Name)
			}
			arn := "arn:aws:iam::" + a.ID + ":role/" + rc.Name
			if _, dup := roles[arn]; dup {
				return nil, nil, nil, fmt.Errorf("identity: %s.name: duplicate role %q", rt, rc.Name)
			}
			r := &Role{Name: rc.Name, Account: a.ID, ARN: arn, ID: stableID("AROA", arn), MaxSessionDuration: DefaultRoleMaxSession}
			if rc.MaxSessionDuration != "" {
				d, perr := time.ParseDuration(rc.MaxSessionDuration)
				if perr != nil || d < MinRoleMaxSession || d > MaxRoleMaxSession || d%time.Second != 0 {
					return nil, nil, nil, fmt.Errorf("identity: %s.max_session_duration: %q must be a duration between 1h and 12h", rt, rc.MaxSessionDuration)
				}
				r.MaxSessionDuration = d
			}
			if rc.TrustPolicy == "" {
				return nil, nil, nil, fmt.Errorf("identity: %s.trust_policy: required", rt)
			}
			if r.Trust, err = iam.ParseTrustPolicy("trust policy of role "+rc.Name, []byte(rc.TrustPolicy)); err != nil {
				return nil, nil, nil, fmt.Errorf("identity: %s.trust_policy: %w", rt, err)
			}
			if r.Policies, err = parsePolicies(rt, "role", rc.Policies); err != nil {
				return nil, nil, nil, err
			}
			roles[arn] = r
		}
	}
	return users, keys, roles, nil
}

func parsePolicies(at, kind string, pcs []PolicyConfig) ([]*iam.Policy, error) {
	seen := map[string]bool{}
	out := make([]*iam.Policy, 0, len(pcs))
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
		out = append(out, p)
	}
	return out, nil
}
