// Package tlsreload serves TLS from certificate files that change while the
// process runs: a cert-manager Secret mounted into a pod, rotated by the
// kubelet, is picked up without a restart.
//
// # Files
//
// CertFile holds one or more PEM "CERTIFICATE" blocks (the leaf first, then
// any intermediates) and nothing but white space after the last; KeyFile
// holds the leaf's private key as PEM ("PRIVATE KEY", "EC PRIVATE KEY" or
// "RSA PRIVATE KEY"). ClientCAFile, used only when client certificates are
// verified, holds the PEM CA certificates a client certificate must chain
// to. Each file is at most MaxFileBytes.
//
// # Reloading
//
// A Reloader polls the files' size, modification time and identity (inode)
// every PollInterval and, when any changed, reads all of them again; Reload
// does the same on demand (for a SIGHUP, say). The certificate and its key are
// always loaded together and must match (tls.X509KeyPair), so a half-written
// pair — a new certificate next to the old key — is refused. A refused
// replacement (unparsable, a chain cut short, mismatched, expired, or a
// broken CA bundle) is logged and the previous pair and CA pool keep
// serving; the next change of the files is tried again. Content that did
// not change is not re-parsed.
//
// The *tls.Config from TLSConfig requires TLS 1.2 or later. Its
// GetConfigForClient returns, for each handshake, an immutable per-generation
// configuration holding the current certificate, client CA pool and client
// certificate mode, so a reload affects new handshakes only; established
// connections keep the certificate they negotiated.
//
// Serve with it as
//
//	r, err := tlsreload.New(ctx, tlsreload.Options{CertFile: "/tls/tls.crt", KeyFile: "/tls/tls.key"})
//	if err != nil { ... }
//	defer r.Close()
//	srv := &http.Server{Handler: h, TLSConfig: r.TLSConfig()}
//	err = srv.ServeTLS(ln, "", "")
//
// # Concurrency
//
// A *Reloader is safe for concurrent use. New starts one polling goroutine
// (none when PollInterval is negative); it stops when the context given to New
// ends or Close is called, and Close waits for it. The handshake path only
// loads an atomic pointer.
package tlsreload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/internal/pemblock"
	"github.com/tvmkit/tvm/internal/poll"
)

// DefaultPollInterval is how often the files are checked when
// Options.PollInterval is zero. The kubelet refreshes a mounted Secret about
// once a minute, and cert-manager renews well before expiry, so checking
// twice a minute costs three stat calls and is never late by much.
const DefaultPollInterval = 30 * time.Second

// MaxFileBytes bounds each certificate, key or CA file.
const MaxFileBytes = 1 << 20

// ClientAuth says whether and how client certificates are verified. Its
// values are the words a configuration file uses.
type ClientAuth string

// Client certificate modes.
const (
	// ClientAuthNone requests no client certificate (the zero value "" means
	// the same).
	ClientAuthNone ClientAuth = "none"
	// ClientAuthVerifyIfGiven requests a client certificate and verifies it
	// against the client CAs when the client sends one; a client without one
	// is let through (the JWT still authenticates the request).
	ClientAuthVerifyIfGiven ClientAuth = "verify-if-given"
	// ClientAuthRequire refuses a handshake without a client certificate
	// that verifies against the client CAs.
	ClientAuthRequire ClientAuth = "require"
)

// Validate reports whether a is a known mode ("" is ClientAuthNone).
func (a ClientAuth) Validate() error {
	switch a {
	case "", ClientAuthNone, ClientAuthVerifyIfGiven, ClientAuthRequire:
		return nil
	}
	return fmt.Errorf("client auth %q is not %q, %q or %q", string(a), ClientAuthNone, ClientAuthVerifyIfGiven, ClientAuthRequire)
}

func (a ClientAuth) verifies() bool { return a == ClientAuthVerifyIfGiven || a == ClientAuthRequire }

