package iam

import "testing"

func TestPolicySize(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want int
	}{
		"compact":    {`{"a":"b"}`, 9},
		"whitespace": {"{ \"a\" :\n\t\"b c\" }", 10},
		"unicode":    {`{"é":"ü"}`, 9},
		"empty":      {"", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PolicySize(tc.doc); got != tc.want {
				t.Errorf("PolicySize(%q) = %d, want %d", tc.doc, got, tc.want)
			}
		})
	}
}
