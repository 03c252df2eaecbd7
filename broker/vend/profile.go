package vend

import (
	"time"

	"github.com/tvmkit/tvm/broker/profiles"
)

// profile is a compiled profile (package profiles, which validated and
// proved it once at start-up) with the values a vend reads copied into
// plain fields. It is immutable.
type profile struct {
	*profiles.Profile
	name           string
	roleARN        string
	defaultDur     time.Duration
	maxDur         time.Duration
	externalID     string
	tags           []profiles.Tag // sorted by key
	transitive     []string
	perSubject     bool
	sourceIdentity bool
	allowedTenants map[string]struct{} // nil = every tenant
	requiredScope  string
}

// fromSet returns the profiles of set by name.
func fromSet(set *profiles.Set) map[string]*profile {
	out := map[string]*profile{}
	for _, name := range set.Names() {
		p, _ := set.Profile(name)
		out[name] = &profile{
			Profile:        p,
			name:           p.Name(),
			roleARN:        p.RoleARN(),
			defaultDur:     p.DefaultDuration(),
			maxDur:         p.MaxDuration(),
			externalID:     p.ExternalID(),
			tags:           p.Tags(),
			transitive:     p.TransitiveTagKeys(),
			perSubject:     p.PerSubject(),
			sourceIdentity: p.SourceIdentity(),
			allowedTenants: p.AllowedTenants(),
			requiredScope:  p.RequiredScope(),
		}
	}
	return out
}
