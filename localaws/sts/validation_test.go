package sts

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// validationCases are AssumeRole parameter sets, each breaking (or just
// meeting) one of STS's documented constraints.
func validationCases(role string) map[string]url.Values {
	base := func(kv ...string) url.Values {
		p := url.Values{"RoleArn": {role}, "RoleSessionName": {"session"}}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		return p
	}
	tags := func(n int, key func(int) string, value string) url.Values {
		p := base()
		for i := range n {
			p.Set("Tags.member."+strconv.Itoa(i+1)+".Key", key(i))
			p.Set("Tags.member."+strconv.Itoa(i+1)+".Value", value)
		}
		return p
	}
	transitive := func(n int, key string) url.Values {
		p := tags(1, func(int) string { return key }, "v")
		for i := range n {
			p.Set("TransitiveTagKeys.member."+strconv.Itoa(i+1), key)
		}
		return p
	}
	numbered := func(i int) string { return "k" + strconv.Itoa(i) }
	return map[string]url.Values{
		"ok":                       base(),
		"no role":                  {"RoleSessionName": {"session"}},
		"no session name":          {"RoleArn": {role}},
		"nothing":                  {},
		"role short":               base("RoleArn", "arn:aws:iam::1:r"),
		"role 20":                  base("RoleArn", strings.Repeat("r", 20)),
		"role long":                base("RoleArn", strings.Repeat("r", 2049)),
		"role 2048":                base("RoleArn", strings.Repeat("r", 2048)),
		"role control char":        base("RoleArn", role+"\x01"),
		"session short":            base("RoleSessionName", "a"),
		"session 2":                base("RoleSessionName", "ab"),
		"session long":             base("RoleSessionName", strings.Repeat("a", 65)),
		"session 64":               base("RoleSessionName", strings.Repeat("a", 64)),
		"session space":            base("RoleSessionName", "a b"),
		"session colon":            base("RoleSessionName", "a:b"),
		"session unicode":          base("RoleSessionName", "jösé"),
		"session invalid utf8":     base("RoleSessionName", "ab\xff"),
		"session all specials":     base("RoleSessionName", "a_+=,.@-Z9"),
		"duration 899":             base("DurationSeconds", "899"),
		"duration 900":             base("DurationSeconds", "900"),
		"duration 43200":           base("DurationSeconds", "43200"),
		"duration 43201":           base("DurationSeconds", "43201"),
		"duration text":            base("DurationSeconds", "1h"),
		"external id short":        base("ExternalId", "x"),
		"external id long":         base("ExternalId", strings.Repeat("x", 1225)),
		"external id 1224":         base("ExternalId", strings.Repeat("x", 1224)),
		"external id space":        base("ExternalId", "a b"),
		"external id specials":     base("ExternalId", "a_+=,.@:/-Z9"),
		"external id unicode":      base("ExternalId", "aé"),
		"source identity short":    base("SourceIdentity", "a"),
		"source identity long":     base("SourceIdentity", strings.Repeat("a", 65)),
		"source identity colon":    base("SourceIdentity", "a:b"),
		"source identity reserved": base("SourceIdentity", "aws:me"),
		"policy empty":             base("Policy", ""),
		"policy latin1":            base("Policy", `{"a":"é"}`),
		"policy beyond latin1":     base("Policy", `{"a":"Ā"}`),
		"policy control char":      base("Policy", "{\x01}"),
		"policy tab newline":       base("Policy", "{\t\n\r}"),
		"policy 2048":              base("Policy", strings.Repeat(" ", 2048)),
		"policy 2049":              base("Policy", strings.Repeat(" ", 2049)),
		"policy 2048 latin1":       base("Policy", strings.Repeat("é", 2048)),
		"policy 2049 latin1":       base("Policy", strings.Repeat("é", 2049)),
		"tags 50":                  tags(50, numbered, "v"),
		"tags 51":                  tags(51, numbered, "v"),
		"tag key empty":            tags(1, func(int) string { return "" }, "v"),
		"tag key 128":              tags(1, func(int) string { return strings.Repeat("k", 128) }, "v"),
		"tag key 129":              tags(1, func(int) string { return strings.Repeat("k", 129) }, "v"),
		"tag key bang":             tags(1, func(int) string { return "a!" }, "v"),
		"tag key unicode":          tags(1, func(int) string { return "Mandänt 1" }, "v"),
		"tag key invalid utf8":     tags(1, func(int) string { return "a\xff" }, "v"),
		"tag value 256":            tags(1, numbered, strings.Repeat("v", 256)),
		"tag value 257":            tags(1, numbered, strings.Repeat("v", 257)),
		"tag value hash":           tags(1, numbered, "a#b"),
		"tag value empty":          tags(1, numbered, ""),
		"tag value specials":       tags(1, numbered, "José Ñ_.:/=+-@"),
		"tag reserved":             tags(1, func(int) string { return "Aws:x" }, "v"),
		"tags duplicate":           tags(2, func(int) string { return "k" }, "v"),
		"serial number short":      base("SerialNumber", "GAHT1234", "TokenCode", "123456"),
		"serial number long":       base("SerialNumber", strings.Repeat("s", 257), "TokenCode", "123456"),
		"serial number space":      base("SerialNumber", "arn:aws:iam::123456789012:mfa/a b", "TokenCode", "123456"),
		"serial number ok":         base("SerialNumber", "arn:aws:iam::123456789012:mfa/alice", "TokenCode", "123456"),
		"token code short":         base("SerialNumber", "GAHT12345678", "TokenCode", "12345"),
		"token code letters":       base("SerialNumber", "GAHT12345678", "TokenCode", "12345a"),
		"min token size 0":         base("MinimumSessionTokenSize", "0"),
		"min token size 4096":      base("MinimumSessionTokenSize", "4096"),
		"min token size 4097":      base("MinimumSessionTokenSize", "4097"),
		"min token size negative":  base("MinimumSessionTokenSize", "-1"),
		"min token size text":      base("MinimumSessionTokenSize", "big"),
		"tag value missing":        base("Tags.member.1.Key", "k"),
		"tag key missing":          base("Tags.member.1.Value", "v"),
		"tag second value missing": base("Tags.member.1.Key", "a", "Tags.member.1.Value", "1", "Tags.member.2.Key", "b"),
		"tags gap":                 base("Tags.member.1.Key", "a", "Tags.member.1.Value", "1", "Tags.member.3.Key", "b", "Tags.member.3.Value", "2"),
		"transitive 50":            transitive(50, "k"),
		"transitive 51":            transitive(51, "k"),
		"transitive long key":      transitive(1, strings.Repeat("k", 129)),
		"transitive bad key":       transitive(1, "a!"),
		"transitive stray":         func() url.Values { p := base(); p.Set("TransitiveTagKeys.member.1", "x"); return p }(),
		"policy arns 11": func() url.Values {
			p := base()
			for i := range 11 {
				p.Set("PolicyArns.member."+strconv.Itoa(i+1)+".arn", "arn:aws:iam::aws:policy/P"+strconv.Itoa(i))
			}
			return p
		}(),
		"two errors": base("RoleSessionName", "a", "DurationSeconds", "1"),
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestValidationMessages pins STS's exact answers ("" = accepted) to every
// case of validationCases. testdata/validation_messages.json was recorded
// before the limits moved to policies/stsrules; the messages must not
// change.
func TestValidationMessages(t *testing.T) {
	raw, err := os.ReadFile("testdata/validation_messages.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	cases := validationCases("arn:aws:iam::123456789012:role/tvm-tenant-read")
	if len(want) != len(cases) {
		t.Fatalf("%d recorded answers for %d cases", len(want), len(cases))
	}
	for _, name := range sortedKeys(cases) {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatal("no recorded answer")
			}
			got := ""
			if _, e := parseAssumeRole(cases[name]); e != nil {
				// JSON holds no invalid UTF-8: compare with it replaced.
				got = strings.ToValidUTF8(e.Code+": "+e.Message, "\uFFFD")
			}
			if got != w {
				t.Errorf("answer\n got %q\nwant %q", got, w)
			}
		})
	}
}
