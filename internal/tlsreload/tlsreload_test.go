package tlsreload

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start creates a Reloader over f with opts (files filled in) and serves a
// handler answering the client certificate's serial ("-" without one) over
// TLS on a loopback port. It returns the reloader and the base URL.
func start(t *testing.T, f files, opts Options, h http.Handler) (*Reloader, string) {
	t.Helper()
	opts.CertFile, opts.KeyFile = f.cert, f.key
	if opts.PollInterval == 0 {
		opts.PollInterval = -1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			serial := "-"
			if c := req.TLS.PeerCertificates; len(c) > 0 {
				serial = c[0].SerialNumber.String()
			}
			io.WriteString(w, serial)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: r.TLSConfig(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return r, "https://" + ln.Addr().String()
}

// client returns an HTTP client trusting roots that makes a new TLS
// connection for every request.
func client(t *testing.T, roots []byte, tweak func(*tls.Config)) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Fatal("no root certificate")
	}
	cfg := &tls.Config{RootCAs: pool}
	if tweak != nil {
		tweak(cfg)
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get returns the served certificate's serial and the response body.
func get(c *http.Client, url string) (serial, body string, err error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.String(), string(b), nil
}

func mustServe(t *testing.T, c *http.Client, url, wantSerial string) {
	t.Helper()
	serial, _, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if serial != wantSerial {
		t.Fatalf("served certificate serial %s, want %s", serial, wantSerial)
	}
}

func TestServeAndReload(t *testing.T) {
	ca := newCA(t, "test CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	var logs syncBuffer
	r, url := start(t, f, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, nil)
	c := client(t, ca.pem, nil)
	mustServe(t, c, url, "1")

	// Both protocols the configuration offers are served.
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("protocol %s, want HTTP/2.0", resp.Proto)
	}
	c11 := client(t, ca.pem, func(cfg *tls.Config) { cfg.NextProtos = []string{"http/1.1"} })
	mustServe(t, c11, url, "1")

	// Reloading unchanged files changes nothing and logs nothing.
	before := logs.String()
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload of unchanged files: %v", err)
	}
	if logs.String() != before {
		t.Errorf("reload of unchanged files logged %q", strings.TrimPrefix(logs.String(), before))
	}

	f.writePair(t, ca.issue(t, leafOpts{serial: 2}))
	mustServe(t, c, url, "1") // polling is off: nothing changes until Reload
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	mustServe(t, c, url, "2")
	if got := r.Leaf().SerialNumber.Int64(); got != 2 {
		t.Errorf("Leaf serial %d, want 2", got)
	}
	if !strings.Contains(logs.String(), `"msg":"tls: certificate reloaded","serial":"2"`) {
		t.Errorf("no reload record in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log carries key material")
	}
}

func TestPollingPicksUpChange(t *testing.T) {
	ca := newCA(t, "test CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	_, url := start(t, f, Options{PollInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, nil)
	c := client(t, ca.pem, nil)
	mustServe(t, c, url, "1")

	f.writePair(t, ca.issue(t, leafOpts{serial: 7}))
	// Not a timing assertion: wait (bounded) until the poller has seen it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		serial, _, err := get(c, url)
		if err != nil {
			t.Fatal(err)
		}
		if serial == "7" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %s after the files changed", serial)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBrokenReplacementKeepsOldPair(t *testing.T) {
	ca := newCA(t, "test CA")
	other := ca.issue(t, leafOpts{serial: 9})
	fresh := ca.issue(t, leafOpts{serial: 3})
	tests := map[string]struct {
		write   func(t *testing.T, f files)
		wantErr string
	}{
		"garbage certificate": {
			write:   func(t *testing.T, f files) { replace(t, f.cert, []byte("not a certificate")) },
			wantErr: "failed to find any PEM data in certificate input",
		},
		"half-written: new certificate, old key": {
			write:   func(t *testing.T, f files) { replace(t, f.cert, fresh.cert) },
			wantErr: "private key does not match public key",
		},
		"key of another pair": {
			write:   func(t *testing.T, f files) { replace(t, f.key, other.key) },
			wantErr: "private key does not match public key",
		},
		"truncated certificate": {
			write: func(t *testing.T, f files) {
				f.writePair(t, pair{cert: fresh.cert[:len(fresh.cert)/2], key: fresh.key})
			},
			wantErr: "failed to find any PEM data in certificate input",
		},
		// The leaf and its key complete, the next certificate of the
		// chain cut short: serving the leaf alone would fail every client
		// that needs the intermediate.
		"half-written chain": {
			write: func(t *testing.T, f files) {
				chain := append(append([]byte{}, fresh.cert...), ca.pem[:len(ca.pem)/2]...)
				f.writePair(t, pair{cert: chain, key: fresh.key})
			},
			wantErr: "trailing data",
		},
		"empty key": {
			write:   func(t *testing.T, f files) { replace(t, f.key, nil) },
			wantErr: "failed to find any PEM data in key input",
		},
		"expired certificate": {
			write: func(t *testing.T, f files) {
				f.writePair(t, ca.issue(t, leafOpts{serial: 4, notAfter: time.Now().Add(-time.Minute)}))
			},
			wantErr: ErrExpired.Error(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFiles(t)
			f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
			var logs syncBuffer
			r, url := start(t, f, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, nil)
			c := client(t, ca.pem, nil)

			tc.write(t, f)
			err := r.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Reload error %v, want one containing %q", err, tc.wantErr)
			}
			mustServe(t, c, url, "1")
			if !strings.Contains(logs.String(), "replacement refused") {
				t.Errorf("refusal not logged:\n%s", logs.String())
			}

			// A good pair afterwards is taken.
			f.writePair(t, fresh)
			if err := r.Reload(); err != nil {
				t.Fatalf("Reload of a good pair: %v", err)
			}
			mustServe(t, c, url, "3")
		})
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	ca := newCA(t, "test CA")
	good := ca.issue(t, leafOpts{serial: 1})
	tests := map[string]struct {
		pair    pair
		ca      []byte
		opts    Options
		wantErr string
	}{
		"mismatched pair": {
			pair: pair{cert: good.cert, key: ca.issue(t, leafOpts{serial: 2}).key}, wantErr: "does not match",
		},
		"expired": {
			pair: ca.issue(t, leafOpts{serial: 3, notAfter: time.Now().Add(-time.Second)}), wantErr: "expired",
		},
		"CA bundle without certificates": {
			pair: good, ca: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
			opts: Options{ClientAuth: ClientAuthRequire}, wantErr: `PEM block "PRIVATE KEY" is not a CERTIFICATE`,
		},
		"empty CA bundle": {
			pair: good, ca: []byte("\n"), opts: Options{ClientAuth: ClientAuthVerifyIfGiven}, wantErr: "no CA certificate",
		},
		"CA bundle with trailing garbage": {
			pair: good, ca: append(append([]byte{}, ca.pem...), "junk"...),
			opts: Options{ClientAuth: ClientAuthRequire}, wantErr: "trailing data",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFiles(t)
			f.writePair(t, tc.pair)
			tc.opts.CertFile, tc.opts.KeyFile = f.cert, f.key
			if tc.ca != nil {
				replace(t, f.ca, tc.ca)
				tc.opts.ClientCAFile = f.ca
			}
			tc.opts.Logger = slog.New(slog.DiscardHandler)
			r, err := New(context.Background(), tc.opts)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want one containing %q", err, tc.wantErr)
			}
			if s, ierr := Inspect(tc.opts); ierr == nil || ierr.Error() != err.Error() {
				t.Errorf("Inspect = %+v, %v; want New's error %v", s, ierr, err)
			}
		})
	}
}

