package iam

import "strings"

// values is the value set of one context key. A session field's single
// value is held without allocating a slice for it.
type values struct {
	list   []string
	one    string
	single bool
}

func oneValue(s string) values { return values{one: s, single: true} }

func (v values) len() int {
	if v.single {
		return 1
	}
	return len(v.list)
}

// empty reports whether v holds no value but empty strings (none at all
// included): a null data set.
func (v values) empty() bool {
	for i := 0; i < v.len(); i++ {
		if v.at(i) != "" {
			return false
		}
	}
	return true
}

func (v values) at(i int) string {
	if v.single {
		return v.one
	}
	return v.list[i]
}

// lookupFold finds key in m case-insensitively. Two spellings of one key
// form one key whose values are their union.
func lookupFold(m map[string][]string, key string) (values, bool) {
	var out values
	found := false
	for k, v := range m {
		if !strings.EqualFold(k, key) {
			continue
		}
		if !found {
			out, found = values{list: v}, true
			continue
		}
		out.list = append(append([]string(nil), out.list...), v...)
	}
	return out, found
}

// expand compiles s into a pattern, replacing policy variables with the
// request's values. When wild is true, '*' and '?' written in s are
// wildcards; text substituted from variables, and the escapes ${*}, ${?}
// and ${$}, are always literal. ok is false when a variable names a key
// that is absent, has no value or is multivalued and no default is given:
// the value then matches nothing.
func (ev *evaluator) expand(s string, wild bool) (g glob, ok bool) {
	return ev.expandWide(s, wild, false)
}

// expandWide is expand where a variable naming an unknown key
// (EvaluatePossible) becomes a '*' wildcard when wide, and makes the value
// match nothing otherwise.
func (ev *evaluator) expandWide(s string, wild, wide bool) (g glob, ok bool) {
	g = make(glob, 0, len(s))
	addAll := func(text string) {
		if wild {
			for i := 0; i < len(text); {
				r, size := decodeAt(text, i)
				g = appendWild(g, r)
				i += size
			}
			return
		}
		g = appendLiteral(g, text)
	}
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			break
		}
		addAll(rest[:i])
		inner := rest[i+2 : i+end]
		rest = rest[i+end+1:]
		if key, ok := variableKey(inner); ok && ev.unknown != nil && ev.unknown(key) {
			if !wide {
				return nil, false
			}
			g = append(g, elem{kind: elemStar})
			continue
		}
		val, found := ev.resolveVariable(inner)
		if !found {
			return nil, false
		}
		g = appendLiteral(g, val)
	}
	addAll(rest)
	return g, true
}

// resolveVariable resolves the text between "${" and "}".
func (ev *evaluator) resolveVariable(inner string) (string, bool) {
	switch strings.TrimSpace(inner) {
	case "*", "?", "$":
		return strings.TrimSpace(inner), true
	}
	key, def, hasDefault := strings.Cut(inner, ",")
	key = strings.TrimSpace(key)
	if hasDefault {
		d := strings.TrimSpace(def)
		if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
			def = d[1 : len(d)-1]
		} else {
			// A malformed default is not a default: the value matches nothing.
			hasDefault = false
		}
	}
	if vals, present := ev.lookup(key); present && vals.len() == 1 {
		return vals.at(0), true
	}
	if hasDefault {
		return def, true
	}
	return "", false
}

// variableKey returns the condition key a policy variable's text (between
// "${" and "}") names; ok is false for the escapes ${*}, ${?} and ${$}.
func variableKey(inner string) (key string, ok bool) {
	switch strings.TrimSpace(inner) {
	case "*", "?", "$":
		return "", false
	}
	key, _, _ = strings.Cut(inner, ",")
	return strings.TrimSpace(key), true
}

// variableKeys returns the condition keys the policy variables in s name.
func variableKeys(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return out
		}
		if key, ok := variableKey(s[i+2 : i+end]); ok {
			out = append(out, key)
		}
		s = s[i+end+1:]
	}
}
