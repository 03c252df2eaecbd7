package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tvmkit/tvm/internal/ctxsleep"
)

// Defaults of Options.
const (
	DefaultMaxAttempts = 3
	DefaultBaseBackoff = 200 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultUserAgent   = "tvm-client/1"
	// DefaultExpiryWindow is how long before expiry NewCached and Cached
	// refresh credentials; the broker never vends credentials expiring
	// within it.
	DefaultExpiryWindow = 5 * time.Minute
	// ProviderSource is aws.Credentials.Source of vended credentials.
	ProviderSource = "tvm-broker"
	// CredentialsPath is the broker's credentials endpoint.
	CredentialsPath = "/v1/credentials"
)

// maxResponseBytes bounds a broker answer.
const maxResponseBytes = 64 << 10

// HTTPClient sends one HTTP request; *http.Client satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Options configures a Provider. The zero value of every field selects its
// default.
type Options struct {
	// Profile is the broker profile to request; "" = the broker's default.
	Profile string
	// Duration is the requested session length, sent in whole seconds;
	// 0 = the profile's default. The broker clamps or refuses it.
	Duration time.Duration
	// HTTPClient sends the requests. Redirects are never followed, so the
	// token is never forwarded to another URL: the default client refuses
	// them, and an *http.Client given here is used through a copy that does
	// (Go's default policy keeps Authorization for the same host name, even
	// from https to http). Another HTTPClient implementation must not follow
	// redirects itself.
	HTTPClient HTTPClient
	// MaxAttempts bounds the attempts per Retrieve, the first included
	// (default 3; 1 disables retries). Only 429, 5xx and network errors are
	// retried.
	MaxAttempts int
	// BaseBackoff is the first retry delay before jitter (default 200ms); it
	// doubles per attempt, and each delay is drawn from [d/2, d].
	BaseBackoff time.Duration
	// MaxBackoff caps the computed backoff and the Retry-After the client
	// is willing to wait (default 10s). A Retry-After beyond it ends the
	// retries and the *BrokerError (with RetryAfter) is returned.
	MaxBackoff time.Duration
	// Timeout bounds each attempt (default 10s).
	Timeout time.Duration
	// UserAgent is sent as User-Agent (default "tvm-client/1").
	UserAgent string
	// AllowInsecureHTTP permits plain http to a non-loopback broker. Never set
	// it outside a test network: the JWT and the credentials cross in clear.
	AllowInsecureHTTP bool
	// Sleep waits between attempts; it must return ctx.Err() when ctx ends
	// first. The default uses a timer. Tests inject a recorder.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Provider retrieves credentials from the broker. It does not cache; wrap it
// with Cached or aws.NewCredentialsCache. It is safe for concurrent use.
type Provider struct {
	endpoint string // validated broker URL with the credentials path and query
	tokens   TokenSource
	opts     Options
	err      error // configuration error reported by every Retrieve
	now      func() time.Time
}

var _ aws.CredentialsProvider = (*Provider)(nil)

// New returns a provider for the broker at brokerURL (scheme and host, and an
// optional path prefix; "/v1/credentials" is appended unless the URL already
// ends with it). A configuration problem — an invalid or insecure URL, a nil
// token source — is reported by every call to Retrieve; call Err to check it
// up front.
func New(brokerURL string, tokens TokenSource, optFns ...func(*Options)) *Provider {
	o := Options{}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	o.HTTPClient = noRedirects(o.HTTPClient)
	if o.Sleep == nil {
		o.Sleep = ctxsleep.Sleep
	}
	p := &Provider{tokens: tokens, opts: o, now: time.Now}
	p.endpoint, p.err = endpoint(brokerURL, o)
	if p.err == nil && tokens == nil {
		p.err = errors.New("tvm client: nil TokenSource")
	}
	return p
}

// noRedirects returns the client Retrieve uses: c (a new *http.Client when
// nil) made to return a redirect as the answer. The caller's *http.Client is
// copied, not changed.
func noRedirects(c HTTPClient) HTTPClient {
	hc := &http.Client{}
	switch c := c.(type) {
	case nil:
	case *http.Client:
		if c != nil {
			*hc = *c
		}
	default:
		return c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

// NewCached returns New(brokerURL, tokens, optFns...) wrapped by Cached.
func NewCached(brokerURL string, tokens TokenSource, optFns ...func(*Options)) *aws.CredentialsCache {
	return Cached(New(brokerURL, tokens, optFns...))
}

// Cached wraps p in an aws.CredentialsCache that refreshes credentials
// between 4 and 5 minutes (DefaultExpiryWindow, 20% jitter) before they expire
// and lets one goroutine refresh while the others wait.
func Cached(p aws.CredentialsProvider) *aws.CredentialsCache {
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = DefaultExpiryWindow
		o.ExpiryWindowJitterFrac = 0.2
	})
}

// Err returns the configuration error Retrieve would report, or nil.
func (p *Provider) Err() error { return p.err }

// Retrieve fetches a fresh set of credentials from the broker.
func (p *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	tok, err := p.tokens.Token(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("tvm client: token source: %w", err)
	}
	if err := checkToken(tok); err != nil {
		return aws.Credentials{}, fmt.Errorf("tvm client: token source: %w", err)
	}
	for attempt := 1; ; attempt++ {
		creds, err := p.attempt(ctx, tok)
		if err == nil {
			return creds, nil
		}
		wait, retry := p.retryDelay(ctx, err, attempt)
		if !retry {
			return aws.Credentials{}, err
		}
		if serr := p.opts.Sleep(ctx, wait); serr != nil {
			return aws.Credentials{}, err
		}
	}
}

// retryDelay decides whether err after the given attempt is retried, and when.
func (p *Provider) retryDelay(ctx context.Context, err error, attempt int) (time.Duration, bool) {
	if attempt >= p.opts.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	var be *BrokerError
	var ue *UnreachableError
	switch {
	case errors.As(err, &be):
		if !be.Temporary() {
			return 0, false
		}
		if be.RetryAfter > 0 {
			return be.RetryAfter, be.RetryAfter <= p.opts.MaxBackoff
		}
	case errors.As(err, &ue):
	default:
		return 0, false
	}
	d := p.opts.BaseBackoff
	for i := 1; i < attempt && d < p.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1), true
}

