package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/tvmkit/tvm/sampleapp"
)

// modelRows are the verify rows of the silo, bridge and ABAC isolation
// models (sampleapp/verify_models.go), by experiment name.
var modelRows = []string{
	"vended tenant 1 (silo-read): Query table tvm-demo-1 Tenant#1",
	"vended tenant 1 (silo-read): Scan table tvm-demo-1",
	"vended tenant 1 (silo-read): Scan table tvm-demo-2",
	"vended tenant 1 (silo-read): Scan table tvm-demo-12",
	"vended tenant 1 (silo-read): Query table tvm-demo-12 Tenant#12",
	"vended tenant 12 (silo-read): Scan table tvm-demo-12",
	"vended tenant 12 (silo-read): Scan table tvm-demo-1",
	"vended tenant 1 (bridge-read): Query table tvm-demo-1 Tenant#1",
	"vended tenant 1 (bridge-read): Query table tvm-demo-1 Tenant#12",
	"vended tenant 1 (bridge-read): Scan table tvm-demo-1",
	"vended tenant 1 (bridge-read): Query table tvm-demo-12 Tenant#1",
	"vended tenant 1 (abac-read): Query table Tenant#1",
	"vended tenant 1 (abac-read): Query GSI gsi Tenant#1",
	"vended tenant 1 (abac-read): Query table Tenant#2",
	"vended tenant 1 (abac-read): Query GSI gsi Tenant#2",
	"vended tenant 12 (abac-read): Query table Tenant#1",
	"app identity as tvm-tenant-abac (no tags): Query table Tenant#1",
}

// TestIsolationModels runs the demo's flow (the real local AWS, the broker
// with examples/broker.yaml and the sample app, as processes) on both
// backends and requires every row of the silo, bridge and ABAC models to be
// present and as expected; that the broker read the ABAC role's policy
// through the local IAM API (role_policy_from_iam), as its own principal;
// and that it exported the size STS reported for the new sessions.
func TestIsolationModels(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			s := startStack(t, backend(t))
			s.seed(t)
			out, code := run(t, s.adminEnv(), "tvm-sample", "verify", "--json",
				"--endpoint", s.localURL, "--broker", s.brokerURL, "--idp", s.localURL)
			var rep sampleapp.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("verify --json: exit %d, %v\n%s", code, err, out)
			}
			rows := map[string]sampleapp.Row{}
			for _, r := range rep.Rows {
				rows[r.Experiment] = r
				if !r.Pass {
					t.Errorf("row %d %q: expected %s, got %s: %s", r.N, r.Experiment, r.Expected, r.Actual, r.Message)
				}
			}
			if code != 0 || !rep.OK {
				t.Errorf("verify: exit %d, ok %v", code, rep.OK)
			}
			for _, name := range modelRows {
				if r, ok := rows[name]; !ok || !r.Pass {
					t.Errorf("model row %q: present %v, %+v", name, ok, r)
				}
			}
			if r := rows["app identity as tvm-tenant-abac (no tags): Query table Tenant#1"]; !strings.Contains(r.Message, "assumed-role/tvm-tenant-abac/") {
				t.Errorf("the untagged ABAC denial does not come from a tvm-tenant-abac session: %q", r.Message)
			}
			requireIAMReads(t, s.local.out.String(), "tvm-tenant-abac")
			metrics := get(t, s.brokerURL+"/metrics")
			for _, want := range []string{
				`tvm_sts_packed_policy_size_percent_count{profile="abac-read"}`,
				`tvm_sts_packed_policy_size_percent_count{profile="silo-read"}`,
				`tvm_sts_session_token_utilization_percent_count{profile="bridge-read"}`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("broker metrics lack %s", want)
				}
			}
		})
	}
}

