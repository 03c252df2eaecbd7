package policies

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestLeadingKey(t *testing.T) {
	permissive := regexp.MustCompile(`.*`)
	unanchored := regexp.MustCompile(`[a-z]+`)
	tests := map[string]struct {
		format, tenant string
		pattern        *regexp.Regexp
		want           string
		wantErr        error
	}{
		"default":                       {format: DefaultLeadingKeyFormat, tenant: "1", want: "Tenant#1"},
		"underscore and dash":           {format: DefaultLeadingKeyFormat, tenant: "a_b-C9", want: "Tenant#a_b-C9"},
		"64 characters":                 {format: "{tenant}", tenant: strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		"custom format":                 {format: "org/{tenant}/data", tenant: "acme", want: "org/acme/data"},
		"empty":                         {format: DefaultLeadingKeyFormat, tenant: "", wantErr: ErrInvalidTenant},
		"wildcard star":                 {format: DefaultLeadingKeyFormat, tenant: "*", wantErr: ErrInvalidTenant},
		"leading dash":                  {format: DefaultLeadingKeyFormat, tenant: "-1", wantErr: ErrInvalidTenant},
		"65 characters":                 {format: DefaultLeadingKeyFormat, tenant: strings.Repeat("a", 65), wantErr: ErrInvalidTenant},
		"permissive pattern star":       {format: DefaultLeadingKeyFormat, tenant: "1*", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern question":   {format: DefaultLeadingKeyFormat, tenant: "1?", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern quote":      {format: DefaultLeadingKeyFormat, tenant: `1"`, pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern variable":   {format: DefaultLeadingKeyFormat, tenant: "${aws:username}", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern slash":      {format: DefaultLeadingKeyFormat, tenant: "a/b", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern bslash":     {format: DefaultLeadingKeyFormat, tenant: `a\b`, pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern newline":    {format: DefaultLeadingKeyFormat, tenant: "a\nb", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern DEL":        {format: DefaultLeadingKeyFormat, tenant: "a\x7f", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern non-ASCII":  {format: DefaultLeadingKeyFormat, tenant: "café", pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern 65":         {format: DefaultLeadingKeyFormat, tenant: strings.Repeat("a", 65), pattern: permissive, wantErr: ErrInvalidTenant},
		"permissive pattern space ok":   {format: DefaultLeadingKeyFormat, tenant: "a b", pattern: permissive, want: "Tenant#a b"},
		"unanchored pattern full match": {format: DefaultLeadingKeyFormat, tenant: "abc", pattern: unanchored, want: "Tenant#abc"},
		"unanchored pattern partial":    {format: DefaultLeadingKeyFormat, tenant: "abc1", pattern: unanchored, wantErr: ErrInvalidTenant},
		"format without placeholder":    {format: "Tenant#", tenant: "1", wantErr: ErrInvalidFormat},
		"format with two placeholders":  {format: "{tenant}#{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
		"format with a wildcard":        {format: "Tenant#{tenant}*", tenant: "1", wantErr: ErrInvalidFormat},
		"format with a question mark":   {format: "Tenant?{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
		"format with a variable":        {format: "${aws:username}{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
		"format with a quote":           {format: `T"{tenant}`, tenant: "1", wantErr: ErrInvalidFormat},
		"format with a backslash":       {format: `T\{tenant}`, tenant: "1", wantErr: ErrInvalidFormat},
		"format with a control char":    {format: "Tenant\x00#{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
		"format with a newline":         {format: "Tenant\n{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
		"format with latin-1 ok":        {format: "Mandant§{tenant}", tenant: "1", want: "Mandant§1"},
		"result too long":               {format: strings.Repeat("x", MaxLeadingKeyLength) + "{tenant}", tenant: "1", wantErr: ErrInvalidFormat},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := LeadingKey(tc.format, tc.tenant, tc.pattern)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("LeadingKey() = %q, %v; want error %v", got, err, tc.wantErr)
				}
				if len(tc.tenant) > 2 && strings.Contains(err.Error(), tc.tenant) {
					t.Errorf("error %q echoes the tenant id", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("LeadingKey() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
