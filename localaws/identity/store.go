package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/tvmkit/tvm/policies/iam"
)

// User is an IAM user with long-term access keys.
type User struct {
	Name     string
	Account  string
	ARN      string // arn:aws:iam::ACCOUNT:user/NAME
	ID       string // AIDA..., the aws:userid value
	Policies []*iam.Policy
}

// Tag is a session tag.
type Tag = iam.Tag

// Session is a temporary credential set created by AssumeRole.
type Session struct {
	AccessKeyID     string // ASIA...
	SecretAccessKey string
	SessionToken    string
	Role            *Role
	Name            string // RoleSessionName
	ARN             string // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
	AssumedRoleID   string // AROA...:SESSION
	IssuedAt        time.Time
	Expiration      time.Time
	// Policies are the session policies; empty when none was passed.
	Policies          []*iam.Policy
	Tags              []Tag
	TransitiveTagKeys []string
	SourceIdentity    string
	// Chained is true when the session was created by another role session.
	Chained bool
}

// SessionSpec is what CreateSession needs.
type SessionSpec struct {
	Role              *Role
	Name              string
	Duration          time.Duration
	Policies          []*iam.Policy
	Tags              []Tag
	TransitiveTagKeys []string
	SourceIdentity    string
	Chained           bool
	// MinTokenSize is the least length of the session token, in bytes
	// (AssumeRole's MinimumSessionTokenSize); tokens are never shorter
	// than the default size.
	MinTokenSize int
}

type longTermKey struct {
	secret string
	user   *User
}

