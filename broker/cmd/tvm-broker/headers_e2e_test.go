package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/broker/api"
	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/broker/errs"
)

// TestHeaderBlockTooLarge: over the real binary, a header block over
// server.max_header_bytes (default 16 KiB) gets the JSON 431 like every
// other size refusal, up to the read limit (api.HeaderReadLimit); beyond,
// net/http hangs up with its own 431 before any handler runs.
func TestHeaderBlockTooLarge(t *testing.T) {
	e := startE2E(t)
	tests := map[string]struct {
		pad  int
		json bool
	}{
		"just under the limit":             {pad: config.DefaultMaxHeaderBytes - 1024, json: false},
		"over the limit":                   {pad: config.DefaultMaxHeaderBytes + 1024, json: true},
		"near the read limit":              {pad: api.HeaderReadLimit(config.DefaultMaxHeaderBytes) - 1024, json: true},
		"beyond the read limit (net/http)": {pad: api.HeaderReadLimit(config.DefaultMaxHeaderBytes) + 8192},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, body := e.do(t, http.MethodGet, "/healthz", "", map[string]string{"X-Pad": strings.Repeat("p", tc.pad)}, "")
			switch {
			case tc.pad < config.DefaultMaxHeaderBytes:
				if res.StatusCode != http.StatusOK {
					t.Errorf("status %d: %s", res.StatusCode, body)
				}
			case tc.json:
				checkJSONError(t, res, body, http.StatusRequestHeaderFieldsTooLarge, errs.CodeRequestTooLarge)
			default:
				if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("status %d, want 431: %s", res.StatusCode, body)
				}
			}
		})
	}
}
