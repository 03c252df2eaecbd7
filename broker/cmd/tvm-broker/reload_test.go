package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tvmkit/tvm/internal/testenv"
)

// Reload fixtures: templates that fail the linter and the proof (as in
// e2e/leaky_test.go).
const (
	leakyStatement = `{"Version":"2012-10-17","Statement":[{"Sid":"Leaky","Effect":"Allow","Action":%s,` +
		`"Resource":["{{table_arns}}","{{index_arns}}"],"Condition":{%s}}]}`
	lintFailing = `["dynamodb:Query","dynamodb:Scan"]`
	lintCond    = `"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}"]},"Null":{"dynamodb:LeadingKeys":"false"}`
	proofCond   = `"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["{{leading_key}}","Tenant#12"]},"Null":{"dynamodb:LeadingKeys":"false"}`
)

func leakyTemplate(actions, cond string) string {
	return strings.Replace(strings.Replace(leakyStatement, "%s", actions, 1), "%s", cond, 1)
}

// reloadEnv is a broker binary on a configuration file the test rewrites.
type reloadEnv struct {
	*e2e
	path string // the configuration file
	base string // its content at start
}

func startReloadEnv(t *testing.T) *reloadEnv { return startReloadEnvWith(t, "") }

// startReloadEnvWith starts the broker on writeConfig's configuration with
// extra top-level YAML appended.
func startReloadEnvWith(t *testing.T, extra string) *reloadEnv {
	t.Helper()
	bin := brokerBinary(t)
	idp := testenv.StartIdP(t, nil)
	fake := &testenv.STS{KeyID: brokerKeyID, Region: "us-east-1",
		Fail: func(_ int, form url.Values) string { return roleFailures[form.Get("RoleArn")] }}
	stsURL := testenv.StartSTS(t, fake)
	src := writeConfig(t, idp.URL)
	base, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "broker.yaml")
	// policy_dir holds a template "custom", a copy of dynamodb-read, that
	// fixtures replace.
	r := &reloadEnv{path: path, base: "policy_dir: policies\n" + string(base) + extra}
	r.writeTemplate(t, leakyTemplate(`["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"]`, lintCond))
	r.write(t, r.base)
	r.e2e = &e2e{idp: idp, sts: fake, broker: startBroker(t, bin, path, stsURL)}
	return r
}

