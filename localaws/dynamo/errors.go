package dynamo

import (
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/tvmkit/tvm/localaws/awsquery"
)

// Error codes the gateway itself produces. Authenticators use the same
// constructor, APIError, with their own codes (InvalidSignatureException,
// UnrecognizedClientException, ExpiredTokenException, ...).
const (
	CodeAccessDenied       = "AccessDeniedException"
	CodeUnknownOperation   = "UnknownOperationException"
	CodeSerialization      = "SerializationException"
	CodeValidation         = "ValidationException"
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeInternalServer     = "InternalServerError"
	CodeRequestTooLarge    = "RequestEntityTooLarge"
	contentTypeJSON10      = "application/x-amz-json-1.0"
	headerRequestID        = "X-Amzn-Requestid"
	headerCRC32            = "X-Amz-Crc32"
	requestIDAlphabet      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	requestIDLength        = 52
	namespaceService       = "com.amazon.coral.service#"
	namespaceValidation    = "com.amazon.coral.validate#"
	namespaceDynamoDBModel = "com.amazonaws.dynamodb.v20120810#"
)

// APIError is an error in DynamoDB's JSON error shape. Status is the HTTP
// status; Code the unqualified error type (for example
// "AccessDeniedException"); Message the human-readable message, which is
// returned to the client verbatim and so must never carry secrets.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error returns "Code: Message".
func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// errorType qualifies a code with the namespace DynamoDB uses for it on the
// wire. SDKs keep only the part after '#', so the namespace is cosmetic, but
// it is what DynamoDB sends: validation errors come from coral.validate,
// modelled DynamoDB errors from the service model, everything else
// (authentication, authorization, protocol) from coral.service.
func errorType(code string) string {
	switch code {
	case CodeValidation:
		return namespaceValidation + code
	case CodeResourceNotFound, "ConditionalCheckFailedException", "ResourceInUseException",
		"ProvisionedThroughputExceededException", "TransactionCanceledException":
		return namespaceDynamoDBModel + code
	default:
		return namespaceService + code
	}
}

// Bounds of what an error echoes: a value quoted in a message is cut to
// maxEchoedValue characters (as STS and IAM do, awsquery.Clip), and a whole
// message to maxMessage, in the answer and in the log, so that a request
// carrying a megabyte value is never echoed back, nor logged, in full.
const (
	maxEchoedValue = 128
	maxMessage     = 1024
)

// text returns e's message cut to maxMessage characters.
func (e *APIError) text() string { return awsquery.Clip(e.Message, maxMessage) }

// errorBody and accessDeniedBody are DynamoDB's two spellings of an error
// body: the message member is "Message" in AccessDeniedException and
// "message" in every other error DynamoDB answers (seen in real answers:
// AccessDeniedException with "Message", ExpiredTokenException and
// UnrecognizedClientException with "message"; aristidb/aws#149,
// baopham/laravel-dynamodb#32 and #228, guregu/dynamo#68). The SDKs read
// either; scripts and other tools may not.
type (
	errorBody struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	accessDeniedBody struct {
		Type    string `json:"__type"`
		Message string `json:"Message"`
	}
)

// WriteError renders e as DynamoDB does: the HTTP status, Content-Type
// application/x-amz-json-1.0, a body {"__type":"<namespace>#<Code>","message":"..."}
// ("Message" for AccessDeniedException, see errorBody) with the message cut
// to maxMessage characters, a fresh x-amzn-RequestId and the x-amz-crc32
// checksum of the body.
func WriteError(w http.ResponseWriter, e *APIError) {
	var v any = errorBody{errorType(e.Code), e.text()}
	if e.Code == CodeAccessDenied {
		v = accessDeniedBody{errorType(e.Code), e.text()}
	}
	body, err := json.Marshal(v)
	if err != nil { // cannot happen for two strings; fail closed anyway
		body = []byte(`{"__type":"` + namespaceService + CodeInternalServer + `"}`)
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, body)
}

// writeJSON writes a complete DynamoDB JSON response with the headers every
// DynamoDB response carries.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentTypeJSON10)
	writeBody(w, status, body)
}

// writeBody writes status and body with the framing headers every
// DynamoDB response carries: a request id (unless one is set),
// x-amz-crc32 and Content-Length.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	if h.Get(headerRequestID) == "" {
		h.Set(headerRequestID, newRequestID())
	}
	h.Set(headerCRC32, crc32Header(body))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// crc32Header is the value of x-amz-crc32: the IEEE CRC-32 of the body as
// an unsigned decimal number, which the AWS SDKs verify.
func crc32Header(body []byte) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10)
}

// newRequestID returns a 52-character request id in DynamoDB's alphabet.
// An id identifies a request in logs and need not be unpredictable:
// math/rand/v2's generator (ChaCha8, seeded by the runtime) makes one
// without a system call, twelve characters per 64 random bits.
func newRequestID() string {
	var b [requestIDLength]byte
	var r uint64
	for i := range b {
		if i%12 == 0 { // 36^12 < 2^64
			r = rand.Uint64()
		}
		b[i] = requestIDAlphabet[r%uint64(len(requestIDAlphabet))]
		r /= uint64(len(requestIDAlphabet))
	}
	return string(b[:])
}

func errValidation(msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeValidation, Message: msg}
}

func errSerialization(msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeSerialization, Message: msg}
}

func errUnknownOperation() *APIError {
	// DynamoDB answers an unknown X-Amz-Target with no message at all.
	return &APIError{Status: http.StatusBadRequest, Code: CodeUnknownOperation}
}

func errInternal() *APIError {
	return &APIError{Status: http.StatusInternalServerError, Code: CodeInternalServer, Message: "Internal server error"}
}
