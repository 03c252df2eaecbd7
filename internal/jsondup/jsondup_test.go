package jsondup

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestFirst(t *testing.T) {
	tests := map[string]struct {
		data      string
		exact     string // First(data, Exact)
		fold      string // First(data, Fold)
		syntaxErr bool
		empty     bool // "" repeats
	}{
		"scalar":                      {data: `7`},
		"empty object":                {data: `{}`},
		"no repeat":                   {data: `{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`},
		"repeat":                      {data: `{"alg":"none","alg":"RS256"}`, exact: "alg", fold: "alg"},
		"repeat in another case":      {data: `{"profile":"a","Profile":"b"}`, fold: "Profile"},
		"Kelvin sign folds to k":      {data: `{"k":1,"\u212a":2}`, fold: "\u212a"},
		"nested":                      {data: `{"org":{"tenant":"a","tenant":"b"}}`, exact: "tenant", fold: "tenant"},
		"in an array":                 {data: `[{"a":1},{"b":1,"b":2}]`, exact: "b", fold: "b"},
		"after a nested object":       {data: `{"a":{"x":1},"a":2}`, exact: "a", fold: "a"},
		"null values":                 {data: `{"a":null,"a":null}`, exact: "a", fold: "a"},
		"escaped name":                {data: `{"a":1,"\u0061":2}`, exact: "a", fold: "a"},
		"repeat before syntax error":  {data: `{"a":1,"a":2,`, exact: "a", fold: "a"},
		"syntax error before repeat":  {data: `{"a":1,,"a":2}`, syntaxErr: true},
		"truncated":                   {data: `{"a":{"b":1}`, syntaxErr: true},
		"empty input":                 {data: ``, syntaxErr: true},
		"trailing data is not read":   {data: `{"a":1} {"a":1,"a":2}`},
		"same name in sibling arrays": {data: `{"x":[{"a":1}],"y":[{"a":1}]}`},
		"empty name":                  {data: `{"":1,"":2}`, empty: true},
		"repeat before its colon":     {data: `{"a":1,"a"`, exact: "a", fold: "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for cmp, want := range map[Compare]string{Exact: tc.exact, Fold: tc.fold} {
				got, found, err := First([]byte(tc.data), cmp)
				if got != want || found != (want != "" || tc.empty) || (err != nil) != tc.syntaxErr {
					t.Errorf("First(%d) = %q, %v; want %q, syntax error %v", cmp, got, err, want, tc.syntaxErr)
				}
			}
		})
	}
}

func TestFoldName(t *testing.T) {
	for a, b := range map[string]string{"Profile": "profile", "DURATION_SECONDS": "duration_seconds", "\u212aey": "key", "ſ": "S"} {
		if FoldName(a) != FoldName(b) {
			t.Errorf("FoldName(%q) = %q, FoldName(%q) = %q: want equal", a, FoldName(a), b, FoldName(b))
		}
	}
	if FoldName("a") == FoldName("b") {
		t.Error("a and b fold together")
	}
}

// FuzzFirst: First never panics; a valid value reads without error; a
// repeat compared exactly is a repeat folded too; a value re-encoded from
// a decoded map (which cannot repeat a name) has no repeat.
func FuzzFirst(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `[{"a":{"b":[1,{"c":1,"C":2}]}}]`, `{"a":`, `"x"`, `{"k":1,"\u212a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, exact, err := First(data, Exact)
		_, fold, ferr := First(data, Fold)
		if json.Valid(data) && (err != nil || ferr != nil) {
			t.Fatalf("valid JSON: errors %v, %v", err, ferr)
		}
		if exact && !fold {
			t.Fatalf("exact repeat in %q not found folded", data)
		}
		if !json.Valid(data) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, found, err := First(again, Exact); found || err != nil {
			t.Fatalf("re-encoded %s: First = %q, %v", again, got, err)
		}
	})
}
