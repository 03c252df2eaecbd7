package iam

import "strings"

// reqContext is a request context with condition key names folded to lower
// case, since condition key names match case-insensitively.
type reqContext map[string][]string

func newContext(m map[string][]string) reqContext {
	c := make(reqContext, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if prev, ok := c[lk]; ok {
			// Two spellings of one key: present with the union of values.
			c[lk] = append(append([]string(nil), prev...), v...)
			continue
		}
		c[lk] = v
	}
	return c
}

func (c reqContext) lookup(key string) ([]string, bool) {
	v, ok := c[strings.ToLower(key)]
	return v, ok
}

// expand compiles s into a pattern, replacing policy variables when vars is
// true (policies with Version 2012-10-17). When wild is true, '*' and '?'
// written in s are wildcards; text substituted from variables, and the
// escapes ${*}, ${?} and ${$}, are always literal. ok is false when a
// variable names a key that is absent, has no value or is multivalued and no
// default is given: the value then matches nothing.
func expand(s string, c reqContext, vars, wild bool) (g glob, ok bool) {
	g = make(glob, 0, len(s))
	add := func(r rune) {
		if wild {
			g = appendWild(g, r)
		} else {
			g = append(g, elem{kind: elemLit, r: r})
		}
	}
	addAll := func(text string) {
		for _, r := range decodeRunes(text) {
			add(r)
		}
	}
	if !vars || !strings.Contains(s, "${") {
		addAll(s)
		return g, true
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
		val, found := resolveVariable(inner, c)
		if !found {
			return nil, false
		}
		g = appendLiteral(g, val)
	}
	addAll(rest)
	return g, true
}

// resolveVariable resolves the text between "${" and "}".
func resolveVariable(inner string, c reqContext) (string, bool) {
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
	if vals, present := c.lookup(key); present && len(vals) == 1 {
		return vals[0], true
	}
	if hasDefault {
		return def, true
	}
	return "", false
}
