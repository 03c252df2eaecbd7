package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tvmkit/tvm/localaws/sigv4"
	"github.com/tvmkit/tvm/policies/iam"
)

// DefaultMaxObjectBytes bounds a request body (decoded) when
// GatewayOptions.MaxObjectBytes is zero.
const DefaultMaxObjectBytes = 64 << 20

// Caller is an authenticated principal as the gateway needs it.
type Caller struct {
	// ARN is the caller's ARN (assumed-role session or IAM user).
	ARN string
	// Account is the caller's account id.
	Account string
	// Session evaluates the caller's requests: its identity policies (+
	// session policies for an assumed-role session) and the global
	// condition keys it carries. The gateway adds the request's S3 keys; it
	// never modifies it.
	Session *iam.Session
	// Signature is the verified SigV4 signature: payload mode, chunk chain,
	// presigned or not.
	Signature *sigv4.S3Result
}

// Authenticator verifies a request's SigV4 signature (service "s3", header
// or presigned), access key, session token and expiry without reading the
// body. Failures are *Error values with S3's codes; any other error is
// answered InternalError, and so is a Caller without Signature or Session.
// Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (*Caller, error)
}

// GatewayOptions configures a Gateway.
type GatewayOptions struct {
	// Backend serves allowed requests; nil means NewMemoryBackend(). It is
	// never exposed: the gateway is its only client.
	Backend http.Handler
	// Auth authenticates callers. Required.
	Auth Authenticator
	// Owner is the account id that owns every bucket (s3:ResourceAccount,
	// x-amz-expected-bucket-owner). Required.
	Owner string
	// Region is the region buckets live in (CreateBucket's location
	// constraint, GetBucketLocation). Required.
	Region string
	// Logger receives one line per authorization decision; nil discards.
	Logger *slog.Logger
	// MaxObjectBytes bounds a request's decoded body; zero means
	// DefaultMaxObjectBytes.
	MaxObjectBytes int64
}

// Gateway is the enforcing S3 endpoint. A Gateway is safe for concurrent use.
type Gateway struct {
	backend http.Handler
	auth    Authenticator
	owner   string
	region  string
	log     *slog.Logger
	maxBody int64
}

// NewMemoryBackend returns an in-memory gofakes3 (s3mem) handler, whose
// listings follow S3's prefix and delimiter rules (see listingBackend).
func NewMemoryBackend() http.Handler {
	return gofakes3.New(listingBackend{s3mem.New()}, gofakes3.WithoutVersioning(), gofakes3.WithTimeSkewLimit(0)).Server()
}

// NewGateway returns a Gateway for opts.
func NewGateway(opts GatewayOptions) (*Gateway, error) {
	switch {
	case opts.Auth == nil:
		return nil, errors.New("s3: GatewayOptions.Auth is required")
	case opts.Owner == "" || opts.Region == "":
		return nil, errors.New("s3: GatewayOptions.Owner and Region are required")
	case opts.MaxObjectBytes < 0:
		return nil, errors.New("s3: GatewayOptions.MaxObjectBytes must not be negative")
	}
	g := &Gateway{backend: opts.Backend, auth: opts.Auth, owner: opts.Owner, region: opts.Region, log: opts.Logger, maxBody: opts.MaxObjectBytes}
	if g.backend == nil {
		g.backend = NewMemoryBackend()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxObjectBytes
	}
	return g, nil
}

// ServeHTTP authenticates, classifies (allow-list), authorizes every check
// of the request, verifies and decodes the body, and forwards the request
// to the backend.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, err := g.auth.Authenticate(r)
	if err == nil && (caller == nil || caller.Signature == nil || caller.Session == nil) {
		err = errors.New("s3 gateway: the authenticator returned no caller, signature or session")
	}
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			g.log.ErrorContext(r.Context(), "s3 gateway: authentication failed", slog.Any("error", err))
			se = internalError()
		}
		g.refuse(w, r, se)
		return
	}
	if caller.Signature != nil && caller.Signature.Presigned {
		r = hoistQueryHeaders(r)
	}
	op, serr := Classify(r)
	if serr == nil {
		serr = g.checkOwner(r.Header)
	}
	if serr != nil {
		g.log.InfoContext(r.Context(), "s3 request rejected", slog.String("principal", caller.ARN),
			slog.String("method", r.Method), slog.String("code", serr.Code), slog.String("message", serr.Message))
		g.refuse(w, r, serr)
		return
	}
	base := requestContext(r, caller, g.owner)
	for _, c := range Extract(op, r.Header) {
		if d, msg := g.authorize(r.Context(), caller, op, c, base); !d.Allowed() {
			g.refuse(w, r, accessDenied(msg))
			return
		}
	}
	body, serr := readBody(r, caller.Signature, g.maxBody)
	if serr != nil {
		g.refuse(w, r, serr)
		return
	}
	switch op.Name {
	case "DeleteObjects":
		serr = g.deleteObjects(w, r, op, caller, base, body)
	case "UploadPartCopy":
		serr = g.uploadPartCopy(w, r, op)
	case "CreateBucket":
		if serr = checkLocation(body, g.region); serr == nil {
			g.forward(w, r, op, caller, base, body)
		}
	default:
		g.forward(w, r, op, caller, base, body)
	}
	if serr != nil {
		g.refuse(w, r, serr)
	}
}

