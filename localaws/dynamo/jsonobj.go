package dynamo

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tvmkit/tvm/internal/jsondup"
	"github.com/tvmkit/tvm/internal/jsonscan"
)

// object is one decoded JSON object whose member values are kept raw: each
// value is the exact bytes of the value in the parsed document (no
// surrounding whitespace), in request order.
//
// The gateway authorizes what it reads here and forwards the original bytes,
// so it must read exactly what the backend will read. Backends differ:
// minidyn decodes with encoding/json, which matches member names
// case-insensitively (with Unicode folding, so "\u212Aey" is "Key") and lets
// the last duplicate win; dynalite is case-sensitive. An object is therefore
// refused (SerializationException) when a name appears twice, and, for API
// structures (strict objects), when two names fold to the same name or a
// member is spelled in another case than the API's. User-keyed maps (Item,
// Key, ExpressionAttributeValues, ...) are case-sensitive and only refuse
// exact duplicates.
type object struct {
	members []member
	strict  bool
	// byName and byFold index members by name and folded name once an
	// object has more than indexAfter members, so that a large object
	// (an item of many attributes) costs linear time, not quadratic.
	byName, byFold map[string]int
	// inline holds the members of small objects (every API structure of a
	// real request), so that parsing one costs a single allocation.
	inline [4]member
}

// member is one name and its raw value.
type member struct {
	name string
	raw  []byte
}

var errNotObject = errors.New("not a JSON object")

// parseObject decodes raw, which must be exactly one JSON object with
// nothing but JSON whitespace around it. The whole of raw is validated as
// encoding/json validates a document (grammar, string escapes, nesting at
// most maxJSONDepth deep); member names are decoded as encoding/json decodes
// them. Only the object's own members are split out: a nested object is
// parsed when it is read (obj), from its raw bytes.
func parseObject(raw []byte, strict bool) (*object, error) {
	i := jsonscan.Space(raw, 0)
	if i == len(raw) {
		return nil, jsonscan.ErrUnexpectedEnd
	}
	if raw[i] != '{' {
		if _, err := skipValue(raw, i, maxJSONDepth); err != nil {
			return nil, err
		}
		return nil, errNotObject
	}
	o := &object{strict: strict}
	o.members = o.inline[:0]
	end, err := o.parseMembers(raw, i+1)
	if err != nil {
		return nil, err
	}
	if end = jsonscan.Space(raw, end); end != len(raw) {
		return nil, errors.New("trailing data after JSON object")
	}
	return o, nil
}

// parseMembers reads the members of the object whose '{' precedes raw[i]
// and returns the offset after its '}'.
func (o *object) parseMembers(raw []byte, i int) (int, error) {
	i = jsonscan.Space(raw, i)
	if i < len(raw) && raw[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return 0, jsonscan.SyntaxError(raw, i, "looking for beginning of object key string")
		}
		end, err := jsonscan.String(raw, i)
		if err != nil {
			return 0, err
		}
		name, err := jsonscan.Unquote(raw[i:end])
		if err != nil {
			return 0, err
		}
		if i = jsonscan.Space(raw, end); i >= len(raw) || raw[i] != ':' {
			return 0, jsonscan.SyntaxError(raw, i, "after object key")
		}
		start := jsonscan.Space(raw, i+1)
		// The object itself is one level: its values may nest one less.
		if end, err = skipValue(raw, start, maxJSONDepth-1); err != nil {
			return 0, err
		}
		if err := o.add(name, raw[start:end]); err != nil {
			return 0, err
		}
		switch i = jsonscan.Space(raw, end); {
		case i < len(raw) && raw[i] == ',':
			i = jsonscan.Space(raw, i+1)
		case i < len(raw) && raw[i] == '}':
			return i + 1, nil
		default:
			return 0, jsonscan.SyntaxError(raw, i, "after object key:value pair")
		}
	}
}

