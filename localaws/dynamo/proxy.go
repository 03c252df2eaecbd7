package dynamo

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// backendAuthorization is the Authorization header sent to proxied
// backends in place of the client's. dynalite checks that a request is
// signed, not the signature, and the client's credentials must never leave
// the gateway; a fixed placeholder satisfies the first without the second.
const backendAuthorization = "AWS4-HMAC-SHA256 Credential=tvm-local-gateway/20000101/us-east-1/dynamodb/aws4_request, " +
	"SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000"

// NewProxyBackend returns a backend that forwards requests to the
// DynamoDB-compatible endpoint at rawURL (for example dynalite at
// http://127.0.0.1:4567). The client's Authorization and
// X-Amz-Security-Token headers are replaced by a placeholder signature:
// such endpoints do not verify signatures, which is why they must only be
// reachable through the gateway. A backend that cannot be reached is
// answered with a 500 InternalServerError. The handler is safe for
// concurrent use.
func NewProxyBackend(rawURL string) (http.Handler, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("dynamo: backend URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dynamo: backend URL %q: want http(s)://host[:port]", rawURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dynamo: backend URL %q: must not carry user info, a query or a fragment", rawURL)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &proxyBackend{transport: transport, proxy: &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			pr.Out.Header.Del("X-Amz-Security-Token")
			pr.Out.Header.Set("Authorization", backendAuthorization)
			pr.Out.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			WriteError(w, errInternal())
		},
	}}, nil
}

// proxyBackend is a reverse proxy with its own transport.
type proxyBackend struct {
	transport *http.Transport
	proxy     *httputil.ReverseProxy
}

func (p *proxyBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.proxy.ServeHTTP(w, r) }

// closeIdle closes idle connections to the backend (used by tests).
func (p *proxyBackend) closeIdle() { p.transport.CloseIdleConnections() }
