package dynamo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/internal/jsondup"
)

// referenceParseObject is the gateway's former parser, built on
// encoding/json's Decoder: the reference parseObject must agree with.
// It returns the members in order as name, raw pairs.
func referenceParseObject(raw []byte, strict bool) ([][2]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out [][2]string
	seen, folded := map[string]bool{}, map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if seen[name] || strict && folded[jsondup.FoldName(name)] {
			return nil, errors.New("duplicate")
		}
		seen[name], folded[jsondup.FoldName(name)] = true, true
		out = append(out, [2]string{name, string(v)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return out, nil
}

// compareWithReference fails t when parseObject and the reference disagree
// on raw: on whether it is accepted, or on the members read.
func compareWithReference(t *testing.T, raw []byte, strict bool) {
	t.Helper()
	want, wantErr := referenceParseObject(raw, strict)
	got, gotErr := parseObject(raw, strict)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("parseObject(%q, %v) error = %v, the encoding/json reference's = %v", raw, strict, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	var members [][2]string
	for _, m := range got.members {
		members = append(members, [2]string{m.name, string(m.raw)})
	}
	if fmt.Sprint(members) != fmt.Sprint(want) {
		t.Fatalf("parseObject(%q, %v) members = %q, the reference's = %q", raw, strict, members, want)
	}
	// encode writes what reads back as the same members.
	again, err := referenceParseObject(got.encode(), strict)
	if err != nil || fmt.Sprint(again) != fmt.Sprint(want) {
		t.Fatalf("encode(%q) = %s, which reads as %q, %v", raw, got.encode(), again, err)
	}
}

var parseObjectCases = []string{
	`{}`, ` { } `, "\t{\n}\r\n", `{"a":1}`, `{"a" : 1 , "b":[1,2,{"c":null}] }`,
	`{"TableName":"t","Key":{"PK":{"S":"Tenant#1"}}}`,
	`{"a":"\u00e9\"\\\/\b\f\n\r\t"}`, `{"\u004bey":1}`, `{"\u212Aey":1,"Key":2}`, `{"Key":1,"key":2}`, `{"a":1,"a":2}`,
	`{"a":"\ud800"}`, `{"a":"\udc00\ud800x"}`, "{\"a\":\"\xff\xfe\"}", "{\"\xff\":1,\"\xfe\":2}", "{\"\xff\":1,\"\ufffd\":2}",
	`{"a":-0}`, `{"a":-0.5e+10}`, `{"a":1E5}`, `{"a":0.0e-0}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`,
	`{"a":+1}`, `{"a":0x1}`, `{"a":1,}`, `{,}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"a":[1 2]}`, `{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":falsey}`, `{"a":true}`, `{"a":false}`, `{"a":null}`,
	`{"a":"x`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, "{\"a\":\"\x01\"}", "{\"a\":\"\x7f\"}", `{"a":1}}`,
	`{"a":1} {}`, `{"a":1}x`, `[1]`, `"s"`, `1`, `null`, ``, ` `, `{`, `{"a":{"b":{"c":[[[]]]}}}`, `{"a":{]}`,
	`{"a":[}`, `{"a":{"b":1]}`, `{"a":[1}`, `{1:2}`, `{'a':1}`, "{\"a\":1}\x00", `{"a":"b"}  `,
}

// manyMembers returns an object of n members m0..m(n-1) followed by the
// given extra members, beyond the size from which objects are indexed.
func manyMembers(n int, extra ...string) string {
	parts := make([]string, 0, n+len(extra))
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"m%d":%d`, i, i))
	}
	return "{" + strings.Join(append(parts, extra...), ",") + "}"
}

func TestParseObjectMatchesEncodingJSON(t *testing.T) {
	large := []string{
		manyMembers(indexAfter + 4),
		manyMembers(indexAfter+4, `"m3":"again"`),
		manyMembers(indexAfter+4, `"M3":"folded"`),
		manyMembers(indexAfter+4, `"x":1`, `"X":2`),
		manyMembers(indexAfter-1, `"m0":1`),
		manyMembers(indexAfter, `"M0":1`),
	}
	for _, c := range append(large, parseObjectCases...) {
		for _, strict := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q/strict=%v", c, strict), func(t *testing.T) {
				compareWithReference(t, []byte(c), strict)
			})
		}
	}
}

func TestParseObjectDepth(t *testing.T) {
	tests := []struct {
		name  string
		depth int // nesting of arrays inside the one member value
		ok    bool
	}{
		{"at encoding/json's limit", maxJSONDepth - 1, true},
		{"beyond it", maxJSONDepth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"a":` + strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth) + `}`
			_, err := parseObject([]byte(raw), true)
			if (err == nil) != tc.ok {
				t.Fatalf("depth %d: error = %v, want ok %v", tc.depth+1, err, tc.ok)
			}
			// encoding/json's own verdict on the whole document.
			if json.Valid([]byte(raw)) != tc.ok {
				t.Fatalf("json.Valid disagrees at depth %d", tc.depth+1)
			}
		})
	}
}

