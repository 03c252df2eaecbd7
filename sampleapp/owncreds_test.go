package sampleapp

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNoOwnCredentialsSaysWhatToExport: with no credentials in the SDK's
// default chain, the app's own identity fails saying what to export, not
// only with the SDK's instance-metadata error.
func TestNoOwnCredentialsSaysWhatToExport(t *testing.T) {
	home := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:4566"}.AWSConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Credentials.Retrieve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "export AWS_ACCESS_KEY_ID=AKIATVMADMIN00000001") {
		t.Errorf("Retrieve = %v, want it to say what to export", err)
	}
}