type credentialsResponse struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Token           string
	Expiration      *time.Time
	AccountID       string `json:"AccountId"`
}

type errorResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (p *Provider) attempt(ctx context.Context, tok string) (aws.Credentials, error) {
	actx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, p.endpoint, nil)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("tvm client: building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", p.opts.UserAgent)
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return aws.Credentials{}, &UnreachableError{URL: p.endpoint, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return aws.Credentials{}, &UnreachableError{URL: p.endpoint, Err: unwrapURLError(err)}
	}
	if len(body) > maxResponseBytes {
		return aws.Credentials{}, fmt.Errorf("%w: answer larger than %d bytes", ErrInvalidResponse, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return aws.Credentials{}, p.statusError(resp, body, tok)
	}
	return p.parseCredentials(body)
}

func (p *Provider) parseCredentials(body []byte) (aws.Credentials, error) {
	var cr credentialsResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		return aws.Credentials{}, fmt.Errorf("%w: not a JSON credentials object", ErrInvalidResponse)
	}
	token := cr.SessionToken
	if token == "" {
		token = cr.Token
	}
	var missing []string
	if cr.AccessKeyID == "" {
		missing = append(missing, "AccessKeyId")
	}
	if cr.SecretAccessKey == "" {
		missing = append(missing, "SecretAccessKey")
	}
	if token == "" {
		missing = append(missing, "SessionToken")
	}
	if cr.Expiration == nil || cr.Expiration.IsZero() {
		missing = append(missing, "Expiration")
	}
	if len(missing) > 0 {
		return aws.Credentials{}, fmt.Errorf("%w: missing %s", ErrInvalidResponse, strings.Join(missing, ", "))
	}
	if !cr.Expiration.After(p.now()) {
		return aws.Credentials{}, fmt.Errorf("%w: already expired at %s", ErrInvalidResponse, cr.Expiration.UTC().Format(time.RFC3339))
	}
	return aws.Credentials{
		AccessKeyID:     cr.AccessKeyID,
		SecretAccessKey: cr.SecretAccessKey,
		SessionToken:    token,
		Source:          ProviderSource,
		CanExpire:       true,
		Expires:         cr.Expiration.UTC(),
		AccountID:       cr.AccountID,
	}, nil
}

