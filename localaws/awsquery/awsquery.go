// Package awsquery is the AWS Query protocol as the local AWS's STS and IAM
// endpoints speak it: requests are a form-encoded POST body (or, for GET,
// the query string) such as
//
//	Action=GetRolePolicy&Version=2010-05-08&RoleName=r&PolicyName=p
//
// and responses are XML documents in the service's namespace; errors are
// <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>
// with the service's codes and HTTP statuses. Every response carries
// x-amzn-RequestId.
//
// Endpoint is what the two endpoints share around their actions: parsing,
// the action check, SigV4 authentication against the identity store and
// the answer (<Action>Response holding the action's result element and
// ResponseMetadata, built by Call.Respond). An Endpoint is immutable and
// safe for concurrent use; the package's functions hold no state.
package awsquery

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tvmkit/tvm/localaws/identity"
	"github.com/tvmkit/tvm/localaws/sigv4"
)

// Error is a Query-protocol error response.
type Error struct {
	Status  int
	Type    string // Sender or Receiver
	Code    string
	Message string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Senderf returns a Sender error with a formatted message.
func Senderf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Type: "Sender", Code: code, Message: fmt.Sprintf(format, args...)}
}

// InternalFailure is the error for an unexpected failure (its cause is
// logged, never returned).
func InternalFailure() *Error {
	return &Error{Status: http.StatusInternalServerError, Type: "Receiver", Code: "InternalFailure",
		Message: "The request processing has failed because of an unknown error, exception or failure."}
}

// IsRequest reports whether r looks like a Query-protocol request (an Action
// parameter in the query string, or a form-encoded POST).
func IsRequest(r *http.Request) bool {
	if r.URL.Query().Has("Action") {
		return true
	}
	if r.Method != http.MethodPost {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	return ct == "application/x-www-form-urlencoded" && r.Header.Get("X-Amz-Target") == ""
}

// Request is a parsed Query-protocol request.
type Request struct {
	Action string
	Params url.Values
	// Body is the raw body, which SigV4 verification needs.
	Body []byte
}

// Parse reads at most maxBody bytes of r's body and returns the request's
// parameters (query string and form body together), its Action, and checks
// that Version is version.
func Parse(r *http.Request, maxBody int64, version string) (*Request, *Error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, Senderf(http.StatusMethodNotAllowed, "InvalidAction", "Only GET and POST are supported.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, Senderf(http.StatusBadRequest, "MalformedQueryString", "The request body could not be read.")
	}
	if int64(len(body)) > maxBody {
		return nil, Senderf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body exceeds %d bytes.", maxBody)
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, Senderf(http.StatusBadRequest, "MalformedQueryString", "The query string is malformed.")
	}
	if r.Method == http.MethodPost && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, Senderf(http.StatusBadRequest, "MalformedQueryString", "The request body is not a valid form encoding.")
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	action := params.Get("Action")
	if action == "" {
		return nil, Senderf(http.StatusBadRequest, "MissingAction", "Missing Action")
	}
	if v := params.Get("Version"); v != version {
		if v == "" {
			return nil, Senderf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Version.")
		}
		return nil, Senderf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", Clip(action, 64), Clip(v, 32))
	}
	return &Request{Action: action, Params: params, Body: body}, nil
}

// UnknownAction is the error for an Action the service does not serve.
func UnknownAction(action, version string) *Error {
	return Senderf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", Clip(action, 64), version)
}

// errorResponse is the XML error document; its namespace is set per service.
type errorResponse struct {
	XMLName   xml.Name
	Error     errorBody `xml:"Error"`
	RequestID string    `xml:"RequestId"`
}

type errorBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// WriteError writes e as an ErrorResponse in namespace.
func WriteError(w http.ResponseWriter, namespace, reqID string, e *Error) {
	WriteXML(w, e.Status, namespace, reqID, errorResponse{
		XMLName:   xml.Name{Space: namespace, Local: "ErrorResponse"},
		Error:     errorBody{Type: e.Type, Code: e.Code, Message: e.Message},
		RequestID: reqID,
	})
}

// WriteXML writes v, an XML document whose root element carries namespace
// in its XMLName, with the request id header.
func WriteXML(w http.ResponseWriter, status int, namespace, reqID string, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		out = []byte(`<ErrorResponse xmlns="` + namespace + `"><Error><Type>Receiver</Type><Code>InternalFailure</Code></Error></ErrorResponse>`)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)+1))
	w.WriteHeader(status)
	_, _ = w.Write(out)
	_, _ = w.Write([]byte("\n"))
}

// NewRequestID returns a random UUID (version 4), the shape of STS and IAM
// request ids.
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("awsquery: crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ResponseMetadata is the ResponseMetadata element of every response.
type ResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// Clip shortens s to n runes for an error message.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}

// AuthError maps an authentication failure (identity.Store.Authenticate) to
// the error STS and IAM answer: ExpiredToken, InvalidClientTokenId,
// MissingAuthenticationToken, IncompleteSignature, SignatureDoesNotMatch.
func AuthError(err error) *Error {
	var se *sigv4.Error
	switch {
	case errors.Is(err, identity.ErrExpiredToken):
		return Senderf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
	case errors.Is(err, identity.ErrInvalidToken):
		return Senderf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	case errors.As(err, &se):
		switch se.Kind {
		case sigv4.MissingAuth:
			return Senderf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		case sigv4.IncompleteSignature:
			return Senderf(http.StatusBadRequest, "IncompleteSignature", "%s", se.Message)
		case sigv4.UnknownKey:
			return Senderf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		default: // BadScope, Skew, Mismatch
			return Senderf(http.StatusForbidden, "SignatureDoesNotMatch", "%s", se.Message)
		}
	}
	return &Error{Status: http.StatusInternalServerError, Type: "Receiver", Code: "InternalFailure", Message: "Authentication failed unexpectedly."}
}
