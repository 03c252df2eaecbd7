package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// kubeAudience is the broker's audience in the Kubernetes tests.
const kubeAudience = "tvm.tvmkit.io"

// kubeAuth is the auth section of deploy/kubernetes/base/broker.yaml, with
// the test issuer: OIDC discovery from the issuer, the tenant from the
// namespace, the Kubernetes namespace pattern.
func kubeAuth(issuer string) config.Auth {
	return config.Auth{
		Issuer:        issuer,
		Audiences:     []string{kubeAudience},
		Algorithms:    []string{"RS256", "ES256"},
		Discovery:     true,
		TenantClaim:   `kubernetes\.io.namespace`,
		SubjectClaim:  "sub",
		TenantPattern: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`,
	}
}

// TestKubernetesServiceAccountTokens verifies tokens shaped exactly like
// kubelet-projected service-account tokens (RS256 with a kid, nested
// kubernetes.io claim, aud array), with the keys found through the
// issuer's discovery document at the kube-apiserver's paths, over https.
func TestKubernetesServiceAccountTokens(t *testing.T) {
	ns63 := "n-" + strings.Repeat("a", 61) // a namespace of the longest length
	k := testenv.StartKubeIssuer(t)
	client := k.Client()
	t.Cleanup(client.CloseIdleConnections)
	v := newTestVerifier(t, kubeAuth(k.URL), client)
	sa := func(ns string, aud ...string) testenv.ServiceAccountToken {
		return testenv.ServiceAccountToken{Namespace: ns, ServiceAccount: "app", Audiences: aud, IssuedAt: now.Add(-time.Minute)}
	}
	tests := map[string]struct {
		token string
		want  *Identity // nil: refused with code
		code  string
	}{
		"namespace is the tenant": {
			token: k.Token(t, sa("team-a", kubeAudience)),
			want: &Identity{Subject: "system:serviceaccount:team-a:app", Tenant: "team-a", Issuer: k.URL,
				Audience: []string{kubeAudience}, IssuedAt: now.Add(-time.Minute), Expiry: now.Add(59 * time.Minute)},
		},
		"longest namespace": {
			token: k.Token(t, sa(ns63, kubeAudience)),
			want: &Identity{Subject: "system:serviceaccount:" + ns63 + ":app",
				Tenant: ns63, Issuer: k.URL,
				Audience: []string{kubeAudience}, IssuedAt: now.Add(-time.Minute), Expiry: now.Add(59 * time.Minute)},
		},
		"extended token with warnafter": {
			token: k.Token(t, testenv.ServiceAccountToken{Namespace: "team-b", ServiceAccount: "default",
				Audiences: []string{"https://kubernetes.default.svc", kubeAudience}, IssuedAt: now.Add(-time.Hour),
				TTL: 365 * 24 * time.Hour, WarnAfter: now.Add(-time.Minute)}),
			want: &Identity{Subject: "system:serviceaccount:team-b:default", Tenant: "team-b", Issuer: k.URL,
				Audience: []string{"https://kubernetes.default.svc", kubeAudience}, IssuedAt: now.Add(-time.Hour),
				Expiry: now.Add(-time.Hour).Add(365 * 24 * time.Hour)},
		},
		"the API server's audience":  {token: k.Token(t, sa("team-a", "https://kubernetes.default.svc")), code: errs.CodeInvalidToken},
		"an IRSA token's audience":   {token: k.Token(t, sa("team-a", "sts.amazonaws.com")), code: errs.CodeInvalidToken},
		"the Pod Identity audience":  {token: k.Token(t, sa("team-a", "pods.eks.amazonaws.com")), code: errs.CodeInvalidToken},
		"namespace not a DNS label":  {token: k.Token(t, sa("Team_A", kubeAudience)), code: errs.CodeInvalidTenant},
		"namespace longer than 63":   {token: k.Token(t, sa("n"+strings.Repeat("a", 63), kubeAudience)), code: errs.CodeInvalidTenant},
		"no kubernetes.io claim":     {token: k.Sign(t, without(k.Claims(sa("team-a", kubeAudience)), "kubernetes.io")), code: errs.CodeInvalidTenant},
		"namespace at the top level": {token: k.Sign(t, topLevelNamespace(k.Claims(sa("team-a", kubeAudience)))), code: errs.CodeInvalidTenant},
		"expired":                    {token: k.Token(t, testenv.ServiceAccountToken{Namespace: "team-a", ServiceAccount: "app", Audiences: []string{kubeAudience}, IssuedAt: now.Add(-2 * time.Hour)}), code: errs.CodeInvalidToken},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			// The SDKs send the raw token; a caller may send Bearer.
			for _, header := range []string{tt.token, "Bearer " + tt.token} {
				id, err := v.Verify(context.Background(), header)
				if tt.want == nil {
					var e *errs.Error
					if !errors.As(err, &e) || e.Code != tt.code {
						t.Fatalf("Verify = %+v, %v; want %s", id, err, tt.code)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(tt.want, id, cmpopts.IgnoreFields(Identity{}, "ID")); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				if len(id.ID) != 36 {
					t.Errorf("ID (jti) = %q", id.ID)
				}
			}
		})
	}
}

// TestKubernetesClaimPathMustEscapeTheDot: the unescaped path reads
// {"kubernetes": {"io": ...}}, which a service-account token does not have:
// the token is refused, not resolved to something else.
func TestKubernetesClaimPathMustEscapeTheDot(t *testing.T) {
	k := testenv.StartKubeIssuer(t)
	client := k.Client()
	t.Cleanup(client.CloseIdleConnections)
	cfg := kubeAuth(k.URL)
	cfg.TenantClaim = "kubernetes.io.namespace"
	v := newTestVerifier(t, cfg, client)
	tok := k.Token(t, testenv.ServiceAccountToken{Namespace: "team-a", ServiceAccount: "app",
		Audiences: []string{kubeAudience}, IssuedAt: now})
	_, err := v.Verify(context.Background(), tok)
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.CodeInvalidTenant {
		t.Fatalf("Verify = %v, want invalid_tenant", err)
	}
}

func without(c jwt.MapClaims, key string) jwt.MapClaims {
	delete(c, key)
	return c
}

// topLevelNamespace moves the namespace to a top-level "kubernetes.io"
// string claim next to nothing nested: the escaped path must not find it.
func topLevelNamespace(c jwt.MapClaims) jwt.MapClaims {
	c["kubernetes.io"] = "team-a"
	c["kubernetes.io.namespace"] = "team-a"
	return c
}
