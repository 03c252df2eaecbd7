package awsquery

import (
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/sigv4"
)

// Options are what a caller gives an STS or IAM endpoint.
type Options struct {
	Store *identity.Store
	// Region is the region the credential scope must name ("" = any),
	// unless the service signs for a fixed region (IAM: us-east-1).
	Region string
	// Logger receives the authentication failures, internal errors and
	// the service's decisions; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; zero means the service's
	// default.
	MaxBodyBytes int64
}

// Service describes the Query-protocol service an Endpoint serves.
type Service struct {
	// Name is the SigV4 service name and the prefix of the actions in logs
	// ("sts", "iam").
	Name string
	// SigningRegion, when set, is the only region requests may be signed
	// for, whatever Options.Region says.
	SigningRegion string
	// Namespace is the XML namespace of the responses; Version the only
	// API version accepted.
	Namespace, Version  string
	DefaultMaxBodyBytes int64
	// Actions are the actions served, by name.
	Actions map[string]Action
}

// Action answers one authenticated call: a response document (see
// Call.Respond) or an error. An error that is not an *Error is logged and
// answered InternalFailure.
type Action func(c *Call) (any, error)

// Call is one authenticated request.
type Call struct {
	// Store is the endpoint's identity store.
	Store  *identity.Store
	Caller identity.Principal
	// KeyID is the access key id the request was signed with.
	KeyID   string
	Request *Request
	// RequestID is the answer's request id.
	RequestID string
	// Log carries request_id, principal and access_key.
	Log       *slog.Logger
	namespace string
}

// Endpoint is what the local STS and IAM endpoints share: parsing a
// request, the action check, SigV4 authentication against the identity
// store and writing the answer. It is safe for concurrent use.
type Endpoint struct {
	svc      Service
	store    *identity.Store
	verifier *sigv4.Verifier
	log      *slog.Logger
	maxBody  int64
}

// NewEndpoint returns the endpoint of svc with opts.
func NewEndpoint(svc Service, opts Options) (*Endpoint, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("%s: Store is required", svc.Name)
	}
	region := opts.Region
	if svc.SigningRegion != "" {
		region = svc.SigningRegion
	}
	v, err := sigv4.NewVerifier(sigv4.Options{Service: svc.Name, Region: region, Clock: opts.Store.Now})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Name, err)
	}
	e := &Endpoint{svc: svc, store: opts.Store, verifier: v, log: opts.Logger, maxBody: opts.MaxBodyBytes}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.maxBody <= 0 {
		e.maxBody = svc.DefaultMaxBodyBytes
	}
	return e, nil
}

// ServeHTTP answers one request.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := NewRequestID()
	resp, err := e.serve(r, reqID)
	if err != nil {
		var qe *Error
		if !errors.As(err, &qe) {
			e.log.Error(e.svc.Name+" internal error", "request_id", reqID, "error", err.Error())
			qe = InternalFailure()
		}
		WriteError(w, e.svc.Namespace, reqID, qe)
		return
	}
	WriteXML(w, http.StatusOK, e.svc.Namespace, reqID, resp)
}

func (e *Endpoint) serve(r *http.Request, reqID string) (any, error) {
	q, qe := Parse(r, e.maxBody, e.svc.Version)
	if qe != nil {
		return nil, qe
	}
	action, ok := e.svc.Actions[q.Action]
	if !ok {
		return nil, UnknownAction(q.Action, e.svc.Version)
	}
	caller, keyID, err := e.store.Authenticate(e.verifier, r, q.Body)
	if err != nil {
		ae := AuthError(err)
		e.log.Info(e.svc.Name+" authentication failed", "request_id", reqID, "action", e.svc.Name+":"+q.Action,
			"access_key", identity.KeyHint(keyID), "code", ae.Code)
		return nil, ae
	}
	log := e.log.With("request_id", reqID, "principal", caller.ARN(), "access_key", identity.KeyHint(keyID))
	return action(&Call{Store: e.store, Caller: caller, KeyID: keyID, Request: q, RequestID: reqID, Log: log, namespace: e.svc.Namespace})
}

// Response is the document of a successful answer:
// <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>.
type Response struct {
	XMLName xml.Name
	// Result is the result element, a struct whose XMLName names it; nil
	// for an answer without one.
	Result any
	Meta   ResponseMetadata `xml:"ResponseMetadata"`
}

// Respond returns the call's answer, an <Action>Response in the
// endpoint's namespace holding result (nil for none).
func (c *Call) Respond(result any) *Response {
	return &Response{XMLName: xml.Name{Space: c.namespace, Local: c.Request.Action + "Response"}, Result: result,
		Meta: ResponseMetadata{RequestID: c.RequestID}}
}
