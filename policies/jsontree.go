package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The renderer and the linter work on an order-preserving JSON tree, so a
// rendered policy keeps the key order its template author chose and so
// duplicate object keys (which encoding/json silently resolves to the last
// one) can be refused instead of guessed at.
//
// A node is one of: string, json.Number, bool, nil (null), []any (array) or
// object.

// object is a JSON object with its members in document order.
type object []member

// member is one key/value pair of an object.
type member struct {
	Key   string
	Value any
}

// maxDepth bounds the nesting of documents the tree parser accepts. Policies
// are at most four levels deep; the bound only stops hostile input.
const maxDepth = 32

// errTrailingData reports bytes after the top-level JSON value.
var errTrailingData = errors.New("data after the top-level JSON value")

// parseTree decodes doc into a tree. It refuses syntax errors, trailing data,
// duplicate keys within one object and nesting deeper than maxDepth.
func parseTree(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := decodeNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errTrailingData
	}
	return v, nil
}

func decodeNode(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nesting deeper than %d levels", maxDepth)
		}
		switch t {
		case '{':
			return decodeObject(dec, depth+1)
		case '[':
			return decodeArray(dec, depth+1)
		default:
			return nil, fmt.Errorf("unexpected %q", rune(t))
		}
	default:
		// string, json.Number, bool or nil.
		return t, nil
	}
}

func decodeObject(dec *json.Decoder, depth int) (any, error) {
	obj := object{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is not a string")
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate object key %q", key)
		}
		seen[key] = true
		v, err := decodeNode(dec, depth)
		if err != nil {
			return nil, err
		}
		obj = append(obj, member{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return obj, nil
}

func decodeArray(dec *json.Decoder, depth int) (any, error) {
	arr := []any{}
	for dec.More() {
		v, err := decodeNode(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return arr, nil
}

// encodeTree writes v as compact JSON. Every scalar goes through
// encoding/json (strings with HTML escaping off, so "&" stays one
// character); the result is compacted and validated by json.Compact.
func encodeTree(v any) ([]byte, error) {
	var raw bytes.Buffer
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false)
	if err := encodeNode(&raw, enc, v); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(raw.Len())
	if err := json.Compact(&out, raw.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func encodeNode(buf *bytes.Buffer, enc *json.Encoder, v any) error {
	switch t := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := enc.Encode(m.Key); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := encodeNode(buf, enc, m.Value); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeNode(buf, enc, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string, json.Number, bool, nil:
		// Encode appends a newline, which json.Compact removes.
		return enc.Encode(t)
	default:
		return fmt.Errorf("cannot encode %T", v)
	}
	return nil
}
