// Package targets is the registry of isolation targets: the one place a
// target is registered, with one line in registered. Configuration
// validation, the profile compile step, template loading and the tvm-broker
// commands take the targets from here; package policies itself never
// imports a target.
//
// # Adding a target
//
// A new target is a new package under policies/ implementing
// policies.Target (its action catalogue, placeholders, statement lint rules,
// settings and proof battery), one line in registered below, and, for the
// local AWS, its enforcing endpoint with the request-to-condition-keys
// extraction. Its profile settings are a section named after it in the
// broker configuration (profiles[].NAME), decoded strictly by its Bind.
//
// The registry is fixed at build time and safe for concurrent use.
package targets

import (
	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/s3"
)

// registered lists every isolation target, in the order their placeholders,
// rules and proof rows are presented.
var registered = []policies.Target{
	dynamodb.Target,
	s3.Target,
}

// All returns every registered target. The slice must not be modified.
func All() []policies.Target { return registered }

// Lookup returns the target called name.
func Lookup(name string) (policies.Target, bool) {
	for _, t := range registered {
		if t.Name() == name {
			return t, true
		}
	}
	return nil, false
}