func (a ClientAuth) tlsType() tls.ClientAuthType {
	switch a {
	case ClientAuthVerifyIfGiven:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// Options configures a Reloader.
type Options struct {
	// CertFile is the PEM certificate chain, leaf first. Required.
	CertFile string
	// KeyFile is the PEM private key of the leaf. Required.
	KeyFile string
	// ClientCAFile is the PEM bundle client certificates must chain to.
	// Required when ClientAuth verifies; refused when it does not.
	ClientCAFile string
	// ClientAuth is the client certificate mode (default ClientAuthNone).
	ClientAuth ClientAuth
	// PollInterval is how often the files are checked for changes (0 means
	// DefaultPollInterval; negative disables polling: Reload only).
	PollInterval time.Duration
	// NextProtos are the ALPN protocols offered (default "h2", "http/1.1",
	// which is what http.Server.ServeTLS serves).
	NextProtos []string
	// Logger receives one record per reload and per refused replacement
	// (default: slog.Default()). Key material is never logged.
	Logger *slog.Logger
	// Now is the clock for the expiry check (default time.Now).
	Now func() time.Time
}

// Errors wrapped by New and Reload.
var (
	// ErrExpired is wrapped when a certificate's NotAfter has passed.
	ErrExpired = errors.New("tlsreload: certificate has expired")
	// ErrInvalidOptions is wrapped when Options are inconsistent.
	ErrInvalidOptions = errors.New("tlsreload: invalid options")
)

// Reloader owns a TLS certificate (and client CA pool) loaded from files and
// keeps it current.
type Reloader struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[generation]
	base *tls.Config

	mu    sync.Mutex // serialises Reload; guards stats
	stats []os.FileInfo

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// generation is one loaded, consistent state; never mutated once published.
type generation struct {
	cert      *tls.Certificate
	config    *tls.Config
	digest    [sha256.Size]byte
	clientCAs int // certificates in the client CA bundle
}

// New loads the files (an error if they do not form a valid pair) and starts
// polling them until ctx ends or Close is called.
func New(ctx context.Context, opts Options) (*Reloader, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	r := &Reloader{opts: opts, log: opts.Logger, done: make(chan struct{})}
	r.base = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         opts.NextProtos,
		GetCertificate:     r.getCertificate,
		GetConfigForClient: r.getConfigForClient,
	}
	r.stats = r.statFiles()
	files, digest, err := r.readFiles()
	if err == nil {
		var g *generation
		if g, err = r.build(files, digest); err == nil {
			r.cur.Store(g)
		}
	}
	if err != nil {
		return nil, err
	}
	r.log.Info("tls: certificate loaded", certAttrs(r.cur.Load().cert.Leaf)...)
	if opts.PollInterval < 0 {
		close(r.done)
		r.cancel = func() {}
		return r, nil
	}
	pollCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() {
		defer close(r.done)
		poll.Every(pollCtx, r.opts.PollInterval, r.reloadIfChanged)
	}()
	return r, nil
}

// Validate reports whether the options are consistent: both files named,
// and a known client auth mode with a client CA file exactly when it
// verifies. The error wraps ErrInvalidOptions. New and Inspect call it; so
// does the broker's configuration validation, which is why the rules live
// here only.
func (o Options) Validate() error {
	switch {
	case o.CertFile == "" || o.KeyFile == "":
		return fmt.Errorf("%w: a certificate file and a key file are required", ErrInvalidOptions)
	case o.ClientAuth.Validate() != nil:
		return fmt.Errorf("%w: %v", ErrInvalidOptions, o.ClientAuth.Validate())
	case o.ClientAuth.verifies() && o.ClientCAFile == "":
		return fmt.Errorf("%w: client auth %q needs a client CA file", ErrInvalidOptions, o.ClientAuth)
	case !o.ClientAuth.verifies() && o.ClientCAFile != "":
		return fmt.Errorf("%w: a client CA file is set but client auth is %q: set verify-if-given or require", ErrInvalidOptions, o.ClientAuth)
	}
	return nil
}

func checkOptions(o *Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.ClientAuth == "" {
		o.ClientAuth = ClientAuthNone
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.NextProtos == nil {
		o.NextProtos = []string{"h2", "http/1.1"}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// TLSConfig returns the server configuration: TLS 1.2 minimum, the current
// certificate through GetCertificate, and the whole current generation
// (certificate, client CAs, client auth mode) through GetConfigForClient.
// Every call returns the same *tls.Config; do not modify it.
func (r *Reloader) TLSConfig() *tls.Config { return r.base }

// Leaf returns the certificate being served.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().cert.Leaf }

// Close stops polling and waits for the polling goroutine to end. It is
// idempotent; the configuration keeps serving the last certificate.
func (r *Reloader) Close() {
	r.once.Do(r.cancel)
	<-r.done
}

func (r *Reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load().cert, nil
}

func (r *Reloader) getConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return r.cur.Load().config, nil
}

// reloadIfChanged reloads when a file's size, modification time or identity
// changed since the last look. A refused replacement is logged by reload and
// not retried until the files change again.
func (r *Reloader) reloadIfChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.statFiles()
	if sameStats(r.stats, now) {
		return
	}
	r.stats = now
	_ = r.reloadLocked()
}

// Reload reads the files now and, when their content changed and forms a
// valid pair (and CA bundle), serves it from the next handshake on. On error
// the previous certificate keeps serving; the error is also logged.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = r.statFiles()
	return r.reloadLocked()
}

func (r *Reloader) reloadLocked() error {
	files, digest, err := r.readFiles()
	if err == nil && digest == r.cur.Load().digest {
		return nil
	}
	var g *generation
	if err == nil {
		g, err = r.build(files, digest)
	}
	if err != nil {
		r.log.Error("tls: replacement refused, the previous certificate keeps serving",
			append(certAttrs(r.cur.Load().cert.Leaf), slog.String("error", err.Error()))...)
		return err
	}
	old := r.cur.Swap(g)
	r.log.Info("tls: certificate reloaded",
		append(certAttrs(g.cert.Leaf), slog.String("previous_serial", old.cert.Leaf.SerialNumber.Text(16)))...)
	return nil
}

// Summary is what Inspect found in the files.
type Summary struct {
	// Leaf is the serving certificate (the first of CertFile).
	Leaf *x509.Certificate
	// Chain is the number of certificates in CertFile, the leaf included.
	Chain int
	// ClientCAs is the number of CA certificates in ClientCAFile (0 when
	// client certificates are not verified).
	ClientCAs int
	// ClientAuth is the client certificate mode (ClientAuthNone when unset).
	ClientAuth ClientAuth
}

// Inspect loads the files of opts once, exactly as New would (the options
// validated; the certificate and key readable, parsable and matching; the
// certificate not expired at opts.Now; the client CA bundle parsable), and
// says what they hold. It serves nothing and starts no goroutine: a
// configuration check uses it.
func Inspect(opts Options) (*Summary, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	r := &Reloader{opts: opts, log: opts.Logger}
	files, digest, err := r.readFiles()
	if err != nil {
		return nil, err
	}
	g, err := r.build(files, digest)
	if err != nil {
		return nil, err
	}
	return &Summary{Leaf: g.cert.Leaf, Chain: len(g.cert.Certificate), ClientCAs: g.clientCAs, ClientAuth: opts.ClientAuth}, nil
}

// pemFiles is the content of the files of one generation.
type pemFiles struct{ cert, key, ca []byte }

func (r *Reloader) paths() []string {
	p := []string{r.opts.CertFile, r.opts.KeyFile}
	if r.opts.ClientCAFile != "" {
		p = append(p, r.opts.ClientCAFile)
	}
	return p
}

func (r *Reloader) readFiles() (pemFiles, [sha256.Size]byte, error) {
	var contents [3][]byte
	h := sha256.New()
	for i, p := range r.paths() {
		b, err := readFile(p)
		if err != nil {
			return pemFiles{}, [sha256.Size]byte{}, err
		}
		contents[i] = b
		// Length-prefix each file so that moving bytes between files
		// changes the digest.
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return pemFiles{cert: contents[0], key: contents[1], ca: contents[2]}, d, nil
}

func readFile(path string) ([]byte, error) {
	b, err := filelimit.Read(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("tlsreload: %w", err)
	}
	return b, nil
}

// build parses one generation: the chain (whole PEM blocks only), the key
// pair (which must match), the leaf's validity, and the client CA bundle.
func (r *Reloader) build(f pemFiles, digest [sha256.Size]byte) (*generation, error) {
	// tls.X509KeyPair stops at the first block it cannot decode, so a chain
	// read while being written (the leaf whole, the next certificate cut
	// short) would load as the leaf alone. Without any block, X509KeyPair's
	// own error says more.
	if blocks, rest := pemblock.Split(f.cert); len(blocks) > 0 && len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("tlsreload: %s: trailing data that is not PEM (a file still being written?)", r.opts.CertFile)
	}
	cert, err := tls.X509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("tlsreload: %s and %s: %w", r.opts.CertFile, r.opts.KeyFile, err)
	}
	if cert.Leaf == nil { // GODEBUG=x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsreload: %s: %w", r.opts.CertFile, err)
		}
	}
	if now := r.opts.Now(); now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("%w: %s expired at %s", ErrExpired, r.opts.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	nCAs := 0
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   r.opts.NextProtos,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   r.opts.ClientAuth.tlsType(),
	}
	if r.opts.ClientAuth.verifies() {
		if cfg.ClientCAs, nCAs, err = parseCAs(f.ca); err != nil {
			return nil, fmt.Errorf("tlsreload: %s: %w", r.opts.ClientCAFile, err)
		}
	}
	return &generation{cert: &cert, config: cfg, digest: digest, clientCAs: nCAs}, nil
}

