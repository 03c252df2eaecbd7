package s3

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strconv"
)

// Error codes the gateway answers itself, as Amazon S3 names them (Amazon S3
// API Reference, "Error responses").
const (
	CodeAccessDenied                  = "AccessDenied"
	CodeAccessControlListNotSupported = "AccessControlListNotSupported"
	CodeAuthorizationHeaderMalformed  = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParameters  = "AuthorizationQueryParametersError"
	CodeBadDigest                     = "BadDigest"
	CodeEntityTooLarge                = "EntityTooLarge"
	CodeExpiredToken                  = "ExpiredToken"
	CodeIncompleteBody                = "IncompleteBody"
	CodeInternalError                 = "InternalError"
	CodeInvalidAccessKeyID            = "InvalidAccessKeyId"
	CodeInvalidArgument               = "InvalidArgument"
	CodeInvalidBucketName             = "InvalidBucketName"
	CodeInvalidDigest                 = "InvalidDigest"
	CodeInvalidRequest                = "InvalidRequest"
	CodeInvalidToken                  = "InvalidToken"
	CodeKeyTooLong                    = "KeyTooLongError"
	CodeMalformedTrailer              = "MalformedTrailerError"
	CodeMalformedXML                  = "MalformedXML"
	CodeMissingContentLength          = "MissingContentLength"
	CodeNoSuchBucket                  = "NoSuchBucket"
	CodeNoSuchKey                     = "NoSuchKey"
	CodeNotImplemented                = "NotImplemented"
	CodeRequestTimeTooSkewed          = "RequestTimeTooSkewed"
	CodeSignatureDoesNotMatch         = "SignatureDoesNotMatch"
	CodeXAmzContentSHA256Mismatch     = "XAmzContentSHA256Mismatch"
)

// Error is an S3 error response: status, code and message, plus the
// resource it concerns when S3 names one.
type Error struct {
	Status   int
	Code     string
	Message  string
	Resource string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// notImplemented is S3's answer to functionality the local S3 does not
// have; what names the missing piece.
func notImplemented(what string) *Error {
	return newError(http.StatusNotImplemented, CodeNotImplemented,
		"A header or query you provided implies functionality that is not implemented: "+what)
}

func invalidArgument(msg string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidArgument, msg)
}

func invalidRequest(msg string) *Error {
	return newError(http.StatusBadRequest, CodeInvalidRequest, msg)
}

func internalError() *Error {
	return newError(http.StatusInternalServerError, CodeInternalError, "We encountered an internal error. Please try again.")
}

// accessDenied is the 403 every denied authorization check produces.
func accessDenied(msg string) *Error { return newError(http.StatusForbidden, CodeAccessDenied, msg) }

// errorBody is S3's XML error document.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// WriteError writes e as S3 does: application/xml with
// <Error><Code/><Message/><RequestId/><HostId/></Error>, the request ids
// also as x-amz-request-id / x-amz-id-2 headers, and no body for HEAD.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	id, host := newRequestIDs()
	b, err := xml.Marshal(errorBody{Code: e.Code, Message: e.Message, Resource: e.Resource, RequestID: id, HostID: host})
	if err != nil { // cannot happen for these string fields
		b = nil
	}
	body := append([]byte(xml.Header), b...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("X-Amz-Request-Id", id)
	h.Set("X-Amz-Id-2", host)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// newRequestIDs returns a request id (16 upper-case hex digits) and a host
// id (base64), shaped like S3's.
func newRequestIDs() (string, string) {
	var b [40]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:8])
	out := make([]byte, len(id))
	for i := range len(id) {
		c := id[i]
		if c >= 'a' && c <= 'f' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return string(out), base64.StdEncoding.EncodeToString(b[8:])
}