// indexAfter is the number of members up to which an object is searched
// by a scan rather than through maps.
const indexAfter = 16

// add appends a member, refusing a duplicate name and, in a strict object,
// a name that folds to another member's.
func (o *object) add(name string, raw []byte) error {
	m := member{name: name, raw: raw}
	if i := o.find(name); i >= 0 {
		return fmt.Errorf("duplicate member %q", name)
	}
	if o.strict {
		if i := o.findFolded(name); i >= 0 {
			return fmt.Errorf("members %q and %q differ only in case", o.members[i].name, name)
		}
	}
	o.members = append(o.members, m)
	switch n := len(o.members); {
	case n <= indexAfter:
	case o.byName == nil:
		o.byName, o.byFold = make(map[string]int, 2*n), make(map[string]int, 2*n)
		for i, m := range o.members {
			o.index(i, m)
		}
	default:
		o.index(n-1, m)
	}
	return nil
}

func (o *object) index(i int, m member) {
	o.byName[m.name] = i
	if o.strict {
		o.byFold[jsondup.FoldName(m.name)] = i
	}
}

// find returns the position of member name, or -1.
func (o *object) find(name string) int {
	if o.byName != nil {
		if i, ok := o.byName[name]; ok {
			return i
		}
		return -1
	}
	for i, m := range o.members {
		if m.name == name {
			return i
		}
	}
	return -1
}

// findFolded returns the position of a member whose name folds to the
// same name as name (strict objects), or -1.
func (o *object) findFolded(name string) int {
	if o.byFold != nil {
		if i, ok := o.byFold[jsondup.FoldName(name)]; ok {
			return i
		}
		return -1
	}
	for i, m := range o.members {
		if foldEqual(m.name, name) {
			return i
		}
	}
	return -1
}

// foldEqual reports whether a and b are one name as encoding/json matches
// member names, i.e. jsondup.FoldName(a) == jsondup.FoldName(b):
// strings.EqualFold is the comparison FoldName canonicalizes (Unicode
// simple folding, rune by rune; FuzzFoldEqual holds them together), and it
// compares without building either folded form.
func foldEqual(a, b string) bool { return strings.EqualFold(a, b) }

// len returns the number of members.
func (o *object) len() int { return len(o.members) }

// names returns the member names in request order.
func (o *object) names() []string {
	out := make([]string, len(o.members))
	for i, m := range o.members {
		out[i] = m.name
	}
	return out
}

// get returns the raw value of member name (nil when absent, or when it is
// JSON null, which DynamoDB treats as absent). In a strict object a member
// spelled in another case is an error.
func (o *object) get(name string) ([]byte, error) {
	if i := o.find(name); i >= 0 {
		if raw := o.members[i].raw; !isNull(raw) {
			return raw, nil
		}
		return nil, nil
	}
	if o.strict {
		if i := o.findFolded(name); i >= 0 {
			return nil, fmt.Errorf("unexpected member %q (did you mean %q?)", o.members[i].name, name)
		}
	}
	return nil, nil
}

func isNull(raw []byte) bool { return string(raw) == "null" }

// str returns member name as a string ("" when absent).
func (o *object) str(name string) (string, error) {
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return "", err
	}
	if raw[0] != '"' {
		return "", fmt.Errorf("member %s: expected a string", name)
	}
	return jsonscan.Unquote(raw)
}

// obj returns member name as an object (nil when absent).
func (o *object) obj(name string, strict bool) (*object, error) {
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return nil, err
	}
	m, err := parseObject(raw, strict)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", name, err)
	}
	return m, nil
}

// list returns member name as a list of raw values (nil when absent).
func (o *object) list(name string) ([]json.RawMessage, error) {
	return o.listAtMost(name, -1)
}

// errTooMany is listAtMost's error for a list longer than its limit.
var errTooMany = errors.New("too many list elements")

