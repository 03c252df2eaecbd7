package tenant

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCompile(t *testing.T) {
	tests := map[string]struct {
		pattern string
		want    string // "" = accepted
	}{
		"default":              {DefaultPattern, ""},
		"empty means default":  {"", ""},
		"digits":               {`^[0-9]{1,12}$`, ""},
		"alternation grouped":  {`^(?:acme|globex)$`, ""},
		"text anchors":         {`\A[a-z]{1,8}\z`, ""},
		"latin-1 letters":      {`^[a-zé]{1,8}$`, ""},
		"latin-1, 100 long":    {`^[a-zé]{1,100}$`, ""},
		"128 long":             {`^[a-z]{1,128}$`, ""},
		"unanchored":           {`[a-z]{1,8}`, "must be anchored"},
		"start only":           {`^[a-z]{1,8}`, "must be anchored"},
		"end only":             {`[a-z]{1,8}$`, "must be anchored"},
		"escaped dollar":       {`^[a-z]{1,8}\$`, "must be anchored"},
		"top alternation":      {`^a$|^b$`, "must be anchored"},
		"multi-line":           {`(?m)^[a-z]{1,8}$`, "must be anchored"},
		"unbounded plus":       {`^[a-z]+$`, "must bound the tenant length"},
		"unbounded star":       {`^a[a-z]*$`, "must bound the tenant length"},
		"too long":             {`^[a-z]{1,200}$`, "must bound the tenant length"},
		"129 long":             {`^[a-z]{1,129}$`, "must bound the tenant length"},
		"open repeat":          {`^[a-z]{1,}$`, "must bound the tenant length"},
		"dot":                  {`^.{1,8}$`, "must not use '.'"},
		"star in class":        {`^[a-z*]{1,8}$`, `'*'`},
		"question literal":     {`^a\?$`, `'?'`},
		"quote":                {`^[a-z"]{1,8}$`, `'"'`},
		"dollar in class":      {`^[a-z$]{1,8}$`, `'$'`},
		"slash":                {`^[a-z/]{1,8}$`, `'/'`},
		"backslash":            {`^[a-z\\]{1,8}$`, `'\\'`},
		"brace":                {`^[a-z{]{1,8}$`, `'{'`},
		"closing brace":        {`^[a-z}]{1,8}$`, `'}'`},
		"space":                {`^[a-z ]{1,8}$`, `' '`},
		"no-break space":       {"^[a-z\u00a0]{1,8}$", "must not match the character"},
		"above latin-1":        {`^[a-zĀ]{1,8}$`, "must not match the character"},
		"negated class":        {`^[^a]{1,8}$`, "must not match the character"},
		"not space":            {`^\S{1,8}$`, "must not match the character"},
		"word chars unicode":   {`^[\p{L}]{1,8}$`, "must not match the character"},
		"fold to kelvin":       {`(?i)^k{1,8}$`, "must not match the character"},
		"fold class to kelvin": {`(?i)^[k]{1,8}$`, "must not match the character"},
		"fold to long s":       {`(?i)^s$`, "must not match the character"},
		"empty match":          {`^[a-z]{0,8}$`, "must not match the empty string"},
		"empty alternative":    {`^(?:a|)$`, "must not match the empty string"},
		"does not compile":     {`^[a-$`, "does not compile"},
		"word boundary":        {`^a\bb$`, `avoid \b`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(tt.pattern)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Compile(%q) = %v", tt.pattern, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Compile(%q) = %v, want an error containing %q", tt.pattern, err, tt.want)
			}
		})
	}
}

