package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/vend"
)

// marshalCredentials is the reference encoding of the 200 body.
func marshalCredentials(t testing.TB, c *vend.Credentials) []byte {
	t.Helper()
	body, err := json.Marshal(credentialsResponse{
		Version: 1, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Token: c.SessionToken,
		Expiration: c.Expiration.UTC().Truncate(time.Second).Format(time.RFC3339),
		AccountID:  c.AccountID, Tenant: c.Tenant, Profile: c.Profile,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestAppendCredentialsMatchesJSON(t *testing.T) {
	base := vend.Credentials{
		AccessKeyID: accessKeyID, SecretAccessKey: secretKey, SessionToken: sessionToken,
		Expiration: expiration, AccountID: "123456789012", Tenant: "1", Profile: "read",
	}
	tests := map[string]func(c *vend.Credentials){
		"plain":               func(*vend.Credentials) {},
		"no account":          func(c *vend.Credentials) { c.AccountID = "" },
		"html characters":     func(c *vend.Credentials) { c.Tenant = "a<b>&c" },
		"quote and backslash": func(c *vend.Credentials) { c.SecretAccessKey = `a"b\c/d+e=` },
		"control characters":  func(c *vend.Credentials) { c.SessionToken = "a\nb\x00c\td" },
		"non-ASCII":           func(c *vend.Credentials) { c.Tenant = "é\u2028ü" },
		"invalid UTF-8":       func(c *vend.Credentials) { c.Profile = "a\xffb" },
		"other time zone":     func(c *vend.Credentials) { c.Expiration = expiration.In(time.FixedZone("x", 3600)) },
		"empty strings":       func(c *vend.Credentials) { *c = vend.Credentials{} },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			c := base
			mod(&c)
			if got, want := string(appendCredentials(nil, &c)), string(marshalCredentials(t, &c)); got != want {
				t.Errorf("appendCredentials:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func FuzzAppendCredentials(f *testing.F) {
	f.Add(accessKeyID, secretKey, sessionToken, "123456789012", "1", "read", int64(1764140071))
	f.Add("", "<&>", "\u2028", "", "é", "\xff", int64(-1))
	f.Fuzz(func(t *testing.T, key, secret, token, account, tenant, profile string, unix int64) {
		c := vend.Credentials{
			AccessKeyID: key, SecretAccessKey: secret, SessionToken: token, AccountID: account,
			Tenant: tenant, Profile: profile, Expiration: time.Unix(unix%(1<<35), 0),
		}
		if got, want := string(appendCredentials(nil, &c)), string(marshalCredentials(t, &c)); got != want {
			t.Fatalf("appendCredentials:\n got %s\nwant %s", got, want)
		}
	})
}