func (r *reloadEnv) write(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(r.path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *reloadEnv) writeTemplate(t *testing.T, doc string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(r.path), "policies", "custom.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *reloadEnv) sighup(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// readyz returns /readyz's "config" detail.
func (r *reloadEnv) readyz(t *testing.T) (generation int, last map[string]any) {
	t.Helper()
	res, body := r.do(t, "GET", "/readyz", "", nil, "")
	var got struct {
		Config struct {
			Generation int            `json:"generation"`
			LastReload map[string]any `json:"last_reload"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &got); err != nil || res.StatusCode != 200 {
		t.Fatalf("/readyz = %d %s", res.StatusCode, body)
	}
	return got.Config.Generation, got.Config.LastReload
}

// vend asks for credentials of profile for alice's token and returns
// whether STS was called for them.
func (r *reloadEnv) vend(t *testing.T, token, profile string) (status int, stsCalled bool) {
	t.Helper()
	before := len(r.sts.Calls())
	res, body := r.do(t, "GET", "/v1/credentials?profile="+profile, "Bearer "+token, nil, "")
	if res.StatusCode != 200 {
		t.Logf("vend %s: %d %s", profile, res.StatusCode, body)
	}
	return res.StatusCode, len(r.sts.Calls()) > before
}

// TestReloadSwapsOnlyProvenConfig: SIGHUP reloads the configuration; a
// file that fails to parse, a template that fails the linter, one that
// fails the isolation proof and an unreadable key file are each refused,
// naming the stage, while the running configuration keeps serving with
// its cache; a good file is swapped in, dropping the cache of the changed
// profile only.
func TestReloadSwapsOnlyProvenConfig(t *testing.T) {
	// Its dozen requests in a few seconds are not what rate_limit is
	// tested with here (a reload keeps the buckets).
	r := startReloadEnvWith(t, "rate_limit:\n  per_tenant_rps: 1000\n  per_tenant_burst: 1000\n  per_subject_rps: 1000\n  per_subject_burst: 1000\n")
	alice := r.idp.Token(t, nil)
	for _, p := range []string{"read", "readwrite"} {
		if status, called := r.vend(t, alice, p); status != 200 || !called {
			t.Fatalf("first vend of %s: %d, STS called %v", p, status, called)
		}
	}
	keyDir := t.TempDir() // a directory where a key file is expected: unreadable as a file
	fixtures := []struct {
		name, stage, config, template string
	}{
		{"parse", stageLoad, r.base + "profiles: [\n", ""},
		{"lint", stageTemplates, r.base, leakyTemplate(lintFailing, lintCond)},
		{"proof", stageProfiles, strings.Replace(r.base, "template: dynamodb-read\n", "template: custom\n", 1),
			leakyTemplate(`["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"]`, proofCond)},
		{"unreadable key file", stageAuth, strings.Replace(r.base, "  jwks_url: ", "  public_key_files: ["+keyDir+"]\n  # jwks_url: ", 1), ""},
	}
	for i, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			if f.template != "" {
				r.writeTemplate(t, f.template)
			}
			r.write(t, f.config)
			r.sighup(t)
			rec := r.waitRecord(t, "configuration reload failed: the running configuration stays in force", i+1)[i]
			if rec["stage"] != f.stage || rec["generation"] != float64(1) {
				t.Errorf("failure record %v, want stage %s, generation 1", rec, f.stage)
			}
			gen, last := r.readyz(t)
			if gen != 1 || last["ok"] != false || last["failed_stage"] != f.stage || last["trigger"] != "SIGHUP" {
				t.Errorf("/readyz after the %s failure: generation %d, last reload %v", f.name, gen, last)
			}
			for _, p := range []string{"read", "readwrite"} {
				if status, called := r.vend(t, alice, p); status != 200 || called {
					t.Errorf("%s after the refused reload: %d, STS called %v (want the running config's cached set)", p, status, called)
				}
			}
		})
	}
	r.writeTemplate(t, leakyTemplate(`["dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:Query"]`, lintCond))

	// A good configuration: read now uses the template "custom" (same
	// grants, a new document), readwrite is unchanged, "extra" is new.
	next := strings.Replace(r.base, "template: dynamodb-read\n", "template: custom\n", 1)
	next = strings.Replace(next, "log:\n", "  - name: extra\n    role_arn: arn:aws:iam::123456789012:role/tvm-extra\n"+
		"    template: dynamodb-read\n    table_arns: ["+tableARN+"]\nlog:\n", 1)
	r.write(t, next)
	r.sighup(t)
	rec := r.waitRecord(t, "configuration reloaded", 1)[0]
	if rec["generation"] != float64(2) || !strings.Contains(jsonString(t, rec["cache_dropped"]), `"read":1`) ||
		strings.Contains(jsonString(t, rec["cache_dropped"]), "readwrite") {
		t.Errorf("reload record %v: want generation 2, read's entry dropped, readwrite's kept", rec)
	}
	if gen, last := r.readyz(t); gen != 2 || last["ok"] != true {
		t.Errorf("/readyz after the good reload: generation %d, last %v", gen, last)
	}
	if status, called := r.vend(t, alice, "read"); status != 200 || !called {
		t.Errorf("read after its change: %d, STS called %v, want a new session", status, called)
	}
	if calls := r.sts.Calls(); !strings.Contains(calls[len(calls)-1].Form.Get("Policy"), `"Sid":"Leaky"`) {
		t.Errorf("read's new session policy %s is not the custom template's", calls[len(calls)-1].Form.Get("Policy"))
	}
	if status, called := r.vend(t, alice, "readwrite"); status != 200 || called {
		t.Errorf("readwrite after the reload: %d, STS called %v, want its cached set", status, called)
	}
	if status, _ := r.vend(t, alice, "extra"); status != 200 {
		t.Errorf("the new profile: %d", status)
	}
	_, body := r.do(t, "GET", "/metrics", "", nil, "")
	for _, want := range []string{`tvm_config_reloads_total{result="failed"} 4`, `tvm_config_reloads_total{result="ok"} 1`,
		"tvm_config_generation 2", "tvm_config_last_reload_success 1", "tvm_config_restart_pending 0"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestReloadReportsRestartPending: a change of a restart-only setting is
// not applied, is reported, and does not stop the rest of the reload.
func TestReloadReportsRestartPending(t *testing.T) {
	r := startReloadEnv(t)
	alice := r.idp.Token(t, nil)
	next := strings.Replace(r.base, "  max_attempts: 2\n", "  max_attempts: 3\n", 1)
	next = strings.Replace(next, "  - name: denied\n", "  - name: added\n    role_arn: arn:aws:iam::123456789012:role/tvm-added\n"+
		"    template: dynamodb-read\n    table_arns: ["+tableARN+"]\n  - name: denied\n", 1)
	r.write(t, next)
	r.sighup(t)
	r.waitRecord(t, "configuration reloaded", 1)
	rec := r.waitRecord(t, "the configuration changes settings that take effect only after a restart; the running values stay", 1)[0]
	if got := jsonString(t, rec["restart_pending"]); got != `["sts"]` {
		t.Errorf("restart_pending = %s, want [\"sts\"]", got)
	}
	if _, last := r.readyz(t); jsonString(t, last["restart_pending"]) != `["sts"]` {
		t.Errorf("/readyz last reload %v", last)
	}
	if status, _ := r.vend(t, alice, "added"); status != 200 {
		t.Errorf("the profile added with the restart-only change: %d", status)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReloadOnFileChange: with reload.watch the broker reloads by itself
// once the changed file stays unchanged for a poll.
func TestReloadOnFileChange(t *testing.T) {
	r := startReloadEnvWith(t, "reload:\n  watch: true\n  poll_interval: 1s\n")
	alice := r.idp.Token(t, nil)
	r.write(t, strings.Replace(r.base, "  - name: denied\n", "  - name: added\n    role_arn: arn:aws:iam::123456789012:role/tvm-added\n"+
		"    template: dynamodb-read\n    table_arns: ["+tableARN+"]\n  - name: denied\n", 1))
	rec := r.waitRecord(t, "configuration reloaded", 1)[0]
	if rec["trigger"] != "file change" {
		t.Errorf("reload record %v", rec)
	}
	if status, _ := r.vend(t, alice, "added"); status != 200 {
		t.Errorf("the added profile: %d", status)
	}
}

// TestBlockListLive: adding a tenant to the block list file refuses it
// without a restart (403 tenant_blocked) and drops its cached credentials;
// removing it serves it again, with a fresh session.
func TestBlockListLive(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "blocked.txt")
	if err := os.WriteFile(blocked, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startReloadEnvWith(t, "block_list:\n  file: "+blocked+"\n  poll_interval: 50ms\n")
	alice, carol := r.idp.Token(t, nil), r.idp.Token(t, map[string]any{"tenant_id": "2", "sub": "carol"})
	for _, tok := range []string{alice, carol} {
		if status, called := r.vend(t, tok, "read"); status != 200 || !called {
			t.Fatalf("before the block: %d, STS called %v", status, called)
		}
	}
	if err := os.WriteFile(blocked, []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := r.waitRecord(t, "tenant blocked", 1)[0]
	if rec["tenant"] != "1" || rec["cached_credentials_dropped"] != float64(1) || rec["audit"] != "block" {
		t.Errorf("block record %v", rec)
	}
	res, body := r.do(t, "GET", "/v1/credentials?profile=read", "Bearer "+alice, nil, "")
	checkJSONError(t, res, body, 403, "tenant_blocked")
	if status, called := r.vend(t, carol, "read"); status != 200 || called {
		t.Errorf("another tenant during the block: %d, STS called %v (want its cached set)", status, called)
	}
	audit := r.waitRecord(t, "vend", 4)
	if last := audit[len(audit)-2]; last["outcome"] != "tenant_blocked" || last["tenant"] != "1" {
		t.Errorf("audit record of the refused request: %v", last)
	}
	if err := os.WriteFile(blocked, []byte(""), 0o600); err != nil {
		t.Fatal(err)
	}
	r.waitRecord(t, "tenant unblocked", 1)
	if status, called := r.vend(t, alice, "read"); status != 200 || !called {
		t.Errorf("after the unblock: %d, STS called %v (want a fresh session)", status, called)
	}
	_, metrics := r.do(t, "GET", "/metrics", "", nil, "")
	for _, want := range []string{`tvm_blocked_requests_total{scope="tenant"} 1`, `tvm_block_list_changes_total{action="block",scope="tenant"} 1`,
		`tvm_block_list_changes_total{action="unblock",scope="tenant"} 1`, `tvm_block_list_entries{scope="tenant"} 0`} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestReloadKeepsRateLimitBuckets: a reload that leaves rate_limit as it
// was keeps every tenant's and subject's bucket as it is (an unrelated
// edit, or a watched file touched, must not hand every caller a fresh
// burst); one that changes rate_limit starts them full.
func TestReloadKeepsRateLimitBuckets(t *testing.T) {
	const limits = "rate_limit:\n  per_tenant_rps: 0.001\n  per_tenant_burst: 2\n  per_subject_rps: 1000\n  per_subject_burst: 1000\n"
	r := startReloadEnvWith(t, limits)
	alice := r.idp.Token(t, nil)
	status := func() int {
		res, _ := r.do(t, "GET", "/v1/credentials?profile=read", "Bearer "+alice, nil, "")
		return res.StatusCode
	}
	for i, want := range []int{200, 200, 429} {
		if got := status(); got != want {
			t.Fatalf("request %d before the reload: %d, want %d", i, got, want)
		}
	}
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{"rate_limit unchanged", strings.Replace(r.base, "  - name: denied\n", "  - name: added\n    role_arn: arn:aws:iam::123456789012:role/tvm-added\n"+
			"    template: dynamodb-read\n    table_arns: ["+tableARN+"]\n  - name: denied\n", 1), 429},
		{"rate_limit changed", strings.Replace(r.base, "per_tenant_burst: 2", "per_tenant_burst: 3", 1), 200},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.write(t, tc.content)
			r.sighup(t)
			r.waitRecord(t, "configuration reloaded", i+1)
			if got := status(); got != tc.want {
				t.Errorf("after the reload: %d, want %d", got, tc.want)
			}
		})
	}
}