// FuzzParseObject checks that parseObject accepts exactly what the
// encoding/json reference accepts and reads the same members from it.
func FuzzParseObject(f *testing.F) {
	for _, c := range parseObjectCases {
		f.Add([]byte(c), true)
	}
	for _, op := range benchOps {
		f.Add([]byte(op.body), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, strict bool) {
		compareWithReference(t, raw, strict)
	})
}

func TestObjectReaders(t *testing.T) {
	o, err := parseObject([]byte(`{"s":"a\u0062","n":1,"l":[ "x" , null, {"k":1} ],"ls":["a",null,"\u00e9"],"m":{"#a":"x","#b":null},"z":null}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := o.str("s"); err != nil || s != "ab" {
		t.Errorf(`str("s") = %q, %v`, s, err)
	}
	if _, err := o.str("n"); err == nil {
		t.Error(`str("n") accepted a number`)
	}
	if s, err := o.str("z"); err != nil || s != "" {
		t.Errorf(`str("z") = %q, %v; null is absent`, s, err)
	}
	if _, err := o.str("S"); err == nil {
		t.Error(`str("S") accepted "s" in a strict object`)
	}
	l, err := o.list("l")
	if err != nil || fmt.Sprintf("%s", l) != `["x" null {"k":1}]` {
		t.Errorf(`list("l") = %s, %v`, l, err)
	}
	if _, err := o.list("s"); err == nil {
		t.Error(`list("s") accepted a string`)
	}
	if ls, err := o.strings("ls", -1); err != nil || fmt.Sprintf("%q", ls) != `["a" "" "é"]` {
		t.Errorf(`strings("ls") = %q, %v`, ls, err)
	}
	if _, err := o.strings("l", -1); err == nil {
		t.Error(`strings("l") accepted an object element`)
	}
	if m, err := o.stringMap("m"); err != nil || fmt.Sprint(m) != "map[#a:x #b:]" {
		t.Errorf(`stringMap("m") = %v, %v`, m, err)
	}
	big, err := parseObject([]byte(manyMembers(2*indexAfter, `"TableName":"t"`)), true)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := big.str("TableName"); err != nil || s != "t" {
		t.Errorf(`str("TableName") in a large object = %q, %v`, s, err)
	}
	if _, err := big.str("M1"); err == nil {
		t.Error(`str("M1") accepted "m1" in a large strict object`)
	}
	big.remove("m1")
	big.set("m1", []byte(`"x"`))
	big.set("m2", []byte(`"y"`))
	if raw, ok := big.lookup("m1"); !ok || string(raw) != `"x"` || big.len() != 2*indexAfter+1 {
		t.Errorf(`after remove and set, lookup("m1") = %s, %v with %d members`, raw, ok, big.len())
	}
	if raw, _ := big.lookup("m2"); string(raw) != `"y"` {
		t.Errorf(`after set, lookup("m2") = %s`, raw)
	}
	// The reference decodes these the same way.
	var ref struct {
		LS []string          `json:"ls"`
		M  map[string]string `json:"m"`
	}
	if err := json.Unmarshal([]byte(`{"ls":["a",null,"\u00e9"],"m":{"#a":"x","#b":null}}`), &ref); err != nil ||
		fmt.Sprintf("%q", ref.LS) != `["a" "" "é"]` || fmt.Sprint(ref.M) != "map[#a:x #b:]" {
		t.Errorf("encoding/json reads %q %v, %v", ref.LS, ref.M, err)
	}
}

// FuzzFoldEqual holds foldEqual to jsondup.FoldName, the one definition of
// names that encoding/json takes for one another.
func FuzzFoldEqual(f *testing.F) {
	for _, p := range [][2]string{{"Key", "key"}, {"\u212Aey", "KEY"}, {"\u017F", "s"}, {"\u0130", "i"}, {"\u0131", "I"},
		{"\xff", "\ufffd"}, {"ß", "ss"}, {"TableName", "TableNamE"}, {"a", "ab"}, {"Σ", "ς"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := foldEqual(a, b), jsondup.FoldName(a) == jsondup.FoldName(b); got != want {
			t.Fatalf("foldEqual(%q, %q) = %v, FoldName says %v", a, b, got, want)
		}
	})
}
