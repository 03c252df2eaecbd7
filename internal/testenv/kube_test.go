package testenv

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// TestKubeIssuer: the issuer publishes discovery and the JWK Set at the
// kube-apiserver's paths over https, and its tokens have the kubelet's
// shape and verify with the published key.
func TestKubeIssuer(t *testing.T) {
	k := StartKubeIssuer(t)
	hc := k.Client()
	defer hc.CloseIdleConnections()
	get := func(path string, v any) {
		t.Helper()
		res, err := hc.Get(k.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	get(KubeDiscoveryPath, &disc)
	if disc.Issuer != k.URL || disc.JWKSURI != k.URL+KubeJWKSPath || !strings.HasPrefix(k.URL, "https://127.0.0.1:") {
		t.Errorf("discovery %+v for issuer %s", disc, k.URL)
	}
	var set struct{ Keys []map[string]string }
	get(KubeJWKSPath, &set)
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != k.KeyID() || set.Keys[0]["alg"] != "RS256" || set.Keys[0]["use"] != "sig" {
		t.Fatalf("JWK Set %v", set)
	}
	n, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["n"])
	e, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["e"])
	published := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if !published.Equal(k.PublicKey()) {
		t.Error("the published key is not the signing key")
	}
	if pemData, err := os.ReadFile(k.CAFile); err != nil {
		t.Error(err)
	} else if b, _ := pem.Decode(pemData); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("CA file %s is not a PEM certificate", k.CAFile)
	}

	iat := time.Now().Truncate(time.Second)
	tok := k.Token(t, ServiceAccountToken{Namespace: "team-a", ServiceAccount: "app", Audiences: []string{"tvm"},
		IssuedAt: iat, TTL: 10 * time.Minute, WarnAfter: iat.Add(5 * time.Minute)})
	parts := strings.Split(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if want := `{"alg":"RS256","kid":"` + k.KeyID() + `"}`; string(header) != want {
		t.Errorf("header %s, want %s", header, want)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return published, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("tvm"), jwt.WithIssuer(k.URL)); err != nil {
		t.Fatalf("token does not verify with the published key: %v", err)
	}
	uid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	kube := claims["kubernetes.io"].(map[string]any)
	for _, obj := range []string{"pod", "serviceaccount", "node"} {
		m := kube[obj].(map[string]any)
		if !uid.MatchString(m["uid"].(string)) || m["name"] == "" {
			t.Errorf("kubernetes.io.%s = %v", obj, m)
		}
		delete(m, "uid")
	}
	if !uid.MatchString(claims["jti"].(string)) {
		t.Errorf("jti %v", claims["jti"])
	}
	delete(claims, "jti")
	want := jwt.MapClaims{
		"iss": k.URL, "sub": "system:serviceaccount:team-a:app", "aud": []any{"tvm"},
		"iat": float64(iat.Unix()), "nbf": float64(iat.Unix()), "exp": float64(iat.Add(10 * time.Minute).Unix()),
		"kubernetes.io": map[string]any{
			"namespace":      "team-a",
			"pod":            map[string]any{"name": "app-7d9f8b6c5d-x2x9z"},
			"serviceaccount": map[string]any{"name": "app"},
			"node":           map[string]any{"name": "ip-10-0-1-23.ec2.internal"},
			"warnafter":      float64(iat.Add(5 * time.Minute).Unix()),
		},
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	res, err := hc.Get(k.URL + "/other")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other = %d", res.StatusCode)
	}
}
