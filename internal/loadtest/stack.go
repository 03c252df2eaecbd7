package loadtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/tvmkit/tvm/localaws/idp"
)

// Documented dev keys of the local AWS's broker principal (not secrets; see
// the README's local AWS section).
const (
	brokerKeyID  = "AKIATVMBROKER0000001"
	brokerSecret = "tvmLocalBrokerSecretKey000000000000000001"
	readyTimeout = 2 * time.Minute
)

// BrokerVariant is one broker configuration under test.
type BrokerVariant struct {
	// Name labels the variant in reports.
	Name string
	// NoTokenCache sets auth.token_cache.disabled.
	NoTokenCache bool
	// NoCredentialCache sets cache.disabled: one AssumeRole per request.
	NoCredentialCache bool
	// Env is added to the broker's environment (e.g. GOMEMLIMIT).
	Env []string
}

// stack is tvm-local and the servers under test.
type stack struct {
	dir     string
	local   *proc
	issuer  string
	minter  *idp.Provider
	servers []*proc // in the order started: the baseline first when there is one
}

// withStack runs f on a stack started in a fresh temporary directory (see
// startStack), then stops the stack and removes the directory.
func withStack(ctx context.Context, root, prefix string, withBaseline bool, variants []BrokerVariant, f func(*stack) error) error {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := startStack(ctx, root, dir, withBaseline, variants)
	if err != nil {
		return err
	}
	defer st.stop()
	return f(st)
}

// writeOutput writes data to the file name in the output directory dir,
// creating dir.
func writeOutput(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), data, 0o644)
}

// startStack builds the binaries from root, starts tvm-local with a fresh
// IdP key, then the baseline (when withBaseline) and one broker per variant.
func startStack(ctx context.Context, root, dir string, withBaseline bool, variants []BrokerVariant) (*stack, error) {
	bin := filepath.Join(dir, "bin")
	if err := buildBinaries(ctx, root, bin); err != nil {
		return nil, err
	}
	key, keyFile, err := writeKey(dir)
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir}
	// The issuer is tvm-local's own address (its default): known once it listens.
	s.local, err = startProc("tvm-local", filepath.Join(bin, "tvm-local"),
		[]string{"serve", "--listen", "127.0.0.1:0", "--idp-key", keyFile, "--log-level", "warn"}, nil, dir)
	if err != nil {
		return nil, err
	}
	s.issuer = s.local.url("")
	if s.minter, err = idp.New(idp.Options{Issuer: s.issuer, Key: key}); err != nil {
		s.stop()
		return nil, err
	}
	if err := s.local.waitReady("/healthz", readyTimeout); err != nil {
		s.stop()
		return nil, err
	}
	if withBaseline {
		if err := s.startBaseline(); err != nil {
			s.stop()
			return nil, err
		}
	}
	for _, v := range variants {
		if err := s.startBroker(filepath.Join(bin, "tvm-broker"), v); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

// startBaseline starts this executable's baseline subcommand.
func (s *stack) startBaseline() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p, err := startProc("baseline", self, []string{"baseline", "--listen", "127.0.0.1:0",
		"--issuer", s.issuer, "--jwks-url", s.issuer + idp.JWKSPath, "--audience", idp.DefaultAudience}, nil, s.dir)
	if err != nil {
		return err
	}
	s.servers = append(s.servers, p)
	return p.waitReady("/healthz", readyTimeout)
}

// startBroker writes v's configuration and starts a broker on it.
func (s *stack) startBroker(bin string, v BrokerVariant) error {
	cfg := filepath.Join(s.dir, v.Name+".yaml")
	if err := os.WriteFile(cfg, []byte(brokerConfig(s.issuer, v)), 0o600); err != nil {
		return err
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + brokerKeyID, "AWS_SECRET_ACCESS_KEY=" + brokerSecret,
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + s.issuer, "AWS_EC2_METADATA_DISABLED=true"}
	env = append(env, v.Env...)
	p, err := startProc(v.Name, bin, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, env, s.dir)
	if err != nil {
		return err
	}
	s.servers = append(s.servers, p)
	return p.waitReady("/readyz", readyTimeout)
}

// brokerConfig is the configuration of a broker variant: one pooled
// DynamoDB profile on the local AWS's read role, rate limits far above the
// offered load (the limiter still runs on every request), the rest default.
func brokerConfig(issuer string, v BrokerVariant) string {
	return fmt.Sprintf(`auth:
  issuer: %[1]s
  audiences: [%[2]s]
  jwks_url: %[1]s%[3]s
  token_cache: {max_entries: 20000, disabled: %[4]t}
sts:
  region: us-east-1
profiles:
  - name: read
    role_arn: arn:aws:iam::123456789012:role/tvm-tenant-read
    template: dynamodb-read
    table_arns: [arn:aws:dynamodb:us-east-1:123456789012:table/tvm-demo]
cache:
  max_entries: 20000
  disabled: %[5]t
rate_limit:
  per_tenant_rps: 1000000
  per_tenant_burst: 1000000
  per_subject_rps: 1000000
  per_subject_burst: 1000000
`, issuer, idp.DefaultAudience, idp.JWKSPath, v.NoTokenCache, v.NoCredentialCache)
}

// stop stops every process, the servers first.
func (s *stack) stop() {
	for _, p := range s.servers {
		_ = p.stop()
	}
	if s.local != nil {
		_ = s.local.stop()
	}
}

// server returns the process called name.
func (s *stack) server(name string) *proc {
	for _, p := range s.servers {
		if p.name == name {
			return p
		}
	}
	return nil
}

// mint returns one token for each (tenant, subject) pair, valid for ttl,
// signed on every core.
func (s *stack) mint(tenants, subjects int, ttl time.Duration) ([]string, error) {
	tokens := make([]string, tenants*subjects)
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	for w := range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(tokens); i += runtime.NumCPU() {
				tok, _, err := s.minter.Mint(idp.MintRequest{
					Tenant: strconv.Itoa(i/subjects + 1), Subject: "user-" + strconv.Itoa(i%subjects+1),
					TTLSeconds: int64(ttl / time.Second),
				})
				if err != nil {
					errs <- err
					return
				}
				tokens[i] = tok
			}
		}()
	}
	wg.Wait()
	close(errs)
	return tokens, <-errs
}

// writeKey generates the IdP's RSA key and writes it as PEM into dir.
func writeKey(dir string) (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "idp-key.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, path, os.WriteFile(path, data, 0o600)
}
