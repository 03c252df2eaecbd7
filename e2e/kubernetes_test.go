package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"

	"github.com/tvmkit/tvm/internal/testenv"
)

// The Kubernetes flow (issue 12), end to end with the real binaries: the
// worked configuration of deploy/kubernetes/base/broker.yaml — the cluster's
// issuer through OIDC discovery, the broker's own audience, the tenant from
// the token's kubernetes.io.namespace claim, https from a certificate — in
// front of the local AWS's STS and enforcing DynamoDB; callers present
// tokens shaped exactly like kubelet-projected service-account tokens, and
// the client is an unmodified SDK application (tvm-sample) configured as a
// pod is: AWS_CONTAINER_CREDENTIALS_FULL_URI, the token file, the broker's
// CA.

// kubeAudience is the audience of deploy/kubernetes/base/broker.yaml.
const kubeAudience = "tvm.tvmkit.io"

// kubeStack is the local AWS, a Kubernetes issuer and the broker serving
// https with the worked Kubernetes configuration.
type kubeStack struct {
	localURL, brokerURL string
	kube                *testenv.KubeIssuer
	ca                  *testenv.CA
	broker              *process
}

func startKubeStack(t *testing.T) *kubeStack {
	t.Helper()
	s := &kubeStack{kube: testenv.StartKubeIssuer(t)}
	s.localURL, _ = startBareLocal(t)
	if out, code := run(t, adminEnv(s.localURL), "tvm-sample", "seed", "--endpoint", s.localURL); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, out)
	}
	putItem(t, s.localURL, "Tenant#team-a", "Item#a1")

	dir := t.TempDir()
	s.ca = testenv.NewCA(t, "tvm-broker CA")
	s.ca.WriteLeaf(t, dir, testenv.Leaf{Serial: 1})
	cfgPath := filepath.Join(dir, "broker.yaml")
	if err := os.WriteFile(cfgPath, kubeBrokerConfig(t, s.kube.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	s.broker = start(t, "tvm-broker", []string{
		"AWS_ACCESS_KEY_ID=" + brokerKeyID,
		"AWS_SECRET_ACCESS_KEY=" + brokerSecret,
		"AWS_ENDPOINT_URL=" + s.localURL,
		// The broker trusts the cluster issuer's certificate for discovery.
		"SSL_CERT_FILE=" + s.kube.CAFile,
	}, "serve", "--config", cfgPath, "--listen", listenAny)
	s.brokerURL = "https://" + s.broker.addr(t)
	s.waitReady(t)
	return s
}

// kubeBrokerConfig is deploy/kubernetes/base/broker.yaml with the test
// issuer, the local AWS's account and the test certificate: the worked
// configuration itself, not a copy of it.
func kubeBrokerConfig(t *testing.T, issuer string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kubernetes", "base", "broker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(raw), "111122223333", "123456789012")), &doc); err != nil {
		t.Fatal(err)
	}
	auth := doc["auth"].(map[string]any)
	if auth["tenant_claim"] != `kubernetes\.io.namespace` || auth["discovery"] != true || auth["audiences"].([]any)[0] != kubeAudience {
		t.Fatalf("deploy/kubernetes/base/broker.yaml auth changed: %v", auth)
	}
	auth["issuer"] = issuer
	tlsSection := doc["server"].(map[string]any)["tls"].(map[string]any)
	tlsSection["cert_file"], tlsSection["key_file"] = "tls.crt", "tls.key" // relative to the file
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitReady polls /readyz with `tvm-broker healthcheck` over https,
// trusting the test CA, until it succeeds or the broker exits.
func (s *kubeStack) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startDeadline)
	for {
		out, code := run(t, nil, "tvm-broker", "healthcheck", "--url", s.brokerURL+"/readyz", "--ca-file", s.ca.File)
		if code == 0 {
			return
		}
		select {
		case <-s.broker.done:
			t.Fatalf("broker exited before ready: %v\n%s", s.broker.err, s.broker.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not ready: %s\n%s", out, s.broker.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func adminEnv(localURL string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + adminKeyID, "AWS_SECRET_ACCESS_KEY=" + adminSecret, "AWS_ENDPOINT_URL=" + localURL}
}

// putItem writes one item of the demo table as the local admin.
func putItem(t *testing.T, localURL, pk, sk string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	c := dynamodb.New(dynamodb.Options{
		Region: region, BaseEndpoint: aws.String(localURL), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(adminKeyID, adminSecret, ""),
	})
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("tvm-demo"), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk},
		"PK1": &types.AttributeValueMemberS{Value: pk}, "SK1": &types.AttributeValueMemberS{Value: sk},
	}})
	if err != nil {
		t.Fatalf("PutItem %s/%s: %v", pk, sk, err)
	}
}

