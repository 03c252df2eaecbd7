package pemblock

import (
	"encoding/pem"
	"testing"
)

func TestSplit(t *testing.T) {
	a := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("a")})
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("b")})
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := map[string]struct {
		data  []byte
		types []string
		rest  string
	}{
		"none":          {data: []byte("not pem"), rest: "not pem"},
		"empty":         {data: nil},
		"one":           {data: a, types: []string{"CERTIFICATE"}},
		"two and tail":  {data: join(a, b, []byte("\ntrailing")), types: []string{"CERTIFICATE", "PUBLIC KEY"}, rest: "\ntrailing"},
		"junk before a": {data: join([]byte("junk\n"), a), types: []string{"CERTIFICATE"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			blocks, rest := Split(tc.data)
			var types []string
			for _, bl := range blocks {
				types = append(types, bl.Type)
			}
			if len(types) != len(tc.types) || string(rest) != tc.rest {
				t.Fatalf("Split = %q, rest %q; want %q, rest %q", types, rest, tc.types, tc.rest)
			}
			for i := range types {
				if types[i] != tc.types[i] {
					t.Errorf("block %d is %q, want %q", i, types[i], tc.types[i])
				}
			}
		})
	}
}
