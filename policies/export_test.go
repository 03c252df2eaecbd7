package policies

// ParseTree exposes parseTree to the external tests.
var ParseTree = parseTree

// ParseTemplateUnlinted parses a template and checks its placeholders
// without linting its sample rendering: the proof tests feed Prove
// deliberately leaky templates the linter would refuse.
func ParseTemplateUnlinted(name string, data []byte, targets []Target) (*Template, error) {
	ps, err := newPlaceholderSet(targets)
	if err != nil {
		return nil, err
	}
	return parseTemplate(name, "test", data, ps)
}
