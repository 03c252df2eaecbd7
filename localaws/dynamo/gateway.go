package dynamo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/policies/iam"
)

// DefaultRegion is the region of resource ARNs when GatewayOptions.Region is empty.
const DefaultRegion = "us-east-1"

// DefaultMaxBodyBytes bounds request bodies when GatewayOptions.MaxBodyBytes
// is zero: DynamoDB's own request size limit is 16 MB.
const DefaultMaxBodyBytes = 16 << 20

// GatewayOptions configures a Gateway.
type GatewayOptions struct {
	// Backend serves allowed requests (NewMinidynBackend, NewProxyBackend).
	// It is never exposed: the gateway is its only client. Required.
	Backend http.Handler
	// Auth authenticates callers. Required.
	Auth Authenticator
	// Region is the region of resource ARNs; default DefaultRegion.
	Region string
	// Logger receives one line per authorization decision; default: discard.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Gateway is the enforcing DynamoDB endpoint: it authenticates each request,
// builds the request's authorization checks as DynamoDB does (see Extract),
// evaluates every check against the caller's policies with iam.Evaluate and
// forwards allowed requests to the backend, fixing the backend's known gaps
// in the response. A Gateway is safe for concurrent use.
type Gateway struct {
	backend http.Handler
	auth    Authenticator
	region  string
	log     *slog.Logger
	maxBody int64
	schemas *schemaCache
}

// NewGateway returns a Gateway for opts.
func NewGateway(opts GatewayOptions) (*Gateway, error) {
	if opts.Backend == nil {
		return nil, errors.New("dynamo: GatewayOptions.Backend is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("dynamo: GatewayOptions.Auth is required")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("dynamo: GatewayOptions.MaxBodyBytes must not be negative, got %d", opts.MaxBodyBytes)
	}
	g := &Gateway{
		backend: opts.Backend,
		auth:    opts.Auth,
		region:  opts.Region,
		log:     opts.Logger,
		maxBody: opts.MaxBodyBytes,
	}
	if g.region == "" {
		g.region = DefaultRegion
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	g.schemas = newSchemaCache(g.backend, g.log)
	return g, nil
}

// ServeHTTP serves DynamoDB JSON-protocol requests (POST with
// X-Amz-Target: DynamoDB_20120810.<Operation>, exactly one such header).
// Anything else is answered with UnknownOperationException.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	target := r.Header.Get("X-Amz-Target")
	// One operation per request: with a repeated X-Amz-Target the gateway
	// would authorize the first value while a backend may read another.
	if r.Method != http.MethodPost || !strings.HasPrefix(target, TargetPrefix) || len(r.Header.Values("X-Amz-Target")) != 1 {
		WriteError(w, errUnknownOperation())
		return
	}
	op := strings.TrimPrefix(target, TargetPrefix)

	body, err := readBody(w, r, g.maxBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, &APIError{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge,
				Message: "Request size exceeded " + strconv.FormatInt(g.maxBody, 10) + " bytes"})
			return
		}
		WriteError(w, errSerialization("could not read the request body"))
		return
	}

	caller, err := g.auth.Authenticate(r, body)
	if err != nil || caller == nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			WriteError(w, apiErr)
			return
		}
		g.log.ErrorContext(ctx, "dynamodb gateway: authentication failed", slog.Any("error", err))
		WriteError(w, errInternal())
		return
	}

	checks, req, err := extract(op, body, g.region, caller.Account, func(table string) (*TableSchema, error) {
		return g.schemas.lookup(ctx, table)
	})
	if err != nil {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			apiErr = errInternal()
		}
		g.log.InfoContext(ctx, "dynamodb request rejected", slog.String("principal", caller.ARN),
			slog.String("operation", op), slog.String("code", apiErr.Code), slog.String("message", apiErr.text()))
		WriteError(w, apiErr)
		return
	}

	for _, c := range checks {
		d := caller.Session.Evaluate(c.Action, c.Resource, c.Context)
		g.logDecision(ctx, op, caller.ARN, c, d)
		if !d.Allowed() {
			WriteError(w, &APIError{Status: http.StatusBadRequest, Code: CodeAccessDenied, Message: d.Message()})
			return
		}
	}
	g.forward(w, r, op, body, req, caller.Account)
}