func TestPatternAnalysis(t *testing.T) {
	tests := map[string]struct {
		pattern           string
		maxLen, maxBytes  int
		longest           string
		admitsHash, latin bool
	}{
		"default":       {DefaultPattern, 64, 64, "0" + strings.Repeat("-", 63), false, false},
		"latin-1":       {`^[a-zé]{1,100}$`, 100, 200, strings.Repeat("é", 100), false, true},
		"alternation":   {`^(?:acme|globex|éé)$`, 6, 6, "globex", false, true},
		"bytes differ":  {`^(?:aaa|éé)$`, 3, 4, "aaa", false, true},
		"optional part": {`^[a-z]{1,4}(?:#[0-9]{1,3})?$`, 8, 8, "aaaa#000", true, false},
		"fold":          {`(?i)^é{2}$`, 2, 4, "ÉÉ", false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Compile(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if p.MaxLen() != tc.maxLen || p.MaxBytes() != tc.maxBytes || p.Longest() != tc.longest {
				t.Errorf("MaxLen, MaxBytes, Longest = %d, %d, %q; want %d, %d, %q",
					p.MaxLen(), p.MaxBytes(), p.Longest(), tc.maxLen, tc.maxBytes, tc.longest)
			}
			if err := p.Check(p.Longest()); err != nil {
				t.Errorf("Longest() refused by Check: %v", err)
			}
			if got := p.CheckAlphabet("x", func(r rune) bool { return r != '#' }) != nil; got != tc.admitsHash {
				t.Errorf("admits '#' = %v, want %v", got, tc.admitsHash)
			}
			if got := p.CheckAlphabet("x", func(r rune) bool { return r < 0x80 }) != nil; got != tc.latin {
				t.Errorf("admits non-ASCII = %v, want %v", got, tc.latin)
			}
			if p.String() != tc.pattern {
				t.Errorf("String() = %q", p.String())
			}
		})
	}
	err := Default().CheckAlphabet(`the value of session tag "t"`, func(r rune) bool { return r != '-' })
	if err == nil || !strings.Contains(err.Error(), `admits the character '-', which the value of session tag "t" does not allow`) {
		t.Errorf("CheckAlphabet = %v", err)
	}
}

func TestCheck(t *testing.T) {
	latin := mustCompile(t, `^[a-zé]{1,100}$`)
	tests := map[string]struct {
		p       *Pattern
		id      string
		wantErr bool
	}{
		"default ok":          {Default(), "1", false},
		"underscore and dash": {Default(), "a_b-C9", false},
		"64 characters":       {Default(), strings.Repeat("a", 64), false},
		"empty":               {Default(), "", true},
		"wildcard star":       {Default(), "*", true},
		"leading dash":        {Default(), "-1", true},
		"65 characters":       {Default(), strings.Repeat("a", 65), true},
		"latin-1 ok":          {latin, "café", false},
		"latin-1 100":         {latin, strings.Repeat("é", 100), false},
		"latin-1 101":         {latin, strings.Repeat("é", 101), true},
		"latin-1 upper":       {latin, "Café", true},
		"invalid UTF-8":       {latin, "caf\xe9", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.p.Check(tc.id)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Check(%q) = %v, wantErr %v", tc.id, err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidTenant) {
					t.Errorf("error %v does not wrap ErrInvalidTenant", err)
				}
				if len(tc.id) > 2 && strings.Contains(err.Error(), tc.id) {
					t.Errorf("error %q echoes the tenant id", err)
				}
			}
			if tc.p.MatchString(tc.id) == tc.wantErr {
				t.Errorf("MatchString disagrees with Check")
			}
		})
	}
}

