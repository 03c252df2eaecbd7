package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Values of X-Amz-Content-Sha256 other than a hex SHA-256 of the body
// (Amazon S3 API Reference, "Authenticating Requests: Using the Authorization
// Header"). The payload line of an S3 canonical request is this header's
// value as sent.
const (
	// UnsignedPayload: the body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingSigned: aws-chunked body, every chunk signed in a chain seeded
	// by the request's signature.
	StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingSignedTrailer: signed chunks, then trailing headers signed
	// with x-amz-trailer-signature.
	StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedTrailer: aws-chunked body without chunk signatures,
	// then trailing headers (a checksum) without a signature.
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// sigV4aPrefix starts the SigV4a (ECDSA) algorithm name and its streaming
// payload values; this verifier refuses them.
const sigV4aPrefix = "AWS4-ECDSA-P256-SHA256"

// MaxPresignExpires is the longest X-Amz-Expires S3 accepts (seven days).
const MaxPresignExpires = 7 * 24 * time.Hour

// Failure kinds only VerifyS3 reports.
const (
	// BadPayload: X-Amz-Content-Sha256 is missing or not a valid value.
	BadPayload Kind = iota + 100
	// Expired: a presigned URL is past X-Amz-Date + X-Amz-Expires.
	Expired
	// Unsupported: the request uses SigV4a or another scheme this verifier
	// does not implement.
	Unsupported
	// BadPresign: the query parameters of a presigned URL are malformed.
	BadPresign
)

// S3Result describes a request VerifyS3 accepted.
type S3Result struct {
	Result
	// Payload is the payload line that was signed: the X-Amz-Content-Sha256
	// value (lowercase hex or one of the constants above), or
	// UnsignedPayload for a presigned URL without that header. The caller
	// must verify the body against it.
	Payload string
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// Expires is when a presigned URL stops working (zero otherwise).
	Expires time.Time

	chain ChunkChain
}

// Chain returns the chunk-signature chain of a streaming signed upload,
// seeded with the request's own signature. Each call returns a fresh chain.
func (r *S3Result) Chain() *ChunkChain {
	c := r.chain
	return &c
}

// ChunkChain verifies the chained chunk signatures of an aws-chunked body
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). It is not safe for
// concurrent use.
type ChunkChain struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// VerifyChunk checks the signature of the next chunk (data may be empty for
// the final chunk) and advances the chain. It compares in constant time.
func (c *ChunkChain) VerifyChunk(data []byte, signature string) bool {
	sum := sha256.Sum256(data)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
	return c.check(sts, signature)
}

// VerifyTrailer checks x-amz-trailer-signature over the canonical trailing
// headers ("name:value\n" for each, as sent, lowercase names).
func (c *ChunkChain) VerifyTrailer(canonical []byte, signature string) bool {
	sum := sha256.Sum256(canonical)
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + hex.EncodeToString(sum[:])
	return c.check(sts, signature)
}

func (c *ChunkChain) check(stringToSign, signature string) bool {
	want := hmacSHA256(c.key, stringToSign)
	got, err := hex.DecodeString(signature)
	if err != nil || !hmac.Equal(want, got) {
		return false
	}
	c.prev = signature
	return true
}

// presignParams are the query parameters of a presigned URL, each of which
// may appear at most once.
var presignParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}

// PresignedQuery reports whether a request with query q authenticates
// with query parameters (a presigned URL): it carries X-Amz-Algorithm,
// X-Amz-Credential or X-Amz-Signature.
func PresignedQuery(q url.Values) bool {
	return q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
}

