package rolepolicy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	roleARN = "arn:aws:iam::123456789012:role/teams/tvm-tenant-abac"
	docA    = `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"dynamodb:Query","Resource":"*"}]}`
	docB    = `{"Version":"2012-10-17","Statement":[{"Sid":"B","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}`
	docM    = `{"Version":"2012-10-17","Statement":[{"Sid":"M","Effect":"Allow","Action":"dynamodb:PutItem","Resource":"*"}]}`
)

func sids(r *Role) []string {
	var out []string
	for _, p := range r.Policies {
		for _, st := range p.Statements {
			out = append(out, p.Name+":"+st.Sid)
		}
	}
	return out
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("a.json", docA), write("b.json", docB)
	r, err := LoadFiles(roleARN, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if got := sids(r); !slices.Equal(got, []string{"role policy a.json:A", "role policy b.json:B"}) || r.Describe() != "from files (2 policies)" {
		t.Errorf("policies %v, %s", got, r.Describe())
	}
	for name, p := range map[string]string{
		"missing":   filepath.Join(dir, "missing.json"),
		"malformed": write("bad.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]`),
		"too large": write("big.json", strings.Repeat(" ", MaxDocumentBytes)+docA),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadFiles(roleARN, []string{a, p}); err == nil || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadFiles = %v, want an error naming %s", err, p)
			}
		})
	}
}