// requireIAMReads checks the local AWS's decision log: the broker read the
// role's inline policies through the IAM API and was allowed.
func requireIAMReads(t *testing.T, localLog, role string) {
	t.Helper()
	want := map[string]bool{"iam:ListRolePolicies": false, "iam:GetRolePolicy": false}
	sc := bufio.NewScanner(strings.NewReader(localLog))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg, Action, Resource, Principal, Decision string
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "authorization decision" {
			continue
		}
		if _, ok := want[line.Action]; ok && line.Decision == "Allow" &&
			line.Principal == "arn:aws:iam::123456789012:user/broker" && strings.HasSuffix(line.Resource, ":role/"+role) {
			want[line.Action] = true
		}
	}
	for action, seen := range want {
		if !seen {
			t.Errorf("the broker did not call %s on role %s (allowed) on the local IAM API", action, role)
		}
	}
}

// get fetches a URL and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// leakyABACPolicy is the ABAC role's policy without its LeadingKeys
// condition: every tenant's partition, whatever the session tag.
const leakyABACPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"TenantPartitionByTag","Effect":"Allow",` +
	`"Action":["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query","dynamodb:ConditionCheckItem"],` +
	`"Resource":["arn:aws:dynamodb:*:123456789012:table/tvm-demo","arn:aws:dynamodb:*:123456789012:table/tvm-demo/index/*"]}]}`

// TestABACRoleProvenAsDeployed: the ABAC profile is proven against the
// role's policy as IAM serves it. examples/broker.yaml passes `tvm-broker
// check`; after an administrator replaces the role's policy through the IAM
// API with one that lost its condition, `check` fails naming the profile,
// and `serve` refuses to start.
func TestABACRoleProvenAsDeployed(t *testing.T) {
	localURL, _ := startBareLocal(t)
	env := []string{
		"AWS_ACCESS_KEY_ID=" + brokerKeyID, "AWS_SECRET_ACCESS_KEY=" + brokerSecret, "AWS_ENDPOINT_URL=" + localURL,
		"TVM_AUTH_ISSUER=" + localURL, "TVM_AUTH_JWKS_URL=" + localURL + "/.well-known/jwks.json",
	}
	config := filepath.Join(repoRoot(t), "examples", "broker.yaml")
	if out, code := run(t, env, "tvm-broker", "check", "--config", config); code != 0 {
		t.Fatalf("check with the role as built in: exit %d\n%s", code, out)
	}

	admin := iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(localURL),
		Credentials: credentials.NewStaticCredentialsProvider(adminKeyID, adminSecret, ""),
		HTTPClient:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("tvm-tenant-abac"),
		PolicyName: aws.String("tenant-partition-by-tag"), PolicyDocument: aws.String(leakyABACPolicy)}); err != nil {
		t.Fatalf("PutRolePolicy: %v", err)
	}
	out, code := run(t, env, "tvm-broker", "check", "--config", config)
	if code == 0 || !strings.Contains(out, "abac-read") {
		t.Errorf("check with a leaky ABAC role policy: exit %d, want a failure naming abac-read\n%s", code, out)
	}
	serve := start(t, "tvm-broker", env, "serve", "--config", config, "--listen", listenAny)
	if refused := exitsBeforeReady(t, serve); !refused {
		t.Fatalf("serve with a leaky ABAC role policy became ready\n%s", serve.out.String())
	}
	if out := serve.out.String(); serve.err == nil || !strings.Contains(out, "abac-read") {
		t.Errorf("serve with a leaky ABAC role policy: %v, want a refusal naming abac-read\n%s", serve.err, out)
	}
}

// exitsBeforeReady waits until p exits (true) or its /readyz, at the
// address its ready line reports, answers 200 (false).
func exitsBeforeReady(t *testing.T, p *process) bool {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.After(startDeadline)
	for {
		select {
		case <-p.done:
			return true
		case <-deadline:
			t.Fatalf("%s neither exited nor became ready within %s", p.name, startDeadline)
		case <-time.After(50 * time.Millisecond):
		}
		addr := p.ready.Addr()
		if addr == "" {
			continue // not listening yet
		}
		if resp, err := hc.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false
			}
		}
	}
}