// TestInspect: Inspect reports the leaf, the chain length and the client
// CAs of files New would serve, and starts nothing (goleak checks).
func TestInspect(t *testing.T) {
	ca, clientCA := newCA(t, "test CA"), newCA(t, "client CA")
	f := newFiles(t)
	leaf := ca.issue(t, leafOpts{serial: 7})
	f.writePair(t, pair{cert: append(append([]byte{}, leaf.cert...), ca.pem...), key: leaf.key})
	replace(t, f.ca, append(append([]byte{}, clientCA.pem...), ca.pem...))

	s, err := Inspect(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if s.Leaf.SerialNumber.Int64() != 7 || s.Chain != 2 || s.ClientCAs != 0 || s.ClientAuth != ClientAuthNone {
		t.Errorf("Inspect = %+v", s)
	}
	s, err = Inspect(Options{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.ca, ClientAuth: ClientAuthRequire})
	if err != nil {
		t.Fatal(err)
	}
	if s.ClientCAs != 2 || s.ClientAuth != ClientAuthRequire {
		t.Errorf("Inspect with client CAs = %+v", s)
	}
	if pool, n, err := LoadCAs(f.ca); err != nil || n != 2 || pool == nil {
		t.Errorf("LoadCAs = %v, %d, %v", pool, n, err)
	}
	if _, _, err := LoadCAs(f.key); err == nil || !strings.Contains(err.Error(), `"PRIVATE KEY" is not a CERTIFICATE`) {
		t.Errorf("LoadCAs of a key file: %v", err)
	}
	if _, _, err := LoadCAs(f.dir + "/nope"); err == nil {
		t.Error("LoadCAs of a missing file succeeded")
	}
	// The clock decides expiry, as in New.
	late := func() time.Time { return s.Leaf.NotAfter.Add(time.Second) }
	if _, err := Inspect(Options{CertFile: f.cert, KeyFile: f.key, Now: late}); !errors.Is(err, ErrExpired) {
		t.Errorf("Inspect after NotAfter: %v, want ErrExpired", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		wantErr string
	}{
		"no certificate": {Options{KeyFile: "k"}, "a certificate file and a key file are required"},
		"no key":         {Options{CertFile: "c"}, "a certificate file and a key file are required"},
		"unknown mode": {Options{CertFile: "c", KeyFile: "k", ClientAuth: "optional"},
			`client auth "optional" is not "none", "verify-if-given" or "require"`},
		"require without CA": {Options{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthRequire},
			`client auth "require" needs a client CA file`},
		"verify-if-given without CA": {Options{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthVerifyIfGiven},
			`client auth "verify-if-given" needs a client CA file`},
		"CA without verification": {Options{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"},
			"a client CA file is set but client auth is"},
		"missing files": {Options{CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"}, "no such file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := New(context.Background(), tc.opts)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want one containing %q", err, tc.wantErr)
			}
			optionProblem := !strings.Contains(tc.wantErr, "no such file")
			if optionProblem && !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("error %v does not wrap ErrInvalidOptions", err)
			}
			// Validate says the same without touching the files.
			if verr := tc.opts.Validate(); optionProblem != (verr != nil) || (verr != nil && verr.Error() != err.Error()) {
				t.Errorf("Validate() = %v, New: %v", verr, err)
			}
		})
	}
	for _, o := range []Options{
		{CertFile: "c", KeyFile: "k"},
		{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthNone, PollInterval: -1},
		{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthRequire, ClientCAFile: "ca"},
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", o, err)
		}
	}
	for _, ok := range []ClientAuth{"", ClientAuthNone, ClientAuthVerifyIfGiven, ClientAuthRequire} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%q): %v", ok, err)
		}
	}
}