// VerifyS3 verifies r the way Amazon S3 does. Authentication is the
// Authorization header or, for presigned URLs, the X-Amz-* query parameters
// (never both). Differences from Verify: the canonical URI is the path
// exactly as sent (RequestURI), with no second encoding and no
// normalization; the payload line is the X-Amz-Content-Sha256 value, which
// header-signed requests must carry; presigned URLs are checked against
// X-Amz-Expires (at most MaxPresignExpires) instead of the skew window in
// the past. The body is not read: the caller verifies it against
// Result.Payload (and the chunk chain). SigV4a is refused as Unsupported.
func (v *Verifier) VerifyS3(r *http.Request, secret SecretFunc) (*S3Result, error) {
	for _, h := range singleValued {
		if len(r.Header.Values(h)) > 1 {
			return nil, newErr(IncompleteSignature, "The request must not carry more than one '%s' header.", h)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		q = parseLenient(r.URL.RawQuery)
	}
	presigned := PresignedQuery(q)
	authHeader := r.Header.Get("Authorization")
	var (
		auth    *Authorization
		amzDate string
		res     S3Result
	)
	if q.Has("AWSAccessKeyId") || strings.HasPrefix(authHeader, "AWS ") {
		return nil, newErr(Unsupported, "tvm-local does not implement Signature Version 2: sign with SigV4 "+
			"(AWS CLI v1 presigned URLs: aws configure set default.s3.signature_version s3v4)")
	}
	switch {
	case presigned && authHeader != "":
		return nil, newErr(IncompleteSignature, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "+
			"Signature query string parameter or the Authorization header should be specified")
	case presigned:
		auth, amzDate, err = v.parsePresigned(q, &res)
	default:
		if strings.HasPrefix(strings.TrimSpace(authHeader), sigV4aPrefix) {
			return nil, newErr(Unsupported, "tvm-local does not implement SigV4a (%s); sign with AWS4-HMAC-SHA256", sigV4aPrefix)
		}
		auth, err = ParseAuthorization(authHeader)
		if err == nil {
			amzDate, err = headerDate(r)
		}
		res.SessionToken = r.Header.Get("X-Amz-Security-Token")
	}
	if err != nil {
		return nil, err
	}
	t, _ := time.Parse(TimeFormat, amzDate) // validated by the parsers
	if err := v.checkS3Request(r, auth, t, amzDate, &res); err != nil {
		return nil, err
	}
	key, ok := secret(auth.AccessKeyID)
	if !ok {
		return nil, newErr(UnknownKey, "The AWS Access Key Id you provided does not exist in our records.")
	}
	sk := signingKey(key, auth.Date, auth.Region, auth.Service)
	canonical := canonicalRequest(r, auth.SignedHeaders, s3CanonicalURI(r), r.URL.RawQuery, res.Payload)
	want := hmacSHA256(sk, StringToSign(amzDate, auth.Scope(), canonical))
	got, err := hex.DecodeString(auth.Signature)
	if err != nil || !hmac.Equal(want, got) {
		return nil, newErr(Mismatch, "The request signature we calculated does not match the signature you provided. "+
			"Check your key and signing method.")
	}
	res.AccessKeyID, res.Region, res.SigningTime, res.SignedHeaders = auth.AccessKeyID, auth.Region, t, auth.SignedHeaders
	res.chain = ChunkChain{key: sk, amzDate: amzDate, scope: auth.Scope(), prev: strings.ToLower(auth.Signature)}
	return &res, nil
}

// checkS3Request runs the checks that need no secret: signed-header
// coverage, scope, time window (skew, or presign expiry) and the payload
// value, which it stores in res.Payload.
func (v *Verifier) checkS3Request(r *http.Request, auth *Authorization, t time.Time, amzDate string, res *S3Result) error {
	if !containsString(auth.SignedHeaders, "host") {
		return newErr(IncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if unsigned := unsignedAmzHeaders(r, auth.SignedHeaders); len(unsigned) > 0 {
		return newErr(IncompleteSignature, "There were headers present in the request which were not signed: %s.",
			truncate(strings.Join(unsigned, ", "), 256))
	}
	if err := v.checkScope(auth, t, amzDate); err != nil {
		return err
	}
	if res.Presigned {
		now := v.now().UTC()
		if t.After(now.Add(v.maxSkew)) {
			return newErr(Skew, "Request is not valid yet: X-Amz-Date %s is later than %s.", amzDate, now.Add(v.maxSkew).Format(TimeFormat))
		}
		if !now.Before(res.Expires) {
			return newErr(Expired, "Request has expired")
		}
	} else if err := v.checkSkew(t, amzDate); err != nil {
		return err
	}
	payload, err := payloadValue(r, res.Presigned)
	if err != nil {
		return err
	}
	res.Payload = payload
	return nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// payloadValue returns the payload line of an S3 request: the
// X-Amz-Content-Sha256 header, which header-signed requests must send and
// presigned URLs may omit (then UNSIGNED-PAYLOAD).
func payloadValue(r *http.Request, presigned bool) (string, error) {
	v := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case v == "" && presigned:
		return UnsignedPayload, nil
	case v == "":
		return "", newErr(BadPayload, "Missing required header for this request: x-amz-content-sha256")
	case hexSHA256.MatchString(v), v == UnsignedPayload, v == StreamingSigned, v == StreamingSignedTrailer, v == StreamingUnsignedTrailer:
		if presigned && strings.HasPrefix(v, "STREAMING-") {
			return "", newErr(BadPayload, "A presigned URL cannot carry a streaming (aws-chunked) payload.")
		}
		return v, nil
	case strings.HasPrefix(v, "STREAMING-"+sigV4aPrefix):
		return "", newErr(Unsupported, "tvm-local does not implement SigV4a streaming payloads (%s)", truncate(v, 64))
	}
	return "", newErr(BadPayload, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "+
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")
}

// headerDate returns X-Amz-Date of a header-signed request, validated.
func headerDate(r *http.Request) (string, error) {
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return "", newErr(IncompleteSignature,
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if _, err := time.Parse(TimeFormat, amzDate); err != nil {
		return "", newErr(IncompleteSignature, "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z'.")
	}
	return amzDate, nil
}

// parsePresigned parses the X-Amz-* query parameters of a presigned URL,
// setting res.Presigned, res.Expires and res.SessionToken.
func (v *Verifier) parsePresigned(q url.Values, res *S3Result) (*Authorization, string, error) {
	for _, p := range presignParams {
		if len(q[p]) > 1 {
			return nil, "", newErr(BadPresign, "The query parameter '%s' must appear only once.", p)
		}
	}
	switch alg := q.Get("X-Amz-Algorithm"); {
	case alg == sigV4aPrefix:
		return nil, "", newErr(Unsupported, "tvm-local does not implement SigV4a (%s); sign with AWS4-HMAC-SHA256", sigV4aPrefix)
	case alg != Algorithm:
		return nil, "", newErr(BadPresign, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	for _, p := range presignParams[1:6] {
		if q.Get(p) == "" {
			return nil, "", newErr(BadPresign, "Query-string authentication version 4 requires the X-Amz-Algorithm, "+
				"X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	amzDate := q.Get("X-Amz-Date")
	t, err := time.Parse(TimeFormat, amzDate)
	if err != nil {
		return nil, "", newErr(BadPresign, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	switch {
	case err != nil:
		return nil, "", newErr(BadPresign, "X-Amz-Expires should be a number")
	case secs < 0:
		return nil, "", newErr(BadPresign, "X-Amz-Expires must be non-negative")
	case secs > int64(MaxPresignExpires/time.Second): // compared in seconds: secs*time.Second may overflow
		return nil, "", newErr(BadPresign, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	header := "AWS4-HMAC-SHA256 Credential=" + q.Get("X-Amz-Credential") + ", SignedHeaders=" + q.Get("X-Amz-SignedHeaders") +
		", Signature=" + q.Get("X-Amz-Signature")
	auth, err := ParseAuthorization(header)
	if err != nil {
		if se := (*Error)(nil); errors.As(err, &se) {
			se.Kind = BadPresign
		}
		return nil, "", err
	}
	res.Presigned = true
	res.Expires = t.Add(time.Duration(secs) * time.Second)
	res.SessionToken = q.Get("X-Amz-Security-Token")
	return auth, amzDate, nil
}

// s3CanonicalURI is the path exactly as the client sent it: the path part
// of the request target (RequestURI) for server requests, else the URL's
// escaped path. S3 neither encodes it again nor normalizes it.
func s3CanonicalURI(r *http.Request) string {
	path := ""
	if ru := r.RequestURI; ru != "" {
		if i := strings.IndexByte(ru, '?'); i >= 0 {
			ru = ru[:i]
		}
		if strings.HasPrefix(ru, "/") {
			path = ru
		} else if u, err := url.Parse(ru); err == nil {
			path = u.EscapedPath()
		}
	} else {
		path = r.URL.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	return path
}
