package s3

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/policies"
	"github.com/tvmkit/tvm/policies/tenant"
)

// FuzzRenderS3: for any tenant claim, every shipped S3 template renders
// exactly when the tenant passes the fixed rules, and then names exactly
// the tenant's object ARN, the bucket and the two prefix values, each as
// one JSON string: the claim can neither widen nor inject.
func FuzzRenderS3(f *testing.F) {
	for _, seed := range []string{"1", "12", "acme_co-7", "*", "1*", "?", `"`, `a","b`, "${aws:username}", "a/b", "../x",
		"", " ", "\x00", "é", "\u2028", strings.Repeat("a", 128), strings.Repeat("é", 129), "x]}", `\`} {
		f.Add(seed)
	}
	set, err := policies.LoadTemplates("", known)
	if err != nil {
		f.Fatal(err)
	}
	bindings := []policies.Binding{mustBind(f, Settings{Buckets: []string{demoBucket}})}
	f.Fuzz(func(t *testing.T, id string) {
		for _, name := range []string{"s3-read", "s3-readwrite"} {
			tpl, _ := set.Get(name)
			r, err := tpl.Render(id, bindings)
			if tenant.CheckRunes(id) != nil {
				if err == nil {
					t.Fatalf("%s: tenant %q refused by the fixed rules was rendered", name, id)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: tenant %q: %v", name, id, err)
			}
			resources, prefixes := renderedNames(t, r.JSON)
			prefix := "tenants/" + id + "/"
			if want := []string{bucketARN, bucketARN + "/" + prefix + "*"}; !slices.Equal(resources, want) {
				t.Fatalf("%s: resources %q, want %q", name, resources, want)
			}
			if want := []string{prefix, prefix + "*"}; !slices.Equal(prefixes, want) {
				t.Fatalf("%s: s3:prefix values %q, want %q", name, prefixes, want)
			}
		}
	})
}

// renderedNames returns the distinct Resource entries and s3:prefix values
// of a rendered policy, sorted.
func renderedNames(t *testing.T, doc []byte) (resources, prefixes []string) {
	t.Helper()
	var pol struct {
		Statement []struct {
			Resource  []string
			Condition map[string]map[string][]string
		}
	}
	if err := json.Unmarshal(doc, &pol); err != nil {
		t.Fatalf("rendered policy %s: %v", doc, err)
	}
	for _, st := range pol.Statement {
		resources = append(resources, st.Resource...)
		for _, keys := range st.Condition {
			prefixes = append(prefixes, keys[PrefixKey]...)
		}
	}
	slices.Sort(resources)
	slices.Sort(prefixes)
	return slices.Compact(resources), slices.Compact(prefixes)
}

func BenchmarkRenderS3(b *testing.B) {
	set, err := policies.LoadTemplates("", known)
	if err != nil {
		b.Fatal(err)
	}
	tpl, _ := set.Get("s3-readwrite")
	bindings := []policies.Binding{mustBind(b, Settings{Buckets: []string{demoBucket}})}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render("1", bindings); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProveS3(b *testing.B) {
	set, err := policies.LoadTemplates("", known)
	if err != nil {
		b.Fatal(err)
	}
	tpl, _ := set.Get("s3-readwrite")
	spec := policies.ProofSpec{Template: tpl, Bindings: []policies.Binding{mustBind(b, Settings{Buckets: []string{demoBucket}})}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policies.Prove(spec); err != nil {
			b.Fatal(err)
		}
	}
}