func TestClientCertificateModes(t *testing.T) {
	ca := newCA(t, "server CA")
	clientCA := newCA(t, "client CA")
	strangerCA := newCA(t, "stranger CA")
	trusted := clientCA.issue(t, leafOpts{serial: 41, client: true}).tlsCertificate(t)
	stranger := strangerCA.issue(t, leafOpts{serial: 42, client: true}).tlsCertificate(t)

	type outcome struct {
		ok   bool
		body string
	}
	tests := map[string]struct {
		mode                       ClientAuth
		none, trusted, strangerOut outcome
	}{
		"none": {mode: ClientAuthNone,
			none: outcome{true, "-"}, trusted: outcome{true, "-"}, strangerOut: outcome{true, "-"}},
		"verify-if-given": {mode: ClientAuthVerifyIfGiven,
			none: outcome{true, "-"}, trusted: outcome{true, "41"}, strangerOut: outcome{false, ""}},
		"require": {mode: ClientAuthRequire,
			none: outcome{false, ""}, trusted: outcome{true, "41"}, strangerOut: outcome{false, ""}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFiles(t)
			f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
			opts := Options{ClientAuth: tc.mode}
			if tc.mode != ClientAuthNone {
				replace(t, f.ca, clientCA.pem)
				opts.ClientCAFile = f.ca
			}
			_, url := start(t, f, opts, nil)
			for who, want := range map[string]outcome{"no certificate": tc.none, "trusted": tc.trusted, "stranger": tc.strangerOut} {
				c := client(t, ca.pem, func(cfg *tls.Config) {
					switch who {
					case "trusted":
						cfg.Certificates = []tls.Certificate{trusted}
					case "stranger":
						// Go's client only offers a certificate the server's
						// CA list names; force it, as another client might.
						cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
							return &stranger, nil
						}
					}
				})
				_, body, err := get(c, url)
				if (err == nil) != want.ok {
					t.Errorf("%s: error %v, want success %v", who, err, want.ok)
				}
				if err == nil && body != want.body {
					t.Errorf("%s: server saw client certificate %q, want %q", who, body, want.body)
				}
			}
		})
	}
}

