package config

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/dynamodb"
	"github.com/tvmkit/tvm/policies/targets"
)

// TargetSettings is one isolation target's settings in a profile.
type TargetSettings struct {
	// Target names the target (a key of the profile, or dynamodb).
	Target string
	// Field is the YAML path of the settings within the profile, with a
	// trailing dot: "" for DynamoDB's keys at the profile's top level,
	// "NAME." for a section.
	Field string
	// Settings decodes the settings strictly (an unknown key is an error).
	Settings policies.Settings
}

// TargetSettings returns the isolation targets the profile configures, each
// with its settings: DynamoDB (table_arns, leading_key_format) when the
// profile sets table_arns or configures no other target, then every other
// section in name order. The targets are not looked up: Validate reports
// unknown ones.
func (p *Profile) TargetSettings() []TargetSettings {
	var out []TargetSettings
	if len(p.TableARNs) > 0 || len(p.Targets) == 0 {
		var n yaml.Node
		if err := n.Encode(dynamodb.Settings{TableARNs: p.TableARNs, LeadingKeyFormat: p.LeadingKeyFormat}); err != nil {
			panic(err) // a struct of strings always encodes
		}
		out = append(out, TargetSettings{Target: dynamodb.Name, Settings: nodeSettings{&n}})
	}
	names := make([]string, 0, len(p.Targets))
	for name := range p.Targets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		n := p.Targets[name]
		out = append(out, TargetSettings{Target: name, Field: name + ".", Settings: nodeSettings{&n}})
	}
	return out
}

// nodeSettings decodes a YAML node strictly.
type nodeSettings struct{ node *yaml.Node }

// Decode implements policies.Settings.
func (s nodeSettings) Decode(v any) error {
	data, err := yaml.Marshal(s.node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// validateTargets binds every target the profile configures, as the
// compile step will, and reports each problem under the profile's field
// path f.
func (p *Profile) validateTargets(v *validator, f string) {
	for _, ts := range p.TargetSettings() {
		if ts.Target == dynamodb.Name && ts.Field != "" {
			v.add(f+ts.Target, "the DynamoDB settings are the profile's table_arns and leading_key_format")
			continue
		}
		t, ok := targets.Lookup(ts.Target)
		if !ok {
			v.add(f+ts.Target, "unknown field: not a profile field nor a registered isolation target (%s)", targetNames())
			continue
		}
		if _, err := t.Bind(ts.Settings); err != nil {
			addSettingErrors(v, f+ts.Field, ts.Target, err)
		}
	}
}

// addSettingErrors reports err, (joined) *policies.SettingError values, each
// under prefix + its field; another error is reported under prefix.
func addSettingErrors(v *validator, prefix, name string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			addSettingErrors(v, prefix, name, e)
		}
		return
	}
	var se *policies.SettingError
	if errors.As(err, &se) {
		v.add(trimDot(prefix+se.Field), "%s", se.Problem)
		return
	}
	v.add(trimDot(prefix), "%s: %v", name, err)
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

func targetNames() string {
	var names []string
	for _, t := range targets.All() {
		names = append(names, t.Name())
	}
	return fmt.Sprint(names)
}
