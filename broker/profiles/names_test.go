package profiles

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tvmkit/tvm/broker/config"
)

var (
	stsNameRE  = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func TestSessionName(t *testing.T) {
	long64 := strings.Repeat("a", 64)
	tests := map[string]struct {
		tenant, profile, subject string
		perSubject               bool
		want                     string
	}{
		"per subject":               {"acme", "read", "alice", true, "t-acme@" + hash8("alice")},
		"tenant with underscore":    {"acme_corp-1", "read", "alice", true, "t-acme_corp-1@" + hash8("alice")},
		"unicode subject hashed":    {"acme", "read", "Jürgen 🚀", true, "t-acme@" + hash8("Jürgen 🚀")},
		"empty subject":             {"acme", "read", "", true, "t-acme@" + hash8("")},
		"per tenant":                {"acme", "read", "alice", false, "t-acme@read"},
		"per tenant ignores subj":   {"acme", "read", "bob", false, "t-acme@read"},
		"53-char tenant fits":       {long64[:53], "read", "alice", true, "t-" + long64[:53] + "@" + hash8("alice")},
		"54-char tenant shortened":  {long64[:54], "read", "alice", true, "t-" + long64[:44] + "." + hash8(long64[:54]) + "@" + hash8("alice")},
		"64-char tenant":            {long64, "read", "alice", true, "t-" + long64[:44] + "." + hash8(long64) + "@" + hash8("alice")},
		"tenant with bad chars":     {"a#b c", "read", "alice", true, "t-a_b_c." + hash8("a#b c") + "@" + hash8("alice")},
		"unicode tenant":            {"ü", "read", "alice", true, "t-_." + hash8("ü") + "@" + hash8("alice")},
		"long profile":              {"acme", strings.Repeat("p", 30), "x", false, "t-acme@" + strings.Repeat("p", 11) + "." + hash8(strings.Repeat("p", 30))},
		"profile with space":        {"acme", "read only", "x", false, "t-acme@read_only." + hash8("read only")},
		"64-char tenant per tenant": {long64, "read", "x", false, "t-" + long64[:48] + "." + hash8(long64) + "@read"},
		"tenant with separator":     {"a@b", "read", "x", false, "t-a_b." + hash8("a@b") + "@read"},
		"tenant with dot":           {"a.b", "read", "x", false, "t-a_b." + hash8("a.b") + "@read"},
		"tenant with dashes":        {"a-b", "b-read", "x", false, "t-a-b@b-read"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := SessionName(tc.tenant, tc.profile, tc.subject, tc.perSubject)
			if got != tc.want {
				t.Errorf("sessionName = %q, want %q", got, tc.want)
			}
			if !stsNameRE.MatchString(got) {
				t.Errorf("%q is not a valid RoleSessionName", got)
			}
		})
	}
}

func TestSessionNameUnique(t *testing.T) {
	// Sanitizing or truncating must not merge distinct tenants.
	pairs := [][2]string{
		{"a#b", "a$b"},
		{strings.Repeat("a", 60) + "1", strings.Repeat("a", 60) + "2"},
		{"ü", "é"},
		{"a_b", "a#b"},
	}
	for _, p := range pairs {
		if a, b := SessionName(p[0], "read", "s", true), SessionName(p[1], "read", "s", true); a == b {
			t.Errorf("tenants %q and %q share session name %q", p[0], p[1], a)
		}
	}
	if SessionName("acme", "read", "alice", true) == SessionName("acme", "read", "bob", true) {
		t.Error("subjects share a session name")
	}
}

func TestSourceIdentity(t *testing.T) {
	long := strings.Repeat("s", 70)
	tests := map[string]struct{ subject, want string }{
		"email kept":       {"alice@example.com", "alice@example.com"},
		"uuid kept":        {"8c1d4c0e-2f3b-4a4e-9b7d-0f1e2d3c4b5a", "8c1d4c0e-2f3b-4a4e-9b7d-0f1e2d3c4b5a"},
		"aws: prefix":      {"aws:root", "aws_root." + hash8("aws:root")},
		"AWS: prefix":      {"AWS:x", "AWS_x." + hash8("AWS:x")},
		"one char":         {"a", "a." + hash8("a")},
		"pipe in auth0 id": {"auth0|123", "auth0_123." + hash8("auth0|123")},
		"too long":         {long, long[:55] + "." + hash8(long)},
		"exactly 64":       {long[:64], long[:64]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := SourceIdentity(tc.subject)
			if got != tc.want {
				t.Errorf("SourceIdentity(%q) = %q, want %q", tc.subject, got, tc.want)
			}
			if !stsNameRE.MatchString(got) || strings.HasPrefix(strings.ToLower(got), "aws:") {
				t.Errorf("%q is not a valid SourceIdentity", got)
			}
		})
	}
}

func TestTagValue(t *testing.T) {
	tests := map[string]struct{ template, tenant, subject, want string }{
		"tenant":                         {"{tenant}", "acme", "alice", "acme"},
		"both":                           {"{tenant}/{subject}", "acme", "alice@x.io", "acme/alice@x.io"},
		"unicode letters":                {"{subject}", "acme", "José Ñ", "José Ñ"},
		"bad chars":                      {"{subject}", "acme", `a"b*c|d<e>`, "a_b_c_d_e_"},
		"control chars":                  {"{subject}", "acme", "a\nb\x00", "a_b_"},
		"invalid utf8":                   {"{subject}", "acme", "a\xffb", "a_b"},
		"truncated":                      {"{subject}", "acme", strings.Repeat("é", 300), strings.Repeat("é", 256)},
		"subject shortened, tenant kept": {"{subject}/{tenant}", "acme", strings.Repeat("s", 300), strings.Repeat("s", 251) + "/acme"},
		"two subjects share the room":    {"{subject}{subject}{tenant}", "t", strings.Repeat("s", 300), strings.Repeat("s", 254) + "t"},
		"latin-1 tenant":                 {"{tenant}", "café", "x", "café"},
		"literal":                        {"static", "acme", "alice", "static"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := TagValue(tc.template, tc.tenant, tc.subject)
			if got != tc.want {
				t.Errorf("tagValue = %q, want %q", got, tc.want)
			}
			if !tagValueRE.MatchString(got) || utf8.RuneCountInString(got) > 256 {
				t.Errorf("%q is not a valid tag value", got)
			}
		})
	}
}