// Options configures a Store.
type Options struct {
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Retention is how long an expired session is remembered (so that its
	// use is answered with ExpiredToken); zero means one hour.
	Retention time.Duration
	// MaxSessions bounds the number of live sessions; zero means 100,000.
	MaxSessions int
	// SessionLifetime, when set, is asked the life of each new session
	// given the life asked for: fault injection's sessions that expire
	// early (localaws/faults). nil means as asked.
	SessionLifetime func(asked time.Duration) time.Duration
}

// Store holds principals and sessions.
type Store struct {
	now         func() time.Time
	retention   time.Duration
	maxSessions int
	lifetime    func(time.Duration) time.Duration

	users   []*User
	keys    map[string]longTermKey
	roles   map[string]*Role
	managed map[string]*ManagedPolicy

	mu        sync.Mutex
	sessions  map[string]*Session
	lastPurge time.Time
}

// ErrTooManySessions is returned by CreateSession when MaxSessions live
// sessions exist.
var ErrTooManySessions = errors.New("identity: too many live sessions")

// New validates cfg and returns a store.
func New(cfg *Config, opts Options) (*Store, error) {
	if cfg == nil {
		return nil, errors.New("identity: nil config")
	}
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	b, err := cfg.build(now().UTC().Truncate(time.Second))
	if err != nil {
		return nil, err
	}
	s := &Store{
		now: opts.Clock, retention: opts.Retention, maxSessions: opts.MaxSessions, lifetime: opts.SessionLifetime,
		users: b.users, keys: b.keys, roles: b.roles, managed: b.managed, sessions: map[string]*Session{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.retention <= 0 {
		s.retention = time.Hour
	}
	if s.maxSessions <= 0 {
		s.maxSessions = 100_000
	}
	return s, nil
}

// Now returns the store's current time.
func (s *Store) Now() time.Time { return s.now() }

// Role returns the role with the given ARN.
func (s *Store) Role(arn string) (*Role, bool) {
	r, ok := s.roles[arn]
	return r, ok
}

// Roles returns every role, sorted by ARN.
func (s *Store) Roles() []*Role {
	out := make([]*Role, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// RoleByName returns the role of an account with the given name.
func (s *Store) RoleByName(account, name string) (*Role, bool) {
	for _, r := range s.roles {
		if r.Account == account && r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// ManagedPolicy returns the managed policy with the given ARN.
func (s *Store) ManagedPolicy(arn string) (*ManagedPolicy, bool) {
	m, ok := s.managed[arn]
	return m, ok
}

// Users returns every user in configuration order.
func (s *Store) Users() []*User { return append([]*User(nil), s.users...) }

// Credential is what an access key id resolves to: exactly one of User and
// Session is set.
type Credential struct {
	Secret  string
	User    *User
	Session *Session
}

// Lookup resolves an access key id (long-term or temporary, expired or not).
func (s *Store) Lookup(accessKeyID string) (Credential, bool) {
	if k, ok := s.keys[accessKeyID]; ok {
		return Credential{Secret: k.secret, User: k.user}, true
	}
	s.mu.Lock()
	sess, ok := s.sessions[accessKeyID]
	s.mu.Unlock()
	if !ok {
		return Credential{}, false
	}
	return Credential{Secret: sess.SecretAccessKey, Session: sess}, true
}

// Token check failures.
var (
	// ErrInvalidToken: a token is missing, unexpected or does not belong to the key.
	ErrInvalidToken = errors.New("identity: the security token included in the request is invalid")
	// ErrExpiredToken: the session has expired.
	ErrExpiredToken = errors.New("identity: the security token included in the request is expired")
)

// CheckToken checks the X-Amz-Security-Token value sent with a credential's
// key: long-term keys take no token; temporary keys need their own token
// (compared in constant time) and an unexpired session.
func (s *Store) CheckToken(c Credential, token string) error {
	if c.Session == nil {
		if token != "" {
			return ErrInvalidToken
		}
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(c.Session.SessionToken)) != 1 {
		return ErrInvalidToken
	}
	if !s.now().Before(c.Session.Expiration) {
		return ErrExpiredToken
	}
	return nil
}

// CreateSession creates a role session lasting spec.Duration.
func (s *Store) CreateSession(spec SessionSpec) (*Session, error) {
	if spec.Role == nil {
		return nil, errors.New("identity: CreateSession: nil role")
	}
	now := s.now().UTC().Truncate(time.Second)
	life := spec.Duration
	if s.lifetime != nil {
		life = s.lifetime(life)
	}
	sess := &Session{
		Role:              spec.Role,
		Name:              spec.Name,
		ARN:               "arn:aws:sts::" + spec.Role.Account + ":assumed-role/" + spec.Role.Name + "/" + spec.Name,
		AssumedRoleID:     spec.Role.ID + ":" + spec.Name,
		IssuedAt:          now,
		Expiration:        now.Add(life),
		Policies:          spec.Policies,
		Tags:              spec.Tags,
		TransitiveTagKeys: spec.TransitiveTagKeys,
		SourceIdentity:    spec.SourceIdentity,
		Chained:           spec.Chained,
		SecretAccessKey:   randomString(30, base64.RawStdEncoding)[:40],
		SessionToken:      randomString(max(144, (spec.MinTokenSize+3)/4*3), base64.StdEncoding),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now)
	if len(s.sessions) >= s.maxSessions {
		return nil, ErrTooManySessions
	}
	for {
		sess.AccessKeyID = "ASIA" + randomString(10, base32.StdEncoding.WithPadding(base32.NoPadding))[:16]
		if _, dup := s.sessions[sess.AccessKeyID]; !dup {
			break
		}
	}
	s.sessions[sess.AccessKeyID] = sess
	return sess, nil
}

// Purge removes sessions that expired more than the retention period ago.
func (s *Store) Purge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPurge = time.Time{}
	s.purgeLocked(s.now())
}

// SessionCount returns the number of remembered sessions.
func (s *Store) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Store) purgeLocked(now time.Time) {
	if now.Sub(s.lastPurge) < time.Minute && len(s.sessions) < s.maxSessions {
		return
	}
	s.lastPurge = now
	cutoff := now.Add(-s.retention)
	for k, sess := range s.sessions {
		if sess.Expiration.Before(cutoff) {
			delete(s.sessions, k)
		}
	}
}

func randomString(n int, enc interface{ EncodeToString([]byte) string }) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand: " + err.Error())
	}
	return enc.EncodeToString(b)
}

// stableID derives a 21-character IAM-style unique id (prefix + 17 of
// [A-Z2-7]) from an ARN, so ids survive restarts.
func stableID(prefix, arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return prefix + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:17]
}

// Principal is an authenticated caller: a user or a role session.
type Principal struct {
	User    *User
	Session *Session
}

// ARN returns the caller's ARN.
func (p Principal) ARN() string {
	if p.Session != nil {
		return p.Session.ARN
	}
	return p.User.ARN
}

// Account returns the caller's account id.
func (p Principal) Account() string {
	if p.Session != nil {
		return p.Session.Role.Account
	}
	return p.User.Account
}

// UserID returns the aws:userid value: AIDA... for a user, AROA...:SESSION for
// a role session.
func (p Principal) UserID() string {
	if p.Session != nil {
		return p.Session.AssumedRoleID
	}
	return p.User.ID
}

// insecureTransport is the aws:SecureTransport value of every request:
// the local AWS serves plain HTTP. It is shared and never modified.
var insecureTransport = map[string][]string{"aws:SecureTransport": {"false"}}

// Evaluator returns what evaluates the principal's requests made at now: its
// identity policies (for a role session, the role's policies as they are
// now, plus the session policies) and the global condition keys it
// carries (aws:PrincipalArn, aws:userid, aws:username, aws:TokenIssueTime,
// aws:SourceIdentity, aws:PrincipalTag/<k>, aws:CurrentTime, ...).
func (p Principal) Evaluator(now time.Time) *iam.Session {
	s := &iam.Session{
		Principal:   p.ARN(),
		Account:     p.Account(),
		UserID:      p.UserID(),
		RequestTime: now.UTC(),
		Extra:       insecureTransport,
	}
	if sess := p.Session; sess != nil {
		s.PrincipalARN = sess.Role.ARN
		s.Type = "AssumedRole"
		s.TokenIssueTime = sess.IssuedAt
		s.SourceIdentity = sess.SourceIdentity
		s.Tags = sess.Tags
		s.Identity = sess.Role.Policies()
		s.SessionPolicies = sess.Policies
		return s
	}
	s.PrincipalARN = p.User.ARN
	s.Type = "User"
	s.UserName = p.User.Name
	s.Identity = p.User.Policies
	return s
}
