// Package localaws is the local AWS server: one HTTP endpoint (default
// 127.0.0.1:4566) that serves, by request shape,
//
//   - DynamoDB's JSON protocol (X-Amz-Target: DynamoDB_20120810.*) through the
//     enforcing gateway of localaws/dynamo, in front of an in-process minidyn
//     backend or any DynamoDB-compatible URL;
//   - IAM's Query protocol, told from STS's by the SigV4 credential scope's
//     service ("iam"): role and managed policy reads, PutRolePolicy and
//     DeleteRolePolicy, see localaws/iamapi;
//   - STS's Query protocol (an Action parameter, form-encoded POST or GET):
//     AssumeRole and GetCallerIdentity, see localaws/sts;
//   - the dev OIDC provider (/.well-known/openid-configuration,
//     /.well-known/jwks.json, POST /idp/token), see localaws/idp;
//   - S3's REST protocol (requests signed for service "s3": the SigV4
//     credential scope of the Authorization header or of a presigned URL's
//     X-Amz-Credential) through the enforcing gateway of localaws/s3, in
//     front of an in-process gofakes3;
//   - GET /healthz -> 200 {"status":"ok"}.
//
// With Config.Faults, STS and DynamoDB requests first meet the injected
// faults (localaws/faults): throttling, latency, an outage, refused
// credentials, short sessions. The faults' admin API is not served here.
//
// Anything else is answered 404 {"error":"not_found",...}. Requests are
// authenticated with SigV4 against the principals of localaws/identity
// (built-in defaults: identity.DefaultYAML). Logs are structured (slog); the
// gateway and STS log one line per authorization decision, never a secret
// key, a session token or a JWT.
//
// A Server is safe for concurrent use; Serve owns its goroutines and returns
// after a graceful shutdown when its context is cancelled.
package localaws

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tvmkit/tvm/localaws/dynamo"
	"github.com/tvmkit/tvm/localaws/faults"
	"github.com/tvmkit/tvm/localaws/iamapi"
	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/idp"
	"github.com/tvmkit/tvm/localaws/s3"
	"github.com/tvmkit/tvm/localaws/sigv4"
	"github.com/tvmkit/tvm/localaws/sts"
)

// Defaults shared with the binary and the documentation.
const (
	DefaultListen = "127.0.0.1:4566"
	DefaultRegion = "us-east-1"
	// MaxBodyBytes bounds any request body (DynamoDB's own limit is 16 MB).
	MaxBodyBytes = 16 << 20
)

// Config configures a Server.
type Config struct {
	// Identity holds accounts, users and roles; nil means identity.DefaultConfig().
	Identity *identity.Config
	// Region is the only region requests may be signed for and the region of
	// DynamoDB ARNs; "" means DefaultRegion.
	Region string
	// Issuer is the dev IdP's issuer URL, normally the server's base URL. Required.
	Issuer string
	// IDPKey signs dev tokens; nil generates a key.
	IDPKey *rsa.PrivateKey
	// BackendURL selects a DynamoDB-compatible backend; "" means in-process minidyn.
	BackendURL string
	// Logger receives structured logs; nil discards.
	Logger *slog.Logger
	// Clock returns the current time (sessions, signatures, tokens); nil means time.Now.
	Clock func() time.Time
	// Faults, when set, injects faults into STS and DynamoDB (see
	// localaws/faults); nil means none.
	Faults *faults.Injector
}

// Server is the local AWS http.Handler.
type Server struct {
	store   *identity.Store
	idp     *idp.Provider
	sts     *sts.Handler
	iam     *iamapi.Handler
	gateway http.Handler
	s3      http.Handler
	log     *slog.Logger
	faults  *faults.Injector
}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Identity == nil {
		cfg.Identity = identity.DefaultConfig()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	idOpts := identity.Options{Clock: cfg.Clock}
	if cfg.Faults != nil {
		idOpts.SessionLifetime = cfg.Faults.SessionLifetime
	}
	store, err := identity.New(cfg.Identity, idOpts)
	if err != nil {
		return nil, err
	}
	stsHandler, err := sts.New(sts.Options{Store: store, Region: cfg.Region, Logger: log.With("service", "sts")})
	if err != nil {
		return nil, err
	}
	iamHandler, err := iamapi.New(iamapi.Options{Store: store, Logger: log.With("service", "iam")})
	if err != nil {
		return nil, err
	}
	provider, err := idp.New(idp.Options{Issuer: cfg.Issuer, Key: cfg.IDPKey, Clock: cfg.Clock, Logger: log.With("service", "idp")})
	if err != nil {
		return nil, err
	}
	var backend http.Handler
	if cfg.BackendURL == "" {
		backend = dynamo.NewMinidynBackend()
	} else if backend, err = dynamo.NewProxyBackend(cfg.BackendURL); err != nil {
		return nil, err
	}
	auth, err := NewDynamoAuthenticator(store, cfg.Region)
	if err != nil {
		return nil, err
	}
	gw, err := dynamo.NewGateway(dynamo.GatewayOptions{
		Backend: backend, Auth: auth, Region: cfg.Region, Logger: log.With("service", "dynamodb"), MaxBodyBytes: MaxBodyBytes,
	})
	if err != nil {
		return nil, err
	}
	s3auth, err := NewS3Authenticator(store, cfg.Region)
	if err != nil {
		return nil, err
	}
	// Every bucket belongs to the first configured account (identity.New
	// refuses a configuration without one).
	owner := cfg.Identity.Accounts[0].ID
	s3gw, err := s3.NewGateway(s3.GatewayOptions{Auth: s3auth, Owner: owner, Region: cfg.Region, Logger: log.With("service", "s3")})
	if err != nil {
		return nil, err
	}
	return &Server{store: store, idp: provider, sts: stsHandler, iam: iamHandler, gateway: gw, s3: s3gw, log: log, faults: cfg.Faults}, nil
}

