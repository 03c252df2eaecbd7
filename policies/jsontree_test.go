package policies

import (
	"strings"
	"testing"
)

func TestParseTree(t *testing.T) {
	tests := map[string]string{
		"trailing data":    `{} {}`,
		"trailing garbage": `{}x`,
		"too deep":         strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		"unterminated":     `{"a":[1,2`,
		"bad literal":      `{"a":tru}`,
		"duplicate key":    `{"a":1,"a":2}`,
		"empty":            ``,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parseTree([]byte(doc)); err == nil {
				t.Errorf("parseTree(%q) accepted it", doc)
			}
		})
	}
	t.Run("round trip keeps order and numbers", func(t *testing.T) {
		const doc = `{"z":1.50,"a":[true,false,null,"x\u0026y"],"m":{}}`
		tree, err := parseTree([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		out, err := encodeTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"z":1.50,"a":[true,false,null,"x&y"],"m":{}}`; string(out) != want {
			t.Errorf("encodeTree = %s, want %s", out, want)
		}
	})
}
