package targets

import (
	"testing"

	"github.com/tvmkit/tvm/policies"
)

// TestRegistry: names, placeholders and rule ids are unique across the
// registered targets and the generic ones, and the shipped templates load.
func TestRegistry(t *testing.T) {
	names := map[string]bool{}
	rules := map[string]bool{}
	placeholders := map[string]bool{policies.PlaceholderTenant: true}
	for _, tg := range All() {
		if names[tg.Name()] {
			t.Errorf("target %s registered twice", tg.Name())
		}
		names[tg.Name()] = true
		if got, ok := Lookup(tg.Name()); !ok || got != tg {
			t.Errorf("Lookup(%q) = %v, %v", tg.Name(), got, ok)
		}
		for _, p := range tg.Placeholders() {
			if placeholders[p.Name] {
				t.Errorf("placeholder %s defined twice", p.Name)
			}
			placeholders[p.Name] = true
		}
	}
	for _, r := range policies.Rules(All()...) {
		if rules[r] {
			t.Errorf("rule id %s defined twice", r)
		}
		rules[r] = true
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found a target")
	}
	if _, err := policies.LoadTemplates("", All()); err != nil {
		t.Errorf("shipped templates: %v", err)
	}
}
