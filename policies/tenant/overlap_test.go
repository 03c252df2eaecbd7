package tenant

import "testing"

// TestNames: a fixed name is some tenant's own when the format expands an
// admitted id to it.
func TestNames(t *testing.T) {
	f := MustParseFormat("table/tvm-demo-{tenant}")
	tests := map[string]struct {
		pattern, name, id string
	}{
		"a shared table named like a tenant's":  {`^[a-z0-9]{1,16}$`, "table/tvm-demo-admin", "admin"},
		"the pattern does not admit the middle": {`^[0-9]{1,16}$`, "table/tvm-demo-admin", ""},
		"another prefix":                        {`^[a-z0-9]{1,16}$`, "table/tvm-other-admin", ""},
		"an empty middle is no id":              {`^[a-z0-9]{1,16}$`, "table/tvm-demo-", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id, ok := mustCompile(t, tc.pattern).Names(f, tc.name)
			if id != tc.id || ok != (tc.id != "") {
				t.Errorf("Names(%q) = %q, %v; want %q", tc.name, id, ok, tc.id)
			}
		})
	}
}

// TestOverlap: two formats meet for two different ids exactly when their
// fixed texts nest (prefix within prefix, suffix within suffix) and the
// pattern admits the difference.
func TestOverlap(t *testing.T) {
	tests := map[string]struct {
		pattern, f, g, diff string
	}{
		"archive suffix":              {`^[a-z0-9-]{1,16}$`, "t-{tenant}", "t-{tenant}-archive", "-archive"},
		"longer prefix":               {`^[a-z0-9-]{1,16}$`, "a-{tenant}", "a-x-{tenant}", "x-"},
		"both sides":                  {`^[a-z0-9-]{1,16}$`, "a{tenant}", "ab{tenant}c", "bc"},
		"the difference is not an id": {`^[a-z0-9]{1,16}$`, "t-{tenant}", "t-{tenant}-archive", ""},
		"prefixes apart":              {`^[a-z0-9-]{1,16}$`, "orders-{tenant}", "invoices-{tenant}", ""},
		"suffixes apart":              {`^[a-z0-9-]{1,16}$`, "{tenant}-a", "{tenant}-b", ""},
		"one format":                  {`^[a-z0-9-]{1,16}$`, "t-{tenant}", "t-{tenant}", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := mustCompile(t, tc.pattern)
			for _, order := range [][2]string{{tc.f, tc.g}, {tc.g, tc.f}} {
				diff, ok := p.Overlap(MustParseFormat(order[0]), MustParseFormat(order[1]))
				if diff != tc.diff || ok != (tc.diff != "") {
					t.Errorf("Overlap(%q, %q) = %q, %v; want %q", order[0], order[1], diff, ok, tc.diff)
				}
			}
		})
	}
}

// TestCaseTwins: a pattern admitting a letter in both cases yields two ids
// differing only in case; one admitting a single case yields none.
func TestCaseTwins(t *testing.T) {
	tests := map[string]struct {
		pattern string
		want    [2]string
	}{
		"the default":           {Default().String(), [2]string{"a", "A"}},
		"letters after a digit": {`^[0-9][a-zA-Z]{1,8}$`, [2]string{"1a", "1A"}},
		"Latin-1 letters only":  {`^[é-ö]{1,4}$`, [2]string{}},
		"Latin-1 in both cases": {`^[éÉ]{1,4}$`, [2]string{"é", "É"}},
		"lower case only":       {`^[a-z0-9]{1,8}$`, [2]string{}},
		"digits only":           {`^[0-9]{1,8}$`, [2]string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := mustCompile(t, tc.pattern).CaseTwins()
			if got != tc.want || ok != (tc.want != [2]string{}) {
				t.Errorf("CaseTwins = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