// podEnv is what a client pod of the shared mode gets: the container
// credentials variables pointing at the broker over https, the projected
// token's file, the broker's CA in the Go roots, and no AWS keys.
func (s *kubeStack) podEnv(t *testing.T, token string) []string {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil { // no trailing newline, as the kubelet writes it
		t.Fatal(err)
	}
	return []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + s.brokerURL + "/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + tokenFile,
		"SSL_CERT_FILE=" + s.ca.File,
		"AWS_ENDPOINT_URL=" + s.localURL,
	}
}

func (s *kubeStack) token(t *testing.T, namespace string, audiences ...string) string {
	t.Helper()
	return s.kube.Token(t, testenv.ServiceAccountToken{Namespace: namespace, ServiceAccount: "app", Audiences: audiences})
}

// TestKubernetesServiceAccountFlow: a pod's service-account token vends
// its namespace's credentials, which reach its own partition and are denied
// another tenant's; a token for another audience (the API server's, IRSA's)
// is refused.
func TestKubernetesServiceAccountFlow(t *testing.T) {
	s := startKubeStack(t)
	teamA := s.podEnv(t, s.token(t, "team-a", kubeAudience))
	tests := map[string]struct {
		env    []string
		tenant string
		code   int
		want   []string
	}{
		"own partition":            {teamA, "team-a", 0, []string{"Query table tvm-demo PK = Tenant#team-a", "allowed: 1 item", "PK=Tenant#team-a SK=Item#a1"}},
		"another tenant's":         {teamA, "1", 1, []string{"DENIED AccessDeniedException", "assumed-role/tvm-tenant-read/t-team-a@read"}},
		"API server audience":      {s.podEnv(t, s.token(t, "team-a", "https://kubernetes.default.svc")), "team-a", 2, []string{"invalid_token"}},
		"IRSA audience":            {s.podEnv(t, s.token(t, "team-a", "sts.amazonaws.com")), "team-a", 2, []string{"invalid_token"}},
		"namespace team-b's pod":   {s.podEnv(t, s.token(t, "team-b", kubeAudience)), "team-b", 0, []string{"allowed: 0 items"}},
		"team-b reaching team-a's": {s.podEnv(t, s.token(t, "team-b", kubeAudience)), "team-a", 1, []string{"DENIED AccessDeniedException"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, tc.env, "tvm-sample", "query", "--tenant", tc.tenant)
			if code != tc.code {
				t.Fatalf("tvm-sample query --tenant %s: exit %d, want %d\n%s", tc.tenant, code, tc.code, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	s.checkAnswers(t)
}

// checkAnswers asks the broker directly: the raw service-account token (as
// the SDKs send it) gets credentials for tenant team-a; a token for the API
// server's audience gets 401 invalid_token.
func (s *kubeStack) checkAnswers(t *testing.T) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for token, want := range map[string]struct {
		status int
		field  string
		value  string
	}{
		s.token(t, "team-a", kubeAudience):                     {200, "Tenant", "team-a"},
		s.token(t, "team-a", "https://kubernetes.default.svc"): {401, "code", "invalid_token"},
	} {
		req, _ := http.NewRequest(http.MethodGet, s.brokerURL+"/v1/credentials", nil)
		req.Header.Set("Authorization", token)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil || res.StatusCode != want.status || got[want.field] != want.value {
			t.Errorf("GET /v1/credentials = %d %s, want %d with %s %q", res.StatusCode, body, want.status, want.field, want.value)
		}
	}
}