func TestClientCAReload(t *testing.T) {
	ca := newCA(t, "server CA")
	oldCA, newClientCA := newCA(t, "old client CA"), newCA(t, "new client CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	replace(t, f.ca, oldCA.pem)
	r, url := start(t, f, Options{ClientAuth: ClientAuthRequire, ClientCAFile: f.ca, Logger: slog.New(slog.DiscardHandler)}, nil)
	c := client(t, ca.pem, func(cfg *tls.Config) {
		cfg.Certificates = []tls.Certificate{newClientCA.issue(t, leafOpts{serial: 77, client: true}).tlsCertificate(t)}
	})
	if _, _, err := get(c, url); err == nil {
		t.Fatal("a client certificate from a CA not yet trusted was accepted")
	}

	replace(t, f.ca, []byte("broken bundle"))
	if err := r.Reload(); err == nil {
		t.Fatal("a broken CA bundle was accepted")
	}
	replace(t, f.ca, newClientCA.pem)
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, body, err := get(c, url); err != nil || body != "77" {
		t.Fatalf("after the CA reload: body %q, error %v; want 77", body, err)
	}
}

func TestTLSVersionFloor(t *testing.T) {
	ca := newCA(t, "test CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	r, url := start(t, f, Options{}, nil)
	if got := r.TLSConfig().MinVersion; got != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", got)
	}
	old := client(t, ca.pem, func(cfg *tls.Config) { cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })
	if _, _, err := get(old, url); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	tls12 := client(t, ca.pem, func(cfg *tls.Config) { cfg.MaxVersion = tls.VersionTLS12 })
	mustServe(t, tls12, url, "1")
}

func TestCloseStopsPolling(t *testing.T) {
	ca := newCA(t, "test CA")
	f := newFiles(t)
	f.writePair(t, ca.issue(t, leafOpts{serial: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(ctx, Options{CertFile: f.cert, KeyFile: f.key, PollInterval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the context ends the poller; Close waits for it and is idempotent
	r.Close()
	r.Close()
	if got := r.Leaf().SerialNumber.Int64(); got != 1 {
		t.Errorf("Leaf serial after Close %d, want 1", got)
	}
}

// FuzzParseCAs: the client CA bundle parser never panics, and a bundle it
// accepts is one or more PEM CERTIFICATE blocks and nothing else.
func FuzzParseCAs(f *testing.F) {
	ca, err := makeCA("seed CA")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ca.pem)
	f.Add(append(append([]byte{}, ca.pem...), ca.pem...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, count, err := parseCAs(data)
		if err != nil {
			return
		}
		n, rest := 0, data
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Fatalf("accepted a %q block", b.Type)
			}
			n++
		}
		if n == 0 || n != count || len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("accepted %d certificates and trailing %q", n, rest)
		}
	})
}
