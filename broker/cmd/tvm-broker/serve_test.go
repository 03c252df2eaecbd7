package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tvmkit/tvm/broker/api"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/vend"
)

// TestOptionsFromConfig checks the wiring: every setting of the cache, STS,
// server and rate_limit sections reaches the package that applies it.
func TestOptionsFromConfig(t *testing.T) {
	cfg := &config.Config{
		DefaultProfile: "read",
		Cache:          config.Cache{MaxEntries: 7, RefreshBefore: 20 * time.Minute, ClientWindow: 2 * time.Minute, Disabled: true},
		STS:            config.STS{Region: "eu-west-1", Timeout: 3 * time.Second, MaxAttempts: 5},
		Server: config.Server{RequestTimeout: 9 * time.Second, MaxBodyBytes: 1234, AllowedHosts: []string{"127.0.0.1:8080"},
			ReadTimeout: time.Second},
		RateLimit: config.RateLimit{PerTenantRPS: 20, PerTenantBurst: 40, PerSubjectRPS: 5, PerSubjectBurst: 10},
	}
	wantVend := vend.Options{
		Cache: vend.CacheOptions{Disabled: true, MaxEntries: 7, RefreshBefore: 20 * time.Minute, ClientWindow: 2 * time.Minute},
		STS:   vend.STSOptions{Timeout: 3 * time.Second, MaxAttempts: 5},
	}
	if diff := cmp.Diff(wantVend, vendOptions(cfg), cmpopts.IgnoreFields(vend.Options{}, "Clock", "Sleep")); diff != "" {
		t.Errorf("vend options (-want +got):\n%s", diff)
	}
	wantAPI := api.Options{
		DefaultProfile: "read",
		Server:         api.ServerOptions{RequestTimeout: 9 * time.Second, MaxBodyBytes: 1234, AllowedHosts: []string{"127.0.0.1:8080"}},
		RateLimit:      api.RateLimitOptions{PerTenant: api.Rate{RPS: 20, Burst: 40}, PerSubject: api.Rate{RPS: 5, Burst: 10}},
	}
	ignore := cmpopts.IgnoreFields(api.Options{}, "Clock")
	if diff := cmp.Diff(wantAPI, apiOptions(cfg), ignore); diff != "" {
		t.Errorf("api options (-want +got):\n%s", diff)
	}
	cfg.RateLimit.Disabled = true
	wantAPI.RateLimit = api.RateLimitOptions{}
	if diff := cmp.Diff(wantAPI, apiOptions(cfg), ignore); diff != "" {
		t.Errorf("api options with rate_limit.disabled (-want +got):\n%s", diff)
	}
}
