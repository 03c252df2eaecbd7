package jsondup

import "testing"

func TestFoldASCIIMatchesFoldRunes(t *testing.T) {
	words := []string{"", "Key", "KEY", "key", "kEy", "TableName", "ExpressionAttributeValues", "s", "S", "_1-x"}
	for c := 0; c < 0x80; c++ {
		words = append(words, string(rune(c)))
	}
	for _, w := range words {
		got, ok := foldASCII(w)
		if !ok || got != foldRunes(w) {
			t.Errorf("foldASCII(%q) = %q, %v; foldRunes = %q", w, got, ok, foldRunes(w))
		}
	}
	for _, w := range []string{"\u212Aey", "é", "Kelvin\u212A"} {
		if _, ok := foldASCII(w); ok {
			t.Errorf("foldASCII(%q) took a non-ASCII name", w)
		}
		if FoldName(w) != foldRunes(w) {
			t.Errorf("FoldName(%q) = %q, want %q", w, FoldName(w), foldRunes(w))
		}
	}
	if FoldName("\u212Aey") != FoldName("key") {
		t.Error("the Kelvin sign no longer folds with k")
	}
}

func FuzzFoldName(f *testing.F) {
	f.Add("Key")
	f.Add("\u212Aey")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := FoldName(s), foldRunes(s); got != want {
			t.Fatalf("FoldName(%q) = %q, want %q", s, got, want)
		}
	})
}
