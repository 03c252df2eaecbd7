package jsondup

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// refFrame is one open JSON object or array.
type refFrame struct {
	object    bool
	expectKey bool // in an object: the next token is a member name
	seen      map[string]bool
}

// referenceFirst is First as a walk with encoding/json's Decoder.Token:
// the definition First is fuzzed against.
func referenceFirst(data []byte, cmp Compare) (name string, found bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*refFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && len(stack) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", false, err
		}
		var top *refFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if refValueDone(stack) {
					return "", false, nil
				}
				continue
			}
			key, _ := tok.(string) // the decoder only yields strings here
			k := key
			if cmp == Fold {
				k = FoldName(key)
			}
			if top.seen[k] {
				return key, true, nil
			}
			top.seen[k] = true
			top.expectKey = false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &refFrame{object: true, expectKey: true, seen: map[string]bool{}})
			continue
		case '[':
			stack = append(stack, &refFrame{})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		if refValueDone(stack) {
			return "", false, nil
		}
	}
}

// refValueDone records that a value ended in the innermost open frame and
// reports whether it was the top-level value.
func refValueDone(stack []*refFrame) bool {
	if len(stack) == 0 {
		return true
	}
	if top := stack[len(stack)-1]; top.object {
		top.expectKey = true
	}
	return false
}

// FuzzFirstMatchesDecoder: First finds the same repeated name as the
// Decoder.Token walk, in both comparisons, and fails where it fails.
func FuzzFirstMatchesDecoder(f *testing.F) {
	for _, s := range firstSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cmp := range []Compare{Exact, Fold} {
			got, found, err := First(data, cmp)
			want, wfound, werr := referenceFirst(data, cmp)
			if got != want || found != wfound || (err != nil) != (werr != nil) {
				t.Fatalf("First(%q, %d) = %q, %v, %v; the decoder walk: %q, %v, %v", data, cmp, got, found, err, want, wfound, werr)
			}
		}
	})
}

var firstSeeds = []string{
	`{}`, `[]`, ` `, `{"":0,"":1}`, `{"":0,""0`, `{"a":1,"a":2}`, `[{"a":{"b":[1,{"c":1,"C":2}]}}]`, `{"a":`, `"x"`, `{"k":1,"\u212a":2}`,
	`{"a":1,"a"`, `{"a":1,"a"x`, `{"a":1 "a":2}`, `[1,]`, `{"a":1,}`, `[01]`, `[1.]`, `[-]`, `[1e]`, `[1E+5,-0.5e-3]`,
	`[tru]`, `[truex]`, `{"a\u00":1}`, `{"\ud800":1,"\udbff":2}`, "{\"a\xff\":1,\"a\xfe\":2}", "[\"\x01\"]",
	`{"a":[{"a":1,"b":2}],"b":{"a":{}},"a":3}`, `{"A":{"a":1,"A":2}}`, "\t{\r\n\"a\" : 1 , \"a\" :2}",
	`{"s":"\"\\\/\b\f\n\r\t"}`, `{"x":"\q"}`, `{1:2}`, `{"a"}`, `{"a"::1}`, `[}`, `{]`, `nul`, `-`,
}

func TestFirstMatchesDecoderOnLargeObjects(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 40 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strings.Repeat("x", i) + `":{"n":1}`)
	}
	base := b.String()
	for name, data := range map[string]string{
		"no repeat":                   base + "}",
		"repeat after the map":        base + `,"mxxxxxxxxxxxxxxxxxxxxx":2}`,
		"folded repeat after the map": base + `,"MXX":2}`,
		"repeat in the list":          `{"a":1,"b":2,"a":3}`,
	} {
		t.Run(name, func(t *testing.T) {
			for _, cmp := range []Compare{Exact, Fold} {
				got, found, err := First([]byte(data), cmp)
				want, wfound, werr := referenceFirst([]byte(data), cmp)
				if got != want || found != wfound || (err != nil) != (werr != nil) {
					t.Errorf("First(%d) = %q, %v, %v; the decoder walk: %q, %v, %v", cmp, got, found, err, want, wfound, werr)
				}
			}
		})
	}
}

// BenchmarkFirst: a JWT payload's size and shape, First against the
// Decoder.Token walk it replaced.
func BenchmarkFirst(b *testing.B) {
	payload := []byte(`{"iss":"https://idp.example.com","sub":"orders-service","aud":["tvm"],"exp":1767225600,` +
		`"iat":1767222000,"nbf":1767222000,"tenant_id":"tenant-42","scope":"tvm:vend","org":{"id":"o-1","tier":"gold"}}`)
	for _, impl := range []struct {
		name string
		fn   func([]byte, Compare) (string, bool, error)
	}{{"scanner", First}, {"decoder", referenceFirst}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if dup, found, err := impl.fn(payload, Exact); found || err != nil {
					b.Fatal(dup, err)
				}
			}
		})
	}
}
