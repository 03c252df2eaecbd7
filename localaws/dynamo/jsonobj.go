package dynamo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tvmkit/tvm/internal/jsondup"
)

// object is one decoded JSON object whose member values are kept raw.
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
	members map[string]json.RawMessage
	folded  map[string]string // jsondup.FoldName(name) -> name, strict objects only
}

var errNotObject = errors.New("not a JSON object")

// parseObject decodes raw, which must be exactly one JSON object.
func parseObject(raw json.RawMessage, strict bool) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	o := &object{members: map[string]json.RawMessage{}}
	if strict {
		o.folded = map[string]string{}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := o.members[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		if strict {
			f := jsondup.FoldName(name)
			if other, dup := o.folded[f]; dup {
				return nil, fmt.Errorf("members %q and %q differ only in case", other, name)
			}
			o.folded[f] = name
		}
		o.members[name] = v
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON object")
	}
	return o, nil
}

// get returns the raw value of member name (nil when absent, or when it is
// JSON null, which DynamoDB treats as absent). In a strict object a member
// spelled in another case is an error.
func (o *object) get(name string) (json.RawMessage, error) {
	if o.folded != nil {
		if actual, ok := o.folded[jsondup.FoldName(name)]; ok && actual != name {
			return nil, fmt.Errorf("unexpected member %q (did you mean %q?)", actual, name)
		}
	}
	v := o.members[name]
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, nil
	}
	return v, nil
}

// str returns member name as a string ("" when absent).
func (o *object) str(name string) (string, error) {
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("member %s: expected a string", name)
	}
	return s, nil
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
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return nil, err
	}
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("member %s: expected a list", name)
	}
	return l, nil
}

// strings returns member name as a list of strings (nil when absent).
func (o *object) strings(name string) ([]string, error) {
	raw, err := o.get(name)
	if err != nil || raw == nil {
		return nil, err
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("member %s: expected a list of strings", name)
	}
	return l, nil
}

// stringMap returns member name as a map of strings (ExpressionAttributeNames).
func (o *object) stringMap(name string) (map[string]string, error) {
	m, err := o.obj(name, false)
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]string, len(m.members))
	for k := range m.members {
		s, err := m.str(k)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", name, err)
		}
		out[k] = s
	}
	return out, nil
}

// keyValue renders a key attribute value the way DynamoDB puts it in
// dynamodb:LeadingKeys: S as the string, N as the number's text, B as
// base64 text. av must be an AttributeValue with exactly one type.
// The returned error is an *APIError.
func keyValue(attr string, av json.RawMessage) (string, error) {
	o, err := parseObject(av, true)
	if err != nil {
		return "", errSerialization(fmt.Sprintf("Invalid AttributeValue for key attribute %s: %v", attr, err))
	}
	if len(o.members) != 1 {
		return "", errValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	var typ string
	for t := range o.members {
		typ = t
	}
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
