package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/internal/testenv"
)

// TestStartupRefusesBadCredentials: credentials STS refuses, or none at
// all, stop the broker before it serves, saying why; it never logs ready
// and never calls AssumeRole.
func TestStartupRefusesBadCredentials(t *testing.T) {
	bin := brokerBinary(t)
	tests := map[string]struct {
		fail     string // what the fake STS answers every call
		withKeys bool
		want     string // in the failure record's error
	}{
		"unknown key":    {fail: "InvalidClientTokenId", withKeys: true, want: "InvalidClientTokenId"},
		"wrong secret":   {fail: "SignatureDoesNotMatch", withKeys: true, want: "SignatureDoesNotMatch"},
		"no credentials": {withKeys: false, want: "the broker's AWS credentials"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := testenv.StartIdP(t, nil)
			fake := &testenv.STS{Fail: func(int, url.Values) string { return tc.fail }}
			b := launchBroker(t, bin, writeConfig(t, p.URL), brokerProcessEnv(t, testenv.StartSTS(t, fake), tc.withKeys), nil)
			select {
			case err := <-b.done:
				if code := b.cmd.ProcessState.ExitCode(); code != exitFailure {
					t.Fatalf("exit %d (%v), want %d:\n%s", code, err, exitFailure, b.out)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("the broker did not stop:\n%s", b.out)
			}
			failed := b.out.records(t, "broker failed")
			if len(failed) != 1 {
				t.Fatalf("failure records = %d, want 1:\n%s", len(failed), b.out)
			}
			msg, _ := failed[0]["error"].(string)
			for _, want := range []string{errs.CodeBrokerMisconfigured, "GetCallerIdentity", tc.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("failure %q lacks %q", msg, want)
				}
			}
			if n := len(b.out.records(t, "ready")); n != 0 {
				t.Errorf("ready records = %d, want 0", n)
			}
			if n := len(fake.AssumeRoleCalls()); n != 0 {
				t.Errorf("AssumeRole calls = %d, want 0", n)
			}
		})
	}
}

// waitReadyz polls /readyz until it answers want, failing after a minute.
func (b *broker) waitReadyz(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, body := b.do(t, http.MethodGet, "/readyz", "", nil, "")
		if res.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s, still not %d", res.StatusCode, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartupDuringSTSOutage: STS throttling the start-up check (every
// attempt) starts the broker not ready; it becomes ready by itself when
// STS answers.
func TestStartupDuringSTSOutage(t *testing.T) {
	e := startE2EWith(t, func(n int, _ url.Values) string {
		if n <= 2 { // sts.max_attempts of writeConfig
			return "Throttling"
		}
		return ""
	})
	ready := e.out.records(t, "ready")
	if len(ready) != 1 || ready[0]["sts_identity_confirmed"] != false {
		t.Errorf("ready record = %v, want sts_identity_confirmed false", ready)
	}
	res, body := e.do(t, http.MethodGet, "/readyz", "", nil, "")
	if res.StatusCode == http.StatusServiceUnavailable {
		checkJSONError(t, res, body, http.StatusServiceUnavailable, errs.CodeNotReady)
	} else if res.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d: %s", res.StatusCode, body)
	}
	e.waitReadyz(t, http.StatusOK)
	// Ready means STS confirmed the identity, which the broker logs: after
	// the "ready" record its log is written in batches, so wait for it.
	ids := e.waitRecord(t, "sts identity", 1)
	if len(ids) != 1 || ids[0]["arn"] != testenv.DefaultCallerARN || ids[0]["access_key_id_last4"] != brokerKeyID[len(brokerKeyID)-4:] {
		t.Errorf("identity records = %v", ids)
	}
}

// TestMisconfiguredAtRunTime: STS starting to refuse the broker's own
// credentials answers 500 broker_misconfigured (no Retry-After, no retry)
// and makes the broker not ready, until STS accepts them again.
func TestMisconfiguredAtRunTime(t *testing.T) {
	var refuse atomic.Bool
	e := startE2EWith(t, func(int, url.Values) string {
		if refuse.Load() {
			return "SignatureDoesNotMatch"
		}
		return ""
	})
	e.waitReadyz(t, http.StatusOK)
	refuse.Store(true)
	before := len(e.sts.AssumeRoleCalls())
	res, body := e.do(t, http.MethodGet, "/v1/credentials", "Bearer "+e.idp.Token(t, nil), nil, "")
	checkJSONError(t, res, body, http.StatusInternalServerError, errs.CodeBrokerMisconfigured)
	if n := len(e.sts.AssumeRoleCalls()) - before; n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1 (a configuration fault is not retried)", n)
	}
	res, body = e.do(t, http.MethodGet, "/readyz", "", nil, "")
	checkJSONError(t, res, body, http.StatusServiceUnavailable, errs.CodeNotReady)
	var got struct{ Message string }
	if err := json.Unmarshal(body, &got); err != nil || !strings.Contains(got.Message, "credentials") {
		t.Errorf("/readyz message = %q, want it to name the credentials", got.Message)
	}
	refuse.Store(false)
	e.waitReadyz(t, http.StatusOK)
	res, body = e.do(t, http.MethodGet, "/v1/credentials", "Bearer "+e.idp.Token(t, nil), nil, "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("after recovery: %d %s", res.StatusCode, body)
	}
}
