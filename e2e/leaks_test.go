package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLeakCheckSeesTheTraffic: the log-leak check of every e2e test
// (secrets, checked in start's cleanup) knows what passed the harness: the
// token a test minted and the credentials the broker vended. Without this,
// a check that never matched anything would pass silently.
func TestLeakCheckSeesTheTraffic(t *testing.T) {
	s := startStack(t, "")
	token := mintToken(t, s.localURL, "1", "alice")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.brokerURL+"/v1/credentials?duration=900", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var creds struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	if err := json.Unmarshal(body, &creds); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("vend: %d %s", resp.StatusCode, body)
	}
	for what, v := range map[string]string{"token": token, "signature": token[strings.LastIndexByte(token, '.')+1:],
		"access key id": creds.AccessKeyId, "secret key": creds.SecretAccessKey, "session token": creds.SessionToken} {
		if len(secrets.Leaks(`{"msg":"x","v":"`+v+`"}`)) == 0 {
			t.Errorf("the leak check does not know the %s", what)
		}
	}
}
