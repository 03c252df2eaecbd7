package config

import (
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"time"
)

// The day-two sections: limits before authentication, the live block
// list and configuration reloads.
//
//	pre_auth:
//	  per_client_rps: 5                  # failed authentications per second and client address
//	  per_client_burst: 20
//	  max_concurrent_verifications: 0    # 0: twice the number of CPUs (GOMAXPROCS), at least 4
//	  max_verification_wait: 100ms       # wait for a verification slot, then 503 overloaded
//	  trusted_proxies: [10.0.0.0/8]      # X-Forwarded-For is believed from these only
//	  disabled: false
//	block_list:
//	  file: blocked.txt                  # one tenant (or "tenant subject") a line; re-read live
//	  poll_interval: 500ms
//	reload:
//	  watch: false                       # also reload when the file or the files it names change
//	  poll_interval: 5s

// Defaults and bounds of the day-two sections.
const (
	DefaultPerClientRPS         = 5
	DefaultPerClientBurst       = 20
	DefaultMaxVerificationWait  = 100 * time.Millisecond
	MaxVerificationWait         = 5 * time.Second
	DefaultBlockListPoll        = 500 * time.Millisecond
	MinBlockListPoll            = 50 * time.Millisecond
	MaxBlockListPoll            = time.Minute
	DefaultReloadPoll           = 5 * time.Second
	MinReloadPoll               = time.Second
	MaxReloadPoll               = time.Hour
	MaxConcurrentVerifications  = 10_000
	minDefaultConcurrentVerifs  = 4
	maxPerClientBurst           = 1_000_000
	maxPerClientRPS             = 1e6
	defaultConcurrencyPerCPUMul = 2
)

// PreAuth limits requests before their token is verified (package
// broker/api, preauth.go): a bucket of failed authentications per client
// address, refunded when the token verifies, and a cap on concurrent
// verifications.
type PreAuth struct {
	// PerClientRPS is the refill rate of each client address's bucket of
	// failed authentications (default 5 a second).
	PerClientRPS float64 `yaml:"per_client_rps"`
	// PerClientBurst is that bucket's size (default 20).
	PerClientBurst int `yaml:"per_client_burst"`
	// MaxConcurrentVerifications caps the token verifications running at
	// once; 0 means twice the number of CPUs the process may use
	// (GOMAXPROCS), at least 4.
	MaxConcurrentVerifications int `yaml:"max_concurrent_verifications"`
	// MaxVerificationWait is how long a request waits for a verification
	// slot before it is shed with 503 overloaded (default 100ms, at most 5s;
	// a negative value means not at all).
	MaxVerificationWait time.Duration `yaml:"max_verification_wait"`
	// TrustedProxies are the addresses or CIDR ranges of the proxies in
	// front of the broker: from them only, the client address is taken from
	// X-Forwarded-For (the nearest address not in these ranges). Empty: the
	// connection's peer is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Disabled turns the per-client bucket and the cap off.
	Disabled bool `yaml:"disabled"`
}

// BlockList is the live block list (package broker/blocklist): a file of
// blocked tenants, and subjects of a tenant, re-read while the broker runs.
type BlockList struct {
	// File is the block list; empty means none. Relative to the
	// configuration file's directory. It must exist when the broker starts.
	File string `yaml:"file"`
	// PollInterval is how often the file is re-read (default 500ms, between
	// 50ms and 1m): a change takes effect within it.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Reload configures configuration reloads beyond SIGHUP, which always
// reloads.
type Reload struct {
	// Watch also reloads when the configuration file, or a file it names
	// (policy templates, role policy files, JWT key files), changes, once
	// it stays unchanged for one more poll interval.
	Watch bool `yaml:"watch"`
	// PollInterval is how often the files are read (default 5s, between 1s
	// and 1h).
	PollInterval time.Duration `yaml:"poll_interval"`
}

// setDefaults fills the day-two sections' unset fields.
func (c *Config) setOperationsDefaults() {
	p := &c.PreAuth
	setDefault(&p.PerClientRPS, DefaultPerClientRPS)
	setDefault(&p.PerClientBurst, DefaultPerClientBurst)
	setDefault(&p.MaxConcurrentVerifications, max(runtime.GOMAXPROCS(0)*defaultConcurrencyPerCPUMul, minDefaultConcurrentVerifs))
	setDefault(&p.MaxVerificationWait, DefaultMaxVerificationWait)
	setDefault(&c.BlockList.PollInterval, DefaultBlockListPoll)
	setDefault(&c.Reload.PollInterval, DefaultReloadPoll)
}

// validateOperations checks the day-two sections.
func (c *Config) validateOperations(v *validator) {
	p := &c.PreAuth
	if !p.Disabled {
		if math.IsNaN(p.PerClientRPS) || p.PerClientRPS <= 0 || p.PerClientRPS > maxPerClientRPS {
			v.add("pre_auth.per_client_rps", "must be a positive number of failed authentications per second (at most 1e6)")
		}
		if p.PerClientBurst < 1 || p.PerClientBurst > maxPerClientBurst {
			v.add("pre_auth.per_client_burst", "must be between 1 and 1000000")
		}
		if p.MaxConcurrentVerifications < 1 || p.MaxConcurrentVerifications > MaxConcurrentVerifications {
			v.add("pre_auth.max_concurrent_verifications", "must be between 1 and %d (0 means twice the number of CPUs)", MaxConcurrentVerifications)
		}
		if p.MaxVerificationWait > MaxVerificationWait {
			v.add("pre_auth.max_verification_wait", "must be at most %s", MaxVerificationWait)
		}
	}
	for i, s := range p.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			v.add(fmt.Sprintf("pre_auth.trusted_proxies[%d]", i), "%v", err)
		}
	}
	if d := c.BlockList.PollInterval; d < MinBlockListPoll || d > MaxBlockListPoll {
		v.add("block_list.poll_interval", "must be between %s and %s", MinBlockListPoll, MaxBlockListPoll)
	}
	if d := c.Reload.PollInterval; d < MinReloadPoll || d > MaxReloadPoll {
		v.add("reload.poll_interval", "must be between %s and %s", MinReloadPoll, MaxReloadPoll)
	}
}

// Proxies returns TrustedProxies as prefixes (an address is its own /32 or
// /128). Validate refuses a value it cannot parse; Proxies skips one.
func (p *PreAuth) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range p.TrustedProxies {
		if pr, err := parseProxy(s); err == nil {
			out = append(out, pr)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, error) {
	if pr, err := netip.ParsePrefix(s); err == nil {
		if pr != pr.Masked() {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, pr.Masked())
		}
		return pr, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// ConfigFiles returns every file the configuration names besides itself
// and the TLS files (which reload on their own): policy templates'
// directory, role policy files and JWT key files. A reload re-reads them
// all; Reload.Watch watches them.
func (c *Config) ConfigFiles() (files []string, dirs []string) {
	if c.PolicyDir != "" {
		dirs = append(dirs, c.PolicyDir)
	}
	if c.Auth.JWKSFile != "" {
		files = append(files, c.Auth.JWKSFile)
	}
	files = append(files, c.Auth.PublicKeyFiles...)
	for _, p := range c.Profiles {
		files = append(files, p.RolePolicyFiles...)
	}
	return files, dirs
}
