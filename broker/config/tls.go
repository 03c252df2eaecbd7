package config

import (
	"strings"
	"time"

	"github.com/tvmkit/tvm/internal/tlsreload"
)

// TLS makes the broker serve https from certificate files that are reloaded
// when they change (package internal/tlsreload): TLS 1.2 or later,
// optionally verifying client certificates. The AWS SDKs fetch container
// credentials over plain http only from loopback and the ECS/EKS link-local
// addresses, so a broker reached over the network must serve https.
//
//	server:
//	  tls:
//	    cert_file: /etc/tvm/tls/tls.crt    # PEM chain, leaf first
//	    key_file: /etc/tvm/tls/tls.key     # PEM private key of the leaf
//	    client_auth: none                  # none | verify-if-given | require
//	    client_ca_file: ""                 # PEM CAs; required exactly when client_auth verifies
//	    reload_interval: 30s               # how often the files are checked
//
// The section is off when every field is empty; setting any field turns it
// on and then cert_file and key_file are required. Relative paths resolve
// against the configuration file's directory.
type TLS struct {
	// CertFile is the PEM certificate chain served, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the leaf.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is the PEM bundle client certificates must chain to;
	// required when ClientAuth verifies, refused otherwise.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none (default), verify-if-given (a client certificate,
	// when sent, must verify) or require. The JWT authenticates the request
	// either way.
	ClientAuth tlsreload.ClientAuth `yaml:"client_auth"`
	// ReloadInterval is how often the files are checked for a change
	// (default 30s, between 1s and 1h; a negative value disables polling,
	// leaving SIGHUP as the only reload). A replacement that does not load
	// (a half-written pair, an expired certificate) is logged and the
	// previous certificate keeps serving.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// Bounds of server.tls.reload_interval.
const (
	DefaultTLSReloadInterval = tlsreload.DefaultPollInterval
	MinTLSReloadInterval     = time.Second
	MaxTLSReloadInterval     = time.Hour
)

// Enabled reports whether the broker serves https: any field is set.
func (t *TLS) Enabled() bool { return *t != TLS{} }

// ReloaderOptions returns the settings of the reloading TLS configuration
// (logger and clock are the caller's).
func (t *TLS) ReloaderOptions() tlsreload.Options {
	return tlsreload.Options{
		CertFile:     t.CertFile,
		KeyFile:      t.KeyFile,
		ClientCAFile: t.ClientCAFile,
		ClientAuth:   t.ClientAuth,
		PollInterval: t.ReloadInterval,
	}
}

func (t *TLS) setDefaults() {
	if !t.Enabled() {
		return
	}
	setDefault(&t.ClientAuth, tlsreload.ClientAuthNone)
	setDefault(&t.ReloadInterval, DefaultTLSReloadInterval)
}

func (t *TLS) validate(v *validator) {
	if !t.Enabled() {
		return
	}
	if err := t.ReloaderOptions().Validate(); err != nil {
		v.add("server.tls", "%s", strings.TrimPrefix(err.Error(), tlsreload.ErrInvalidOptions.Error()+": "))
	}
	if d := t.ReloadInterval; d >= 0 && (d < MinTLSReloadInterval || d > MaxTLSReloadInterval) {
		v.add("server.tls.reload_interval", "must be between %s and %s (negative: only SIGHUP reloads)", MinTLSReloadInterval, MaxTLSReloadInterval)
	}
}

func (t *TLS) resolvePaths(abs func(string) string) {
	t.CertFile, t.KeyFile, t.ClientCAFile = abs(t.CertFile), abs(t.KeyFile), abs(t.ClientCAFile)
}
