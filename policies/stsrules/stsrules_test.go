package stsrules

import (
	"strings"
	"testing"
	"time"
)

func TestChecks(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := map[string]struct {
		check func(string) error
		in    string
		ok    bool
	}{
		"role":                   {CheckRoleARN, "arn:aws:iam::123456789012:role/tvm-tenant-read", true},
		"role with path":         {CheckRoleARN, "arn:aws:iam::123456789012:role/teams/tvm", true},
		"role in aws-us-gov":     {CheckRoleARN, "arn:aws-us-gov:iam::123456789012:role/r", true},
		"user":                   {CheckRoleARN, "arn:aws:iam::123456789012:user/broker", false},
		"role wildcard":          {CheckRoleARN, "arn:aws:iam::123456789012:role/*", false},
		"role wildcard path":     {CheckRoleARN, "arn:aws:iam::123456789012:role/*/tvm", false},
		"role bad partition":     {CheckRoleARN, "arn:awsx:iam::123456789012:role/r", false},
		"role short":             {CheckRoleARN, "role", false},
		"external id":            {CheckExternalID, "tvm-ext:1/a@b", true},
		"external id short":      {CheckExternalID, "x", false},
		"external id long":       {CheckExternalID, long(1225), false},
		"external id max":        {CheckExternalID, long(1224), true},
		"external id space":      {CheckExternalID, "a b", false},
		"tag key":                {CheckTagKey, "team name_1.x:/=+-@", true},
		"tag key unicode":        {CheckTagKey, "Mandant", true},
		"tag key empty":          {CheckTagKey, "", false},
		"tag key long":           {CheckTagKey, long(129), false},
		"tag key star":           {CheckTagKey, "a*", false},
		"tag key aws":            {CheckTagKey, "AWS:x", false},
		"tag value":              {CheckTagValue, "José Ñ/a=b", true},
		"tag value empty":        {CheckTagValue, "", true},
		"tag value hash":         {CheckTagValue, "a#b", false},
		"tag value long":         {CheckTagValue, long(257), false},
		"tag value invalid utf8": {CheckTagValue, "a\xff", false},
		"name":                   {CheckName, "t-acme-read", true},
		"name one char":          {CheckName, "a", false},
		"name colon":             {CheckName, "a:b", false},
		"name long":              {CheckName, long(65), false},
		"region":                 {CheckRegion, "us-gov-west-1", true},
		"region bad":             {CheckRegion, "mars", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tc.check(tc.in); (err == nil) != tc.ok {
				t.Errorf("check(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestCheckDuration(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		15 * time.Minute: true, 12 * time.Hour: true, 899 * time.Second: false, 12*time.Hour + time.Second: false,
		time.Hour + time.Millisecond: false,
	} {
		if err := CheckDuration(d); (err == nil) != ok {
			t.Errorf("CheckDuration(%v) = %v, want ok %v", d, err, ok)
		}
	}
}

func TestRunes(t *testing.T) {
	for r, want := range map[rune][4]bool{ // policy, name, tag, external id
		'a': {true, true, true, true}, '_': {true, true, true, true}, '@': {true, true, true, true}, ',': {true, true, false, true},
		':': {true, false, true, true}, ' ': {true, false, true, false}, '#': {true, false, false, false}, 'é': {true, false, true, false},
		'\t': {true, false, false, false}, '\x00': {false, false, false, false}, '\u2028': {false, false, true, false}, 'Ā': {false, false, true, false},
		'/': {true, false, true, true}, '+': {true, true, true, true}, '\uFFFD': {false, false, false, false},
	} {
		if got := [4]bool{PolicyRune(r), NameRune(r), TagRune(r), ExternalIDRune(r)}; got != want {
			t.Errorf("%q: policy, name, tag, external id = %v, want %v", r, got, want)
		}
	}
}