// refuse writes e, first reading what the client has not yet sent of the
// request body (at most the gateway's body limit), so that a client still
// uploading — a denied 5 MiB UploadPart — reads the error instead of a
// reset connection: Go's server reads at most 256 KiB of a body a handler
// left unread, then closes the connection under the client's writes. This
// holds for "Expect: 100-continue" too (the SDKs send it with parts and
// objects of 2 MB and more): the client is sent the 100 and its body is
// read, because an intermediary that does not wait for the 100 (Go's
// ReverseProxy with the default transport) is already sending it. Only a
// declared length past the limit is not read; the connection then closes.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	if r.ContentLength <= g.maxBody {
		_, _ = io.CopyN(io.Discard, r.Body, g.maxBody)
	}
	WriteError(w, r, e)
}

// authorize evaluates one check — the gateway's only call into the IAM
// evaluator — logs the decision and returns it with S3's AccessDenied
// message (S3 quotes the resource). A bucket or object belongs to the
// owner account and has no bucket policy, so AWS's cross-account rule
// applies: a caller from another account is denied whatever its own
// policies allow (Kind ResourcePolicy). ListAllMyBuckets ("*") names no
// bucket and is the caller's own policies' decision.
func (g *Gateway) authorize(ctx context.Context, caller *Caller, op *Op, c Check, base map[string][]string) (iam.Decision, string) {
	reqCtx := make(map[string][]string, len(base)+len(c.Context))
	maps.Copy(reqCtx, base)
	maps.Copy(reqCtx, c.Context)
	req := iam.Request{Principal: caller.ARN, Action: c.Action, Resource: c.Resource, Context: reqCtx}
	var d iam.Decision
	if c.Resource == "*" {
		d = caller.Session.Evaluate(c.Action, c.Resource, reqCtx)
	} else {
		d = caller.Session.EvaluateWithResource(c.Action, c.Resource, reqCtx, iam.ResourcePolicies{Account: g.owner})
	}
	g.logDecision(ctx, op, req, c, d, base[KeyContentSHA256])
	quoted := req
	quoted.Resource = strconv.Quote(req.Resource)
	return d, d.DenialMessage(quoted)
}