// statusError maps an error answer to a typed error. The token is scrubbed
// from the broker's code and message in case a broker ever echoes it.
func (p *Provider) statusError(resp *http.Response, body []byte, tok string) error {
	var er errorResponse
	_ = json.Unmarshal(body, &er) // a non-JSON body leaves code and message empty
	code := strings.ReplaceAll(er.Code, tok, "[redacted]")
	msg := strings.ReplaceAll(er.Message, tok, "[redacted]")
	if msg == "" && code == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return &InvalidTokenError{Code: code, Message: msg}
	case http.StatusForbidden:
		return &ForbiddenError{Code: code, Message: msg}
	}
	return &BrokerError{
		Status:     resp.StatusCode,
		Code:       code,
		Message:    msg,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), p.now()),
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else, or a
// date in the past, is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// unwrapURLError drops *url.Error's "Get URL:" prefix; the URL is already
// in UnreachableError.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// endpoint validates brokerURL and returns the full credentials URL.
func endpoint(brokerURL string, o Options) (string, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return "", fmt.Errorf("tvm client: broker URL: %w", err)
	}
	if err := ValidateBrokerURL(u, o.AllowInsecureHTTP); err != nil {
		return "", err
	}
	if !strings.HasSuffix(u.Path, CredentialsPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + CredentialsPath
	}
	u.RawPath = ""
	q := u.Query()
	if o.Profile != "" {
		q.Set("profile", o.Profile)
	}
	if o.Duration != 0 {
		secs := int64(o.Duration / time.Second)
		if secs <= 0 {
			return "", fmt.Errorf("tvm client: duration %s: must be at least one second", o.Duration)
		}
		q.Set("duration", strconv.FormatInt(secs, 10))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ValidateBrokerURL applies the transport rule of the AWS SDKs' container
// credentials provider: https to any host; http only to a loopback host
// unless allowInsecure. A loopback host is an address in 127.0.0.0/8 or ::1,
// or the name "localhost" when every address it resolves to is one (as
// aws-sdk-go-v2's isAllowedHost checks it; a failed lookup is an error).
// Other names are refused for http without a lookup, so DNS cannot turn a
// remote name into an allowed one. The URL must have a host and carry no
// user information, query or fragment.
func ValidateBrokerURL(u *url.URL, allowInsecure bool) error {
	switch {
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("tvm client: broker URL %q: no host", u.Redacted())
	case u.User != nil:
		return fmt.Errorf("tvm client: broker URL %q: user information is not allowed", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("tvm client: broker URL %q: query and fragment are not allowed", u.Redacted())
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if allowInsecure {
			return nil
		}
		ok, err := isLoopback(u.Hostname())
		if err != nil {
			return fmt.Errorf("tvm client: broker URL %q: resolving %s: %w", u.Redacted(), u.Hostname(), err)
		}
		if ok {
			return nil
		}
		return fmt.Errorf("tvm client: broker URL %q: plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); use https", u.Redacted())
	default:
		return fmt.Errorf("tvm client: broker URL %q: scheme must be https or http", u.Redacted())
	}
}

// lookupHost resolves "localhost" for isLoopback; tests replace it.
var lookupHost = net.LookupHost

// isLoopback reports whether host is a loopback address, or the name
// "localhost" resolving to loopback addresses only.
func isLoopback(host string) (bool, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	if !strings.EqualFold(host, "localhost") {
		return false, nil
	}
	addrs, err := lookupHost(host)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(addrs) > 0, nil
}