// listAtMost is list for a list of at most max elements (any number when
// max is negative); a longer list is errTooMany, found before anything is
// split out, so that a request cannot make the gateway hold more elements
// than DynamoDB's limits let it execute.
func (o *object) listAtMost(name string, max int) ([]json.RawMessage, error) {
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return nil, err
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("member %s: expected a list", name)
	}
	if max >= 0 && countArray(raw) > max {
		return nil, errTooMany
	}
	return splitArray(raw), nil
}

// strings returns member name as a list of at most max strings (nil when
// absent; errTooMany when longer); a null element is "", as encoding/json
// decodes it.
func (o *object) strings(name string, max int) ([]string, error) {
	elems, err := o.listAtMost(name, max)
	if err != nil || elems == nil {
		return nil, err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if isNull(e) {
			continue
		}
		if e[0] != '"' {
			return nil, fmt.Errorf("member %s: expected a list of strings", name)
		}
		if out[i], err = jsonscan.Unquote(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stringMap returns member name as a map of strings (ExpressionAttributeNames).
func (o *object) stringMap(name string) (map[string]string, error) {
	m, err := o.obj(name, false)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m.members))
	for _, mem := range m.members {
		s, err := m.str(mem.name)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
		out[mem.name] = s
	}
	return out, nil
}

// lookup returns the raw value of member name exactly as given (null
// included) and whether it is present.
func (o *object) lookup(name string) ([]byte, bool) {
	if i := o.find(name); i >= 0 {
		return o.members[i].raw, true
	}
	return nil, false
}

// set replaces the value of member name, or appends the member.
func (o *object) set(name string, raw []byte) {
	if i := o.find(name); i >= 0 {
		o.members[i].raw = raw
		return
	}
	o.members = append(o.members, member{name: name, raw: raw})
	if o.byName != nil {
		o.byName[name] = len(o.members) - 1
	}
}

// remove deletes member name.
func (o *object) remove(name string) {
	o.members = slices.DeleteFunc(o.members, func(m member) bool { return m.name == name })
	o.byName, o.byFold = nil, nil // positions moved: scan until add indexes again
}

// encode returns the object as JSON: its members in order, each value as
// its raw bytes. Nothing is re-encoded but the names, so values keep the
// backend's exact text (no HTML escaping, numbers as written).
func (o *object) encode() []byte {
	n := 2
	for _, m := range o.members {
		n += len(m.name) + len(m.raw) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range o.members {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, m.name)
		out = append(out, ':')
		out = append(out, m.raw...)
	}
	return append(out, '}')
}

// appendJSONString appends s as a JSON string literal, as encodeJSON
// writes it (no HTML escaping).
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := encodeJSON(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// keyValue renders a key attribute value the way DynamoDB puts it in
// dynamodb:LeadingKeys: S as the string, N as the number's text, B as
// base64 text. av must be an AttributeValue with exactly one type.
// The returned error is an *APIError.
func keyValue(attr string, av []byte) (string, error) {
	o, err := parseObject(av, true)
	if err != nil {
		return "", errSerialization(fmt.Sprintf("Invalid AttributeValue for key attribute %s: %v", attr, err))
	}
	if len(o.members) != 1 {
		return "", errValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	typ := o.members[0].name
	if typ != "S" && typ != "N" && typ != "B" {
		return "", errValidation("The provided key element does not match the schema")
	}
	v, err := o.str(typ)
	if err != nil {
		return "", errSerialization(fmt.Sprintf("Invalid AttributeValue for key attribute %s: %v", attr, err))
	}
	if typ == "B" {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", errSerialization(fmt.Sprintf("Invalid base64 for key attribute %s", attr))
		}
		v = base64.StdEncoding.EncodeToString(b) // canonical text
	}
	if v == "" {
		return "", errValidation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty " +
			map[string]string{"S": "string", "N": "number", "B": "binary"}[typ] + " value. Key: " + attr)
	}
	return v, nil
}

// splitArray returns the raw elements of a valid JSON array.
func splitArray(raw []byte) []json.RawMessage {
	out := []json.RawMessage{}
	i := jsonscan.Space(raw, 1)
	if raw[i] == ']' {
		return out
	}
	for {
		end, _ := skipValue(raw, i, maxJSONDepth) // raw is valid
		out = append(out, raw[i:end])
		i = jsonscan.Space(raw, end)
		if raw[i] == ']' {
			return out
		}
		i = jsonscan.Space(raw, i+1) // ','
	}
}

// countArray returns the number of elements of a valid JSON array without
// allocating.
func countArray(raw []byte) int {
	n := 0
	i := jsonscan.Space(raw, 1)
	for raw[i] != ']' {
		end, _ := skipValue(raw, i, maxJSONDepth) // raw is valid
		n++
		if i = jsonscan.Space(raw, end); raw[i] == ',' {
			i = jsonscan.Space(raw, i+1)
		}
	}
	return n
}

// maxJSONDepth is encoding/json's nesting limit (objects and arrays) for a
// document, which the backends' decoders apply.
const maxJSONDepth = 10000

// skipValue validates the JSON value that starts at data[i] (no leading
// whitespace) and returns the offset just after it. Objects and arrays may
// nest at most maxDepth deep. It keeps its own stack instead of recursing,
// so a deep document costs memory proportional to its depth, not Go stack.
func skipValue(data []byte, i, maxDepth int) (int, error) {
	var stackBuf [32]byte
	stack := stackBuf[:0] // the open containers, '{' or '['
	for {
		// A value starts at data[i].
		if i >= len(data) {
			return 0, jsonscan.SyntaxError(data, i, "looking for beginning of value")
		}
		var err error
		switch c := data[i]; {
		case c == '{' || c == '[':
			if len(stack) == maxDepth {
				return 0, errors.New("exceeded max depth")
			}
			stack = append(stack, c)
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			if j := jsonscan.Space(data, i+1); j < len(data) && data[j] == close {
				stack = stack[:len(stack)-1]
				i = j + 1
			} else if c == '[' {
				i = j
				continue
			} else if i, err = skipKey(data, j); err != nil {
				return 0, err
			} else {
				continue
			}
		case c == '"':
			i, err = jsonscan.String(data, i)
		case c == '-' || '0' <= c && c <= '9':
			i, err = jsonscan.Number(data, i)
		case c == 't':
			i, err = jsonscan.Literal(data, i, "true")
		case c == 'f':
			i, err = jsonscan.Literal(data, i, "false")
		case c == 'n':
			i, err = jsonscan.Literal(data, i, "null")
		default:
			return 0, jsonscan.SyntaxError(data, i, "looking for beginning of value")
		}
		if err != nil {
			return 0, err
		}
		// A value ended before data[i]: close containers until one
		// continues with another element.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			top := stack[len(stack)-1]
			i = jsonscan.Space(data, i)
			if i < len(data) && data[i] == ',' {
				if i = jsonscan.Space(data, i+1); top == '{' {
					if i, err = skipKey(data, i); err != nil {
						return 0, err
					}
				}
				break
			}
			if i < len(data) && (top == '{' && data[i] == '}' || top == '[' && data[i] == ']') {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return 0, jsonscan.SyntaxError(data, i, "after object key:value pair or array element")
		}
	}
}

// skipKey skips a member name and its colon at data[i], returning the
// offset of the member's value.
func skipKey(data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '"' {
		return 0, jsonscan.SyntaxError(data, i, "looking for beginning of object key string")
	}
	i, err := jsonscan.String(data, i)
	if err != nil {
		return 0, err
	}
	if i = jsonscan.Space(data, i); i >= len(data) || data[i] != ':' {
		return 0, jsonscan.SyntaxError(data, i, "after object key")
	}
	return jsonscan.Space(data, i+1), nil
}