func (g *Gateway) logDecision(ctx context.Context, op *Op, req iam.Request, c Check, d iam.Decision, payload []string) {
	attrs := append([]slog.Attr{
		slog.String("principal", req.Principal),
		slog.String("operation", op.Name),
		slog.String("action", req.Action),
		slog.String("resource", req.Resource),
	}, d.LogAttrs()...)
	attrs = append(attrs, slog.Any("payload", payload))
	for _, k := range []string{KeyPrefix, KeyDelimiter, KeyMaxKeys, KeyVersionID, KeyCopySource} {
		if v, ok := c.Context[k]; ok {
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	level := slog.LevelInfo
	if !d.Allowed() {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(ctx, level, "s3 authorization", attrs...)
}

// hoistQueryHeaders returns r with the x-amz-* query parameters of a
// presigned URL (other than its authentication parameters) moved into the
// headers, where S3 reads them (presigners hoist signed x-amz-* headers,
// such as x-amz-checksum-mode or x-amz-acl, into the query).
func hoistQueryHeaders(r *http.Request) *http.Request {
	q := r.URL.Query()
	var moved bool
	out := r.Clone(r.Context())
	for k, vs := range q {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") && !slices.Contains(commonQuery, k) {
			for _, v := range vs {
				out.Header.Add(k, v)
			}
			q.Del(k)
			moved = true
		}
	}
	if !moved {
		return r
	}
	out.URL.RawQuery = q.Encode()
	return out
}

// requestContext returns the request-wide S3 condition keys.
func requestContext(r *http.Request, caller *Caller, owner string) map[string][]string {
	authType := "REST-HEADER"
	if caller.Signature != nil && caller.Signature.Presigned {
		authType = "REST-QUERY-STRING"
	}
	ctx := map[string][]string{
		KeyAuthType:           {authType},
		KeySignatureVersion:   {"AWS4-HMAC-SHA256"},
		KeyResourceAccount:    {owner},
		"aws:SecureTransport": {strconv.FormatBool(r.TLS != nil)},
	}
	if caller.Signature != nil {
		ctx[KeyContentSHA256] = []string{caller.Signature.Payload}
	}
	return ctx
}

// checkOwner answers AccessDenied when x-amz-expected-bucket-owner (or the
// copy source's) names another account, as S3 does.
func (g *Gateway) checkOwner(h http.Header) *Error {
	for _, name := range []string{"X-Amz-Expected-Bucket-Owner", "X-Amz-Source-Expected-Bucket-Owner"} {
		if v := h.Get(name); v != "" && v != g.owner {
			return accessDenied("Access Denied")
		}
	}
	return nil
}

// strippedHeaders are the vetted x-amz-* headers that never reach the
// backend: credentials and signing, payload framing (already verified and
// decoded), checksums (verified), and headers gofakes3 would store as
// object metadata without honouring them. Lowercase.
var strippedHeaders = []string{"x-amz-security-token", "x-amz-date", "x-amz-content-sha256",
	"x-amz-decoded-content-length", "x-amz-trailer", "x-amz-sdk-checksum-algorithm", "x-amz-checksum-mode",
	"x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-user-agent", "x-amz-expected-bucket-owner",
	"x-amz-source-expected-bucket-owner", "x-amz-request-payer", "x-amz-acl", "x-amz-metadata-directive",
	"x-amz-copy-source-range"}

// forwardedHeaders are the only headers without the x-amz- prefix the
// backend sees: the metadata it stores and the range and conditions it
// honours (Content-Encoding and Content-Length are set by the gateway).
// Any other header is dropped, as S3 ignores headers it does not know:
// gofakes3 honours MinIO's x-minio-force-delete, which would turn a
// DeleteBucket into a delete of every object in the bucket. Lowercase.
var forwardedHeaders = []string{"content-type", "content-disposition", "range", "if-match", "if-none-match",
	"if-modified-since", "if-unmodified-since"}

// backendHeader returns the headers of r the backend may see: the x-amz-*
// headers Classify admitted, less strippedHeaders and the checksums, and
// forwardedHeaders.
func backendHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, vs := range h {
		lower := strings.ToLower(name)
		_, checksum := checksumByName(lower)
		switch {
		case strings.HasPrefix(lower, "x-amz-") && !checksum && !slices.Contains(strippedHeaders, lower),
			slices.Contains(forwardedHeaders, lower):
			out[http.CanonicalHeaderKey(name)] = slices.Clone(vs)
		}
	}
	return out
}

// backendRequest builds the request the backend sees: the same method and
// path, the query without signing parameters, a plain body with an exact
// Content-Length, and only the headers the backend honours.
func backendRequest(r *http.Request, op *Op, body []byte) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.TransferEncoding = nil
	q := url.Values{}
	for k, vs := range op.Query {
		if k != "x-id" && !strings.HasPrefix(k, "X-Amz-") {
			q[k] = vs
		}
	}
	out.URL.RawQuery = q.Encode()
	out.Header = backendHeader(r.Header)
	if enc := withoutChunkedEncoding(r.Header); enc != "" {
		out.Header.Set("Content-Encoding", enc)
	} else {
		out.Header.Del("Content-Encoding")
	}
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if op.Copy != nil {
		// gofakes3 splits at the first "/" and query-unescapes the key.
		out.Header.Set("X-Amz-Copy-Source", op.Copy.Bucket+"/"+url.QueryEscape(op.Copy.Key))
		if op.Name == "CopyObject" { // COPY: metadata comes from the source only
			for name := range out.Header {
				if strings.HasPrefix(strings.ToLower(name), "x-amz-meta-") {
					out.Header.Del(name)
				}
			}
			out.Header.Del("Content-Type")
			out.Header.Del("Content-Disposition")
			out.Header.Del("Content-Encoding")
		}
	}
	return out
}

