package tlsreload

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// containerCredentials is a tiny container-credentials endpoint: it answers
// the documented JSON when the raw Authorization header equals token.
func containerCredentials(token, keyID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/credentials" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(token)) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"code": "invalid_token", "message": "no"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     keyID,
			"SecretAccessKey": "secret",
			"Token":           "session-token",
			"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"AccountId":       "123456789012",
		})
	})
}

// sdkEnv points the SDK's default chain at the container-credentials URL
// only: no static keys, no shared files, no profile.
func sdkEnv(t *testing.T, url, tokenFile string) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
}

// TestAWSSDKContainerProvider: the Go SDK's own container credentials
// provider (AWS_CONTAINER_CREDENTIALS_FULL_URI + token file, through
// config.LoadDefaultConfig) fetches credentials over https from a handler
// served through the reloading configuration, trusting the test CA — and
// keeps working across a certificate reload.
func TestAWSSDKContainerProvider(t *testing.T) {
	ca := newCA(t, "test CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	const token = "header.payload.signature"
	r, base := start(t, f, Options{}, containerCredentials(token, "ASIATESTKEY000000001"))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	sdkEnv(t, base+"/v1/credentials", tokenFile)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	trusting := awsconfig.WithEndpointCredentialOptions(func(o *endpointcreds.Options) {
		o.HTTPClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	})

	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, trusting)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if creds.AccessKeyID != "ASIATESTKEY000000001" || creds.SessionToken != "session-token" || !creds.CanExpire {
		t.Errorf("credentials %+v", creds)
	}

	// After a certificate rotation the SDK keeps fetching (a fresh provider:
	// the configured one caches for the credentials' lifetime).
	f.writePair(t, ca.issue(t, leafOpts{serial: 2}))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg, err = awsconfig.LoadDefaultConfig(ctx, trusting)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Fatalf("Retrieve after the reload: %v", err)
	}

	// A wrong token is refused by the endpoint, not by TLS.
	if err := os.WriteFile(tokenFile, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = awsconfig.LoadDefaultConfig(ctx, trusting)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err == nil || !strings.Contains(err.Error(), "invalid_token") {
		t.Errorf("Retrieve with a wrong token: %v, want the endpoint's invalid_token", err)
	}

	// The SDK's default HTTP client does not trust the test CA: TLS is
	// really verified.
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Retrieve without trusting the test CA: %v, want a certificate error", err)
	}
}