// LoadCAs reads a PEM bundle of CA certificates (at most MaxFileBytes) with
// the rules of ClientCAFile — only CERTIFICATE blocks, at least one, nothing
// else — and returns the pool and the number of certificates in it. A
// client that must trust a private CA (a health check, say) uses it.
func LoadCAs(path string) (*x509.CertPool, int, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, 0, err
	}
	pool, n, err := parseCAs(data)
	if err != nil {
		return nil, 0, fmt.Errorf("tlsreload: %s: %w", path, err)
	}
	return pool, n, nil
}

// parseCAs parses a PEM bundle of CA certificates, refusing any block that
// is not a certificate and a bundle with none. It returns the pool and the
// number of certificates in it.
func parseCAs(data []byte) (*x509.CertPool, int, error) {
	pool := x509.NewCertPool()
	blocks, rest := pemblock.Split(data)
	for _, block := range blocks {
		if block.Type != "CERTIFICATE" {
			return nil, 0, fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, 0, err
		}
		pool.AddCert(c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, 0, errors.New("trailing data that is not PEM")
	}
	if len(blocks) == 0 {
		return nil, 0, errors.New("no CA certificate")
	}
	return pool, len(blocks), nil
}

// statFiles returns the FileInfo of each file (nil for one that cannot be
// stat'ed: its reappearance is a change).
func (r *Reloader) statFiles() []os.FileInfo {
	paths := r.paths()
	out := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		out[i], _ = os.Stat(p)
	}
	return out
}

func sameStats(a, b []os.FileInfo) bool {
	for i := range a {
		switch {
		case a[i] == nil || b[i] == nil:
			if a[i] != b[i] {
				return false
			}
		case a[i].Size() != b[i].Size(), !a[i].ModTime().Equal(b[i].ModTime()), !os.SameFile(a[i], b[i]):
			return false
		}
	}
	return true
}

func certAttrs(leaf *x509.Certificate) []any {
	return []any{
		slog.String("serial", leaf.SerialNumber.Text(16)),
		slog.String("subject", leaf.Subject.String()),
		slog.Any("dns_names", leaf.DNSNames),
		slog.Time("not_after", leaf.NotAfter),
	}
}