// TestCheckRunes: the fixed rules hold whatever the pattern (the cases of
// the former permissive-pattern table of policies.LeadingKey).
func TestCheckRunes(t *testing.T) {
	refused := map[string]string{
		"star": "1*", "question": "1?", "quote": `1"`, "variable": "${aws:username}", "slash": "a/b",
		"backslash": `a\b`, "newline": "a\nb", "DEL": "a\x7f", "space": "a b", "no-break space": "a\u00a0b",
		"brace": "a{b", "closing brace": "a}b", "above latin-1": "a\u2028", "emoji": "a🚀", "nul": "a\x00",
		"C1 control": "a\u0085", "129 characters": strings.Repeat("a", 129), "invalid UTF-8": "a\xffb", "empty": "",
	}
	for name, id := range refused {
		t.Run(name, func(t *testing.T) {
			err := CheckRunes(id)
			if !errors.Is(err, ErrInvalidTenant) {
				t.Fatalf("CheckRunes(%q) = %v, want ErrInvalidTenant", id, err)
			}
			if len(id) > 2 && strings.Contains(err.Error(), id) {
				t.Errorf("error %q echoes the tenant id", err)
			}
		})
	}
	for _, id := range []string{"1", "café", "Tenant#1", strings.Repeat("é", 128), "a.b:c=d+e@f,g'h&i<j>k|l~m^n`o", "ÿ"} {
		if err := CheckRunes(id); err != nil {
			t.Errorf("CheckRunes(%q) = %v", id, err)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := map[string]struct {
		format, id, want string
		wantErr          bool
	}{
		"default":            {format: "Tenant#{tenant}", id: "1", want: "Tenant#1"},
		"bare":               {format: "{tenant}", id: "abc", want: "abc"},
		"custom":             {format: "org/{tenant}/data", id: "acme", want: "org/acme/data"},
		"latin-1 ok":         {format: "Mandant§{tenant}", id: "1", want: "Mandant§1"},
		"no placeholder":     {format: "Tenant#", wantErr: true},
		"two placeholders":   {format: "{tenant}#{tenant}", wantErr: true},
		"wildcard":           {format: "Tenant#{tenant}*", wantErr: true},
		"question mark":      {format: "Tenant?{tenant}", wantErr: true},
		"variable":           {format: "${aws:username}{tenant}", wantErr: true},
		"quote":              {format: `T"{tenant}`, wantErr: true},
		"backslash":          {format: `T\{tenant}`, wantErr: true},
		"control char":       {format: "Tenant\x00#{tenant}", wantErr: true},
		"newline":            {format: "Tenant\n{tenant}", wantErr: true},
		"C1 control":         {format: "Tenant\u0085{tenant}", wantErr: true},
		"invalid UTF-8":      {format: "T\xff{tenant}", wantErr: true},
		"placeholder broken": {format: "{ten ant}", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := ParseFormat(tc.format)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidFormat) {
					t.Fatalf("ParseFormat(%q) = %v, want ErrInvalidFormat", tc.format, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Expand(tc.id); got != tc.want || f.String() != tc.format || f.IsZero() {
				t.Errorf("Expand = %q, String = %q, IsZero %v", got, f.String(), f.IsZero())
			}
			if f.FixedBytes() != len(tc.format)-len(Placeholder) {
				t.Errorf("FixedBytes = %d", f.FixedBytes())
			}
		})
	}
	if !(Format{}).IsZero() {
		t.Error("zero Format is not IsZero")
	}
}

func mustCompile(t *testing.T, src string) *Pattern {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzPattern: whatever pattern is accepted never matches a string holding
// a forbidden character, nor the empty string, nor more than MaxLen
// characters; Longest is admitted and as long as MaxLen; MaxBytes bounds
// every admitted id.
func FuzzPattern(f *testing.F) {
	for _, p := range []string{DefaultPattern, `^[a-z*]{1,3}$`, `(?i)^k$`, `^(?:a|b){1,4}$`, `^[!-~]{1,4}$`, `^[a-zé]{1,100}$`,
		`^(?:aaa|éé)$`, `^[a-z]{2}(?:-[0-9]{1,3}){0,2}$`} {
		f.Add(p, "a*")
	}
	f.Fuzz(func(t *testing.T, pattern, probe string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		if p.Check(p.Longest()) != nil || utf8.RuneCountInString(p.Longest()) != p.MaxLen() || p.MaxLen() > MaxLength {
			t.Fatalf("pattern %q: Longest %q (MaxLen %d) not admitted", pattern, p.Longest(), p.MaxLen())
		}
		for _, s := range []string{"", "*", "?", `"`, "$", "/", `\`, "{", "}", " ", "\n", "\x00", "\u212a", "\u00a0", probe} {
			if !p.re.MatchString(s) {
				continue
			}
			if s == "" || strings.ContainsFunc(s, Forbidden) || utf8.RuneCountInString(s) > p.MaxLen() || len(s) > p.MaxBytes() {
				t.Fatalf("accepted pattern %q matches %q", pattern, s)
			}
			for _, r := range s {
				if err := p.CheckAlphabet("probe", func(a rune) bool { return a != r }); err == nil {
					t.Fatalf("pattern %q matches %q but its alphabet lacks %q", pattern, s, r)
				}
			}
		}
	})
}