// forward sends an allowed request to the backend and writes its answer,
// applying S3's 403-for-a-missing-key rule and encoding-type=url.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, op *Op, caller *Caller, base map[string][]string, body []byte) {
	rec := newRecorder()
	g.backend.ServeHTTP(rec, backendRequest(r, op, body))
	status, respBody := rec.status, rec.body.Bytes()
	switch {
	case status == http.StatusNotFound && (op.Name == "GetObject" || op.Name == "HeadObject"):
		if serr := g.missingKey(r, op, caller, base); serr != nil {
			WriteError(w, r, serr)
			return
		}
	case status == http.StatusOK && op.Query.Get("encoding-type") == "url":
		encoded, err := encodeListing(respBody)
		if err != nil {
			WriteError(w, r, internalError())
			return
		}
		respBody = encoded
	case status == http.StatusOK && op.Name == "GetBucketLocation":
		respBody = locationBody(g.region)
	}
	h := w.Header()
	for k, v := range rec.header {
		if k != "Content-Length" || r.Method == http.MethodHead {
			h[k] = v
		}
	}
	// HEAD keeps the backend's Content-Length (the object's size); 204 and
	// 304 carry neither a body nor a length.
	noBody := r.Method == http.MethodHead || status == http.StatusNoContent || status == http.StatusNotModified
	if status == http.StatusNoContent || status == http.StatusNotModified {
		h.Del("Content-Length")
	}
	if !noBody {
		h.Set("Content-Length", strconv.Itoa(len(respBody)))
	}
	w.WriteHeader(status)
	if !noBody {
		_, _ = w.Write(respBody)
	}
}

// missingKey decides the answer to GetObject/HeadObject on a key the
// backend does not have: S3 answers 404 NoSuchKey only to a caller allowed
// s3:ListBucket on the bucket (checked without prefix keys), else 403.
// It returns nil to pass the backend's 404 through (also for a missing
// bucket, which stays NoSuchBucket).
func (g *Gateway) missingKey(r *http.Request, op *Op, caller *Caller, base map[string][]string) *Error {
	if !g.bucketExists(r.Context(), op.Bucket) {
		return nil
	}
	c := Check{Action: "s3:ListBucket", Resource: BucketARN(op.Bucket)}
	if d, msg := g.authorize(r.Context(), caller, op, c, base); !d.Allowed() {
		return accessDenied(msg)
	}
	return nil
}

func (g *Gateway) bucketExists(ctx context.Context, bucket string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "/"+bucket, nil)
	if err != nil {
		return false
	}
	rec := newRecorder()
	g.backend.ServeHTTP(rec, req)
	return rec.status == http.StatusOK
}

// checkLocation checks CreateBucket's optional CreateBucketConfiguration:
// the location constraint, when given, must be the server's region.
func checkLocation(body []byte, region string) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var cfg struct {
		XMLName            xml.Name `xml:"CreateBucketConfiguration"`
		LocationConstraint string   `xml:"LocationConstraint"`
	}
	if err := xml.Unmarshal(body, &cfg); err != nil {
		return newError(http.StatusBadRequest, CodeMalformedXML,
			"The XML you provided was not well-formed or did not validate against our published schema")
	}
	if cfg.LocationConstraint != "" && cfg.LocationConstraint != region {
		return newError(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The "+cfg.LocationConstraint+" location constraint is incompatible for the region specific endpoint this request was sent to.")
	}
	return nil
}

// locationBody is GetBucketLocation's answer: empty for us-east-1, as S3
// answers, else the region.
func locationBody(region string) []byte {
	if region == "us-east-1" {
		region = ""
	}
	var b bytes.Buffer
	b.WriteString(xml.Header + `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	_ = xml.EscapeText(&b, []byte(region))
	b.WriteString(`</LocationConstraint>`)
	return b.Bytes()
}

// recorder buffers a backend response; with a limit, it stops buffering
// past limit bytes and records the overflow.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
	limit  int64 // 0: none
	over   bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, status: http.StatusOK} }

// errBodyLimit stops a backend handler writing past a recorder's limit.
var errBodyLimit = errors.New("s3: backend response exceeds the gateway's limit")

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if r.over || (r.limit > 0 && int64(r.body.Len())+int64(len(b)) > r.limit) {
		r.over = true
		return 0, errBodyLimit
	}
	return r.body.Write(b)
}
