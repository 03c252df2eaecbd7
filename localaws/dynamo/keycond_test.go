package dynamo

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseKeyConditionExpression(t *testing.T) {
	tests := map[string]struct {
		expr string
		want []keyCond
	}{
		"equality":          {"PK = :v", []keyCond{{"PK", "=", []string{":v"}}}},
		"no spaces":         {"#k=:v", []keyCond{{"#k", "=", []string{":v"}}}},
		"mirrored":          {":v<SK", []keyCond{{"SK", ">", []string{":v"}}}},
		"mirrored ge":       {":v >= SK", []keyCond{{"SK", "<=", []string{":v"}}}},
		"and lowercase":     {"PK = :v and SK <= :s", []keyCond{{"PK", "=", []string{":v"}}, {"SK", "<=", []string{":s"}}}},
		"between":           {"SK BETWEEN :a AND :b AND PK = :v", []keyCond{{"SK", "BETWEEN", []string{":a", ":b"}}, {"PK", "=", []string{":v"}}}},
		"begins_with":       {"begins_with(#s,:p) AND #k = :v", []keyCond{{"#s", "begins_with", []string{":p"}}, {"#k", "=", []string{":v"}}}},
		"nested parens":     {"((PK = :v)) AND ((SK > :s))", []keyCond{{"PK", "=", []string{":v"}}, {"SK", ">", []string{":s"}}}},
		"parenthesized and": {"(PK = :v AND SK > :s)", []keyCond{{"PK", "=", []string{":v"}}, {"SK", ">", []string{":s"}}}},
		"underscores":       {"_a_1 = :_v_2", []keyCond{{"_a_1", "=", []string{":_v_2"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseKeyConditionExpression(tc.expr)
			if err != nil {
				t.Fatalf("parse %q: %v", tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseKeyConditionExpressionErrors(t *testing.T) {
	for _, expr := range []string{
		"", "PK", "PK =", "= :v", "PK = :v AND", "PK = :v OR SK = :s", "NOT PK = :v", "PK IN (:a)",
		"PK = :v)", "(PK = :v", "PK = :v SK = :s", "PK == :v", "PK = #v", "PK = :", "# = :v", "PK = :v,",
		"begins_with(PK)", "begins_with(:v, PK)", "BEGINS_WITH(SK, :v)", "size(PK) = :v", "PK BETWEEN :a",
		"PK BETWEEN :a OR :b", "PK.a = :v", "PK[0] = :v", "PK = 'x'", "PK = \"x\"", "a-b = :v", "PK <> :v",
		"PK = :v AND BETWEEN = :b", strings.Repeat("(", 40) + "PK = :v" + strings.Repeat(")", 40), "PK ＝ :v",
	} {
		t.Run(expr, func(t *testing.T) {
			if got, err := parseKeyConditionExpression(expr); err == nil {
				t.Errorf("parse %q = %+v, want an error", expr, got)
			} else if !strings.HasPrefix(err.Error(), "Invalid KeyConditionExpression: ") {
				t.Errorf("error %q lacks DynamoDB's prefix", err)
			}
		})
	}
}

// FuzzKeyCondition checks that the parser never panics and that whatever it
// accepts is well formed: attributes are names or #placeholders, values
// :placeholders, operators from the key-condition set.
func FuzzKeyCondition(f *testing.F) {
	for _, s := range []string{
		"PK = :v", "#k = :v AND begins_with(#s, :p)", "SK BETWEEN :a AND :b AND PK = :v", "(PK = :v) AND (SK < :s)",
		":v = PK", "PK = :a OR PK = :b", "((((", "begins_with(", "PK BETWEEN :a AND", "#=:", "\x00", "PK = :v AND PK = :w",
	} {
		f.Add(s)
	}
	ops := []string{"=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"}
	f.Fuzz(func(t *testing.T, expr string) {
		conds, err := parseKeyConditionExpression(expr)
		if err != nil {
			return
		}
		if len(conds) == 0 {
			t.Fatalf("%q parsed to no conditions", expr)
		}
		for _, c := range conds {
			if c.Attr == "" || strings.HasPrefix(c.Attr, ":") || !slices.Contains(ops, c.Op) {
				t.Fatalf("%q: bad condition %+v", expr, c)
			}
			want := 1
			if c.Op == "BETWEEN" {
				want = 2
			}
			if len(c.Values) != want {
				t.Fatalf("%q: condition %+v has %d values", expr, c, len(c.Values))
			}
			for _, v := range c.Values {
				if len(v) < 2 || v[0] != ':' {
					t.Fatalf("%q: bad value placeholder %q", expr, v)
				}
			}
		}
	})
}