func FuzzSessionName(f *testing.F) {
	f.Add("acme", "read", "alice", true)
	f.Add("", "", "", false)
	f.Add(strings.Repeat("a", 64), strings.Repeat("p", 64), "Jürgen", true)
	f.Add("a#b c", "read only", "\xff\xfe", false)
	f.Add("ü", "ä", "aws:x", true)
	f.Fuzz(func(t *testing.T, tenant, profile, subject string, perSubject bool) {
		name := SessionName(tenant, profile, subject, perSubject)
		if !stsNameRE.MatchString(name) {
			t.Fatalf("SessionName(%q, %q, %q, %v) = %q: not 2-64 chars of [\\w+=,.@-]", tenant, profile, subject, perSubject, name)
		}
		if SessionName(tenant, profile, subject, perSubject) != name {
			t.Fatal("not deterministic")
		}
		if si := SourceIdentity(subject); !stsNameRE.MatchString(si) || strings.HasPrefix(strings.ToLower(si), "aws:") {
			t.Fatalf("SourceIdentity(%q) = %q: invalid", subject, si)
		}
		if v := TagValue("{tenant}-{subject}", tenant, subject); !tagValueRE.MatchString(v) || utf8.RuneCountInString(v) > 256 {
			t.Fatalf("tagValue = %q: invalid", v)
		}
	})
}

// like is IAM's StringLike: '*' any run of characters, '?' exactly one,
// case-sensitive.
func like(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// sessionKinds are the (profile, per-subject) shapes a role's sessions
// can have, the profile names chosen to look like tenant suffixes.
var sessionKinds = []struct {
	profile    string
	perSubject bool
}{
	{"read", false}, {"b-read", false}, {"read", true}, {strings.Repeat("p", 30), false}, {"deadbeef", false},
}

func TestSessionNamePatternIsolatesTenants(t *testing.T) {
	long := strings.Repeat("a", 64)
	tenants := []string{"a", "a-b", "a-b-read", "ab", "1", "12", "a_b", "a.b", "a@b", "é", long, long[:60] + "x", "b"}
	for _, owner := range tenants {
		for _, k := range sessionKinds {
			pat := SessionNamePattern(owner, k.profile, k.perSubject)
			t.Run(owner+"/"+k.profile, func(t *testing.T) {
				for _, subject := range []string{"alice", "bob", ""} {
					if name := SessionName(owner, k.profile, subject, k.perSubject); !like(pat, name) {
						t.Errorf("pattern %q misses the tenant's own session %q", pat, name)
					}
				}
				for _, other := range tenants {
					if other == owner {
						continue
					}
					for _, ok := range sessionKinds {
						if name := SessionName(other, ok.profile, "alice", ok.perSubject); like(pat, name) {
							t.Errorf("pattern %q of tenant %q matches tenant %q's session %q", pat, owner, other, name)
						}
					}
				}
			})
		}
	}
}

func TestSessionsOf(t *testing.T) {
	pc := &config.Profile{Name: "rw", Sessions: config.PerSubject,
		SessionTags: map[string]string{"tenant": "{tenant}", "org": "{tenant}", "who": "{subject}", "pair": "{tenant}-x"}}
	got := SessionsOf(pc, "a-b")
	if want := []string{"org", "tenant"}; !slices.Equal(got.TagKeys, want) || got.TagValue != "a-b" {
		t.Errorf("tags = %v %q, want %v \"a-b\"", got.TagKeys, got.TagValue, want)
	}
	if got.NamePattern != "t-a-b@*" {
		t.Errorf("pattern = %q", got.NamePattern)
	}
	none := SessionsOf(&config.Profile{Name: "read", Sessions: config.PerTenant}, "a")
	if len(none.TagKeys) != 0 || none.TagValue != "" || none.NamePattern != "t-a@read" {
		t.Errorf("per-tenant profile without tags: %+v", none)
	}
}

func FuzzSessionNamePattern(f *testing.F) {
	f.Add("a", "a-b", "read", "b-read", true, false)
	f.Add("a.b", "a_b", "read", "read", false, false)
	f.Add(strings.Repeat("x", 64), strings.Repeat("x", 63), "read", "p", true, true)
	f.Fuzz(func(t *testing.T, owner, other, p1, p2 string, s1, s2 bool) {
		pat := SessionNamePattern(owner, p1, s1)
		if !like(pat, SessionName(owner, p1, "alice", s1)) {
			t.Fatalf("pattern %q misses its own session", pat)
		}
		a, b := sessionTenantPart(owner, p1, s1), sessionTenantPart(other, p2, s2)
		if a != b && like(pat, SessionName(other, p2, "bob", s2)) {
			t.Fatalf("pattern %q of %q matches %q's session %q", pat, owner, other, SessionName(other, p2, "bob", s2))
		}
	})
}