// readBody reads the request body, at most max bytes. A declared
// Content-Length sizes the buffer up to preallocBody bytes (the server
// never delivers more than declared; fewer is an error): a larger
// declaration grows the buffer as bytes arrive, so a client cannot make
// the gateway allocate what it has not sent.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	if r.ContentLength <= 0 || r.ContentLength > max {
		return io.ReadAll(body)
	}
	if r.ContentLength > preallocBody {
		buf := bytes.NewBuffer(make([]byte, 0, preallocBody))
		if _, err := buf.ReadFrom(body); err != nil {
			return nil, err
		}
		if int64(buf.Len()) != r.ContentLength {
			return nil, io.ErrUnexpectedEOF
		}
		return buf.Bytes(), nil
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// preallocBody is the most readBody allocates before the bytes arrive.
const preallocBody = 64 << 10

// logDecision writes one line per decision: allowed at info, denied at
// warn. It costs nothing beyond the Enabled check when the level is off,
// and one slice of fields, built in place, when it is on.
func (g *Gateway) logDecision(ctx context.Context, op, principal string, c Check, d iam.Decision) {
	level := slog.LevelInfo
	if !d.Allowed() {
		level = slog.LevelWarn
	}
	if !g.log.Enabled(ctx, level) {
		return
	}
	var buf [12]slog.Attr
	attrs := append(buf[:0],
		slog.String("principal", principal),
		slog.String("operation", op),
		slog.String("action", c.Action),
		slog.String("resource", c.Resource),
		slog.Any("leading_keys", clipAll(c.Context[KeyLeadingKeys])),
	)
	attrs = d.AppendLogAttrs(attrs)
	if enc := c.Context[KeyEnclosingOperation]; enc != nil {
		attrs = append(attrs, slog.Any("enclosing_operation", enc))
	}
	// The record goes to the handler directly, without the caller's program
	// counter (slog's Logger walks the stack for it on every call; the
	// source of this line is always here).
	rec := slog.NewRecord(time.Now(), level, "dynamodb authorization", 0)
	rec.AddAttrs(attrs...)
	_ = g.log.Handler().Handle(ctx, rec)
}

// clipAll returns vs with each value cut to maxEchoedValue characters, for
// a log line; vs itself when no value is that long (a value of at most
// maxEchoedValue bytes has at most as many characters). No values is an
// empty list, never null.
func clipAll(vs []string) []string {
	if vs == nil {
		return []string{}
	}
	var out []string
	for i, v := range vs {
		if len(v) <= maxEchoedValue {
			continue
		}
		if out == nil {
			out = slices.Clone(vs)
		}
		out[i] = awsquery.Clip(v, maxEchoedValue)
	}
	if out == nil {
		return vs
	}
	return out
}

// hopHeaders are request headers the backend never sees: the client's
// credentials stay in the gateway, and compression is left to the
// transport so the gateway can read and fix the response.
var hopHeaders = []string{"Authorization", "X-Amz-Security-Token", "Accept-Encoding"}

// forward sends an allowed request (body, parsed as req) to the backend
// and writes its response, with gap fixes and a fresh x-amz-crc32, to w.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, op string, body []byte, req *object, account string) {
	rec := getResponseBuffer()
	defer putResponseBuffer(rec) // after writeBody copied the body out
	g.backend.ServeHTTP(rec, backendRequest(r, body))

	switch op {
	case "CreateTable", "UpdateTable", "DeleteTable":
		if t, err := req.str("TableName"); err == nil {
			g.schemas.invalidate(t)
		}
	}

	status := rec.code()
	respBody := rec.body.Bytes()
	if status == http.StatusOK {
		if fixed, ok := fixResponse(op, req, respBody, g.region, account); ok {
			respBody = fixed
		}
	}
	h := w.Header()
	for k, v := range rec.header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", headerCRC32:
			continue
		}
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentTypeJSON10)
	}
	writeBody(w, status, respBody)
}

// backendRequest is the request the backend serves for r: r's method, URL,
// context and headers but the hop headers, with body as its body. It is a
// shallow copy with a header map of its own; the header values are shared
// with r, which the gateway no longer reads, and the backends only read
// them.
func backendRequest(r *http.Request, body []byte) *http.Request {
	out := r.WithContext(r.Context())
	out.Header = make(http.Header, len(r.Header))
	for k, v := range r.Header {
		if !slices.Contains(hopHeaders, http.CanonicalHeaderKey(k)) {
			out.Header[k] = v
		}
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.RequestURI = ""
	return out
}

func tableNameOf(body []byte) (string, error) {
	o, err := parseObject(body, true)
	if err != nil {
		return "", err
	}
	return o.str("TableName")
}