// Store returns the server's principals and sessions.
func (s *Server) Store() *identity.Store { return s.store }

// IDP returns the dev identity provider.
func (s *Server) IDP() *idp.Provider { return s.idp }

// ServeHTTP dispatches by request shape.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch scopeService(r) {
	case "s3": // the S3 gateway bounds its bodies itself
		s.s3.ServeHTTP(w, r)
		return
	case "iam":
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		s.iam.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasPrefix(target, dynamo.TargetPrefix):
		if !s.faults.DynamoDB(w, r) {
			s.gateway.ServeHTTP(w, r)
		}
	case target != "":
		dynamo.WriteError(w, &dynamo.APIError{Status: http.StatusBadRequest, Code: dynamo.CodeUnknownOperation})
	case sts.IsRequest(r):
		if !s.faults.STS(w, r) {
			s.sts.ServeHTTP(w, r)
		}
	case idp.IsRequest(r):
		s.idp.ServeHTTP(w, r)
	case r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	default:
		writeJSON(w, http.StatusNotFound, `{"error":"not_found","message":"tvm-local serves DynamoDB (X-Amz-Target), S3 (SigV4 signed for s3), STS (Action=), /.well-known/*, /idp/token and /healthz"}`)
	}
}

// scopeService returns the service name of the request's SigV4 credential
// scope (ACCESSKEY/DATE/REGION/SERVICE/aws4_request), from the Authorization
// header's Credential= or a presigned URL's X-Amz-Credential; "" if none.
// Signature Version 2 (S3 only) counts as "s3", so that the S3 gateway can
// refuse it clearly.
func scopeService(r *http.Request) string {
	q := r.URL.Query()
	cred := q.Get("X-Amz-Credential")
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(auth, "AWS ") || q.Has("AWSAccessKeyId") {
		return "s3"
	}
	if auth != "" {
		_, after, ok := strings.Cut(auth, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(after, ",")
	}
	// SigV4: KEY/DATE/REGION/SERVICE/aws4_request; SigV4a has no region.
	switch parts := strings.Split(strings.TrimSpace(cred), "/"); len(parts) {
	case 5:
		return parts[3]
	case 4:
		return parts[2]
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// storeVerifier is an identity store with a SigV4 verifier for one
// service: what the DynamoDB and S3 authenticators share.
type storeVerifier struct {
	store    *identity.Store
	verifier *sigv4.Verifier
}

// newAuthenticator returns an authenticator A over store for requests
// signed for service in region.
func newAuthenticator[A ~struct{ storeVerifier }](store *identity.Store, service, region string) (*A, error) {
	v, err := sigv4.NewVerifier(sigv4.Options{Service: service, Region: region, Clock: store.Now})
	if err != nil {
		return nil, err
	}
	return &A{storeVerifier{store: store, verifier: v}}, nil
}

// DynamoAuthenticator implements dynamo.Authenticator over an identity
// store: SigV4 for service "dynamodb", then the session token and expiry.
type DynamoAuthenticator struct{ storeVerifier }

// NewDynamoAuthenticator returns an authenticator for requests signed for region.
func NewDynamoAuthenticator(store *identity.Store, region string) (*DynamoAuthenticator, error) {
	return newAuthenticator[DynamoAuthenticator](store, "dynamodb", region)
}

// Authenticate implements dynamo.Authenticator. Failures are *dynamo.APIError
// with DynamoDB's codes: MissingAuthenticationTokenException,
// IncompleteSignatureException, InvalidSignatureException (signature, scope,
// clock skew), UnrecognizedClientException (unknown key, bogus or missing
// session token), ExpiredTokenException.
func (a *DynamoAuthenticator) Authenticate(r *http.Request, body []byte) (*dynamo.Caller, error) {
	p, _, err := a.store.Authenticate(a.verifier, r, body)
	if err != nil {
		return nil, dynamoAuthError(err)
	}
	return &dynamo.Caller{ARN: p.ARN(), Account: p.Account(), Session: p.Evaluator(a.store.Now())}, nil
}

const invalidTokenMessage = "The security token included in the request is invalid."

func dynamoAuthError(err error) error {
	e := func(code, msg string) *dynamo.APIError {
		return &dynamo.APIError{Status: http.StatusBadRequest, Code: code, Message: msg}
	}
	var se *sigv4.Error
	switch {
	case errors.Is(err, identity.ErrExpiredToken):
		return e("ExpiredTokenException", "The security token included in the request is expired")
	case errors.Is(err, identity.ErrInvalidToken):
		return e("UnrecognizedClientException", invalidTokenMessage)
	case errors.As(err, &se):
		switch se.Kind {
		case sigv4.MissingAuth:
			return e("MissingAuthenticationTokenException", "Request is missing Authentication Token")
		case sigv4.IncompleteSignature:
			return e("IncompleteSignatureException", se.Message)
		case sigv4.UnknownKey:
			return e("UnrecognizedClientException", invalidTokenMessage)
		default: // BadScope, Skew, Mismatch
			return e("InvalidSignatureException", se.Message)
		}
	}
	return fmt.Errorf("localaws: authenticate: %w", err)
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully
// (in-flight requests get up to 10 seconds). It returns nil after a
// requested shutdown and the server's error otherwise.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
