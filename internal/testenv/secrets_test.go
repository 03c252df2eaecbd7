package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0xMjM0NTY"

func TestSecretsLeaks(t *testing.T) {
	var s Secrets
	s.Add("secret access key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "short")
	s.AddToken("eyJ0eXAiOiJKV1QifQ.e30.dGhlLXNpZ25hdHVyZS1wYXJ0LWhlcmU")
	tests := map[string]struct {
		log  string
		want []string
	}{
		"clean":                {log: `{"msg":"vend","access_key_id_last4":"LJC7"}`},
		"secret key":           {log: `{"error":"... wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ..."}`, want: []string{"a secret access key (…EKEY)"}},
		"short values ignored": {log: "short"},
		"signature alone":      {log: "sig dGhlLXNpZ25hdHVyZS1wYXJ0LWhlcmU", want: []string{"a JWT signature (…lcmU)"}},
		"any JWT-shaped text":  {log: "cause: " + testJWT, want: []string{"a JWT-shaped text (…0NTY)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := s.Leaks(tc.log)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Leaks = %q, want %q", got, tc.want)
			}
			for _, l := range got {
				if strings.Contains(l, "wJalrXUtnFEMI") || strings.Contains(l, "dGhlLXNpZ25hdHVy") {
					t.Errorf("leak line %q repeats the secret", l)
				}
			}
		})
	}
}

// TestSecretsProxy: what passes the proxy is recorded — the bearer token,
// a session token header, credentials in JSON and XML answers — and every
// answer arrives whole.
func TestSecretsProxy(t *testing.T) {
	big := strings.Repeat("x", maxRecorded+10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			_, _ = io.WriteString(w, `{"AccessKeyId":"ASIAJSONKEY000000001","SecretAccessKey":"json-secret-0123456789","Token":"json-session-token-0123"}`)
		case "/xml":
			_, _ = io.WriteString(w, `<Credentials><SessionToken>xml-session-token-0123</SessionToken><SecretAccessKey>xml-secret-0123456789</SecretAccessKey></Credentials>`)
		case "/big":
			_, _ = io.WriteString(w, big)
		}
		if r.Host == "" {
			t.Error("no Host")
		}
	}))
	defer upstream.Close()
	var s Secrets
	proxy := s.Proxy(t, upstream.URL)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/json", "/xml", "/big"} {
		req, _ := http.NewRequest(http.MethodGet, proxy+path, nil)
		req.Header.Set("Authorization", "Bearer "+testJWT)
		req.Header.Set("X-Amz-Security-Token", "header-session-token-0123")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/big" && string(body) != big {
			t.Errorf("/big arrived with %d bytes, want %d", len(body), len(big))
		}
	}
	for _, secret := range []string{"ASIAJSONKEY000000001", "json-secret-0123456789", "json-session-token-0123", "xml-session-token-0123",
		"xml-secret-0123456789", "header-session-token-0123", "c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0xMjM0NTY"} {
		if len(s.Leaks("log: "+secret)) == 0 {
			t.Errorf("%s not recorded", secret)
		}
	}
}

// TestSecretsLateProxy: before its target is set the proxy answers 502
// and records nothing; once set, it forwards and records.
func TestSecretsLateProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"SecretAccessKey":"late-secret-0123456789"}`)
	}))
	defer upstream.Close()
	var s Secrets
	proxy, setTarget := s.LateProxy(t)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func() int {
		t.Helper()
		resp, err := client.Get(proxy + "/creds")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusBadGateway || s.Len() != 0 {
		t.Fatalf("before the target: %d, %d secrets recorded; want 502 and none", code, s.Len())
	}
	setTarget(upstream.URL)
	if code := get(); code != http.StatusOK || len(s.Leaks("log: late-secret-0123456789")) == 0 {
		t.Errorf("after the target: %d, secret recorded %v; want 200 and recorded", code, s.Leaks("log: late-secret-0123456789"))
	}
}
