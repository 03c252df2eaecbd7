package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tvmkit/tvm/internal/testenv"
)

// TestCheckLoadsKeys: `check`, the CI gate, loads the key source as serve
// does: a jwks_file that is missing, empty, not JSON or without keys fails
// it (serve would refuse to start), as do unreadable public_key_files; a
// URL is named as not fetched.
func TestCheckLoadsKeys(t *testing.T) {
	p := testenv.StartIdP(t, nil)
	dir := t.TempDir()
	jwks := p.JWKSFile(t)
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := map[string]struct {
		source string // the auth key source line(s)
		ok     bool
		want   string // in stdout
	}{
		"jwks_file":              {source: "jwks_file: " + jwks, ok: true, want: "auth keys: ok: jwks_file " + jwks + ": 1 keys loaded"},
		"jwks_file missing":      {source: "jwks_file: " + filepath.Join(dir, "nope.json"), want: "auth keys: FAIL: jwks_file: open"},
		"jwks_file empty":        {source: "jwks_file: " + write("empty.json", ""), want: "empty file"},
		"jwks_file not JSON":     {source: "jwks_file: " + write("text.json", "not json"), want: "not a JWK Set"},
		"jwks_file without keys": {source: "jwks_file: " + write("none.json", `{"keys":[]}`), want: "no keys"},
		"public_key_files bad":   {source: "public_key_files: [" + write("k.pem", "no PEM here") + "]", want: "no PEM block"},
		"jwks_url":               {source: "jwks_url: " + p.JWKSURL(), ok: true, want: "auth keys: ok: jwks_url " + p.JWKSURL() + ": not fetched"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := checkConfig(t, strings.Replace(readProf, "template: custom", "template: dynamodb-read", 1), "")
			cfg := strings.Replace(readFile(t, path), "jwks_url: http://127.0.0.1:4566/.well-known/jwks.json", tc.source, 1)
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI("check", "--config", path)
			if (code == exitOK) != tc.ok {
				t.Fatalf("exit %d, want ok %v:\n%s\n%s", code, tc.ok, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout)
			}
			if !tc.ok && !strings.Contains(stderr, "FAILED: auth:") {
				t.Errorf("stderr lacks the failure:\n%s", stderr)
			}
		})
	}
}
