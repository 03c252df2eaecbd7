package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tvmkit/tvm/broker/vend"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Metrics must satisfy the vending core's observer.
var _ vend.Observer = (*Metrics)(nil)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return string(body)
}

// samples returns the sample lines of the families named in prefixes.
func samples(body string, prefixes ...string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return out
}

func TestCollectors(t *testing.T) {
	m := New([]string{"read", "readwrite"})
	m.CacheLookup("read", true)
	m.CacheLookup("read", false)
	m.CacheLookup("read", true)
	m.STSCall("read", 30*time.Millisecond, "")
	m.STSCall("readwrite", 2*time.Second, "Throttling")
	m.STSCall("read", time.Millisecond, "Weird Code With Spaces")
	m.PolicyRendered("read", 406)
	m.SessionSize("read", 21, -1)
	m.SessionSize("readwrite", -1, 85)
	m.SessionSize("readwrite", 90, 5)
	m.Vend("read", "ok")
	m.Vend("readwrite", "upstream_throttled")
	m.Vend("tenant-42-secret-profile", "ok")
	m.Vend("", "invalid_token")
	m.RateLimited("tenant")
	m.RateLimited("subject")
	m.HTTPRequest("/v1/credentials", "GET", 200, 5*time.Millisecond)
	m.HTTPRequest("/v1/credentials", "BREW", 405, time.Millisecond)

	body := scrape(t, m)
	want := []string{
		`tvm_cache_lookups_total{profile="read",result="hit"} 2`,
		`tvm_cache_lookups_total{profile="read",result="miss"} 1`,
		`tvm_http_requests_total{method="GET",route="/v1/credentials",status="200"} 1`,
		`tvm_http_requests_total{method="other",route="/v1/credentials",status="405"} 1`,
		`tvm_policy_size_bytes_bucket{profile="read",le="512"} 1`,
		`tvm_policy_size_bytes_sum{profile="read"} 406`,
		`tvm_rate_limited_total{scope="subject"} 1`,
		`tvm_rate_limited_total{scope="tenant"} 1`,
		`tvm_sts_errors_total{code="Throttling",profile="readwrite"} 1`,
		`tvm_sts_errors_total{code="other",profile="read"} 1`,
		`tvm_sts_packed_policy_size_percent_bucket{profile="read",le="30"} 1`,
		`tvm_sts_packed_policy_size_percent_count{profile="read"} 1`,
		`tvm_sts_packed_policy_size_percent_bucket{profile="readwrite",le="80"} 0`,
		`tvm_sts_packed_policy_size_percent_count{profile="readwrite"} 1`,
		`tvm_sts_request_duration_seconds_count{profile="read"} 2`,
		`tvm_sts_request_duration_seconds_count{profile="readwrite"} 1`,
		`tvm_sts_session_token_utilization_percent_bucket{profile="readwrite",le="80"} 1`,
		`tvm_sts_session_token_utilization_percent_sum{profile="readwrite"} 90`,
		`tvm_sts_session_token_utilization_percent_count{profile="readwrite"} 2`,
		`tvm_vend_total{outcome="invalid_token",profile="unknown"} 1`,
		`tvm_vend_total{outcome="ok",profile="read"} 1`,
		`tvm_vend_total{outcome="ok",profile="unknown"} 1`,
		`tvm_vend_total{outcome="upstream_throttled",profile="readwrite"} 1`,
	}
	got := samples(body,
		"tvm_cache_lookups_total{", "tvm_http_requests_total{", `tvm_policy_size_bytes_bucket{profile="read",le="512"}`,
		"tvm_policy_size_bytes_sum{", "tvm_rate_limited_total{", "tvm_sts_errors_total{",
		"tvm_sts_request_duration_seconds_count{", "tvm_vend_total{",
		`tvm_sts_packed_policy_size_percent_bucket{profile="read",le="30"}`, `tvm_sts_packed_policy_size_percent_bucket{profile="readwrite",le="80"}`,
		"tvm_sts_packed_policy_size_percent_count{", `tvm_sts_session_token_utilization_percent_bucket{profile="readwrite",le="80"}`,
		"tvm_sts_session_token_utilization_percent_count{", "tvm_sts_session_token_utilization_percent_sum{")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if strings.Contains(body, "tenant-42") {
		t.Error("an unconfigured profile name became a label value")
	}
	if !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "# TYPE tvm_sts_request_duration_seconds histogram") {
		t.Error("runtime collectors or histogram type missing")
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New([]string{"read"}), New([]string{"read"})
	a.Vend("read", "ok")
	if strings.Contains(scrape(t, b), `tvm_vend_total{`) {
		t.Error("a vend on one Metrics shows up on another")
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.CacheLookup("read", true)
	m.STSCall("read", time.Second, "x")
	m.PolicyRendered("read", 1)
	m.SessionSize("read", 1, 1)
	m.Vend("read", "ok")
	m.RateLimited("tenant")
	m.HTTPRequest("/", "GET", 200, time.Second)
}

func TestIdent(t *testing.T) {
	tests := map[string]string{
		"ok": "ok", "upstream_access_denied": "upstream_access_denied", "AccessDenied": "AccessDenied",
		"": OtherValue, "a b": OtherValue, "x\n": OtherValue, strings.Repeat("a", 65): OtherValue,
		strings.Repeat("a", 64): strings.Repeat("a", 64), "é": OtherValue,
	}
	for in, want := range tests {
		if got := ident(in); got != want {
			t.Errorf("ident(%q) = %q, want %q", in, got, want)
		}
	}
}
