package s3

import (
	"crypto/md5" //nolint:gosec // Content-MD5 is MD5 by definition
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tvmkit/tvm/localaws/sigv4"
)

// readBody reads r's body and verifies it against what was signed, in
// every x-amz-content-sha256 mode: a hex SHA-256 must match the body;
// UNSIGNED-PAYLOAD is taken as is; the STREAMING-* modes are aws-chunked
// bodies, decoded here (chunk signatures and the trailer signature
// verified for the signed modes). Then the flexible checksum — an
// x-amz-checksum-<alg> header or the trailer x-amz-trailer announced — and
// Content-MD5, when sent, must match the decoded body. It returns the plain
// body, at most max bytes.
func readBody(r *http.Request, sig *sigv4.S3Result, max int64) ([]byte, *Error) {
	want, err := headerChecksum(r.Header)
	if err != nil {
		return nil, err
	}
	trailerName := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
	streaming := strings.HasPrefix(sig.Payload, "STREAMING-")
	withTrailer := sig.Payload == sigv4.StreamingUnsignedTrailer || sig.Payload == sigv4.StreamingSignedTrailer
	switch {
	case trailerName != "" && !withTrailer:
		return nil, invalidRequest("x-amz-trailer is only allowed with a STREAMING-*-TRAILER x-amz-content-sha256.")
	case trailerName != "" && want != nil:
		return nil, invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	case !streaming && hasChunkedEncoding(r.Header):
		return nil, invalidRequest("Content-Encoding aws-chunked needs a STREAMING-* x-amz-content-sha256.")
	}
	var body []byte
	if streaming {
		decoded, err := readChunked(r, sig, max, trailerName)
		if err != nil {
			return nil, err
		}
		body = decoded.data
		if trailerName != "" {
			if want, err = trailerChecksum(decoded.trailers, trailerName); err != nil {
				return nil, err
			}
		}
	} else {
		if body, err = readPlain(r.Body, max); err != nil {
			return nil, err
		}
		if sig.Payload != sigv4.UnsignedPayload {
			sum := sha256.Sum256(body)
			if hex.EncodeToString(sum[:]) != sig.Payload {
				return nil, newError(http.StatusBadRequest, CodeXAmzContentSHA256Mismatch,
					"The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
		}
	}
	if want != nil {
		if err := want.verify(body); err != nil {
			return nil, err
		}
	}
	return body, checkContentMD5(r.Header, body)
}

func readPlain(body io.Reader, max int64) ([]byte, *Error) {
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, entityTooLarge(max)
	case err != nil:
		return nil, incompleteBody()
	case int64(len(b)) > max:
		return nil, entityTooLarge(max)
	}
	return b, nil
}

func entityTooLarge(max int64) *Error {
	return newError(http.StatusBadRequest, CodeEntityTooLarge,
		"Your proposed upload exceeds the maximum allowed size ("+strconv.FormatInt(max, 10)+" bytes on tvm-local).")
}

// readChunked decodes an aws-chunked body, whose decoded size the client
// must announce in x-amz-decoded-content-length.
func readChunked(r *http.Request, sig *sigv4.S3Result, max int64, trailerName string) (*chunkedBody, *Error) {
	decodedLen, perr := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	switch {
	case perr != nil || decodedLen < 0:
		return nil, newError(http.StatusLengthRequired, CodeMissingContentLength,
			"You must provide the Content-Length HTTP header (x-amz-decoded-content-length for an aws-chunked body).")
	case decodedLen > max:
		return nil, entityTooLarge(max)
	}
	withTrailer := sig.Payload == sigv4.StreamingUnsignedTrailer || sig.Payload == sigv4.StreamingSignedTrailer
	if withTrailer && trailerName == "" {
		return nil, invalidRequest("A STREAMING-*-TRAILER payload needs an x-amz-trailer header.")
	}
	var chain *sigv4.ChunkChain
	if sig.Payload == sigv4.StreamingSigned || sig.Payload == sigv4.StreamingSignedTrailer {
		chain = sig.Chain()
	}
	decoded, err := decodeChunked(r.Body, decodedLen, chain, sig.Payload == sigv4.StreamingSignedTrailer)
	if err != nil {
		return nil, err
	}
	if !withTrailer && len(decoded.trailers) > 0 {
		return nil, malformedTrailer()
	}
	return decoded, nil
}

// trailerChecksum returns the checksum trailer announced by x-amz-trailer;
// it must be the only trailer.
func trailerChecksum(trailers []trailer, name string) (*expectedChecksum, *Error) {
	alg, ok := checksumByName(name)
	if !ok {
		return nil, invalidRequest("The value specified in the x-amz-trailer header is not supported")
	}
	if len(trailers) != 1 || trailers[0].name != name {
		return nil, malformedTrailer()
	}
	return &expectedChecksum{alg: alg, value: trailers[0].value}, nil
}

// checkContentMD5 verifies Content-MD5 when sent (it is never required).
func checkContentMD5(h http.Header, body []byte) *Error {
	vs := h.Values("Content-Md5")
	if len(vs) == 0 {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(vs[0])
	if len(vs) != 1 || err != nil || len(raw) != md5.Size {
		return newError(http.StatusBadRequest, CodeInvalidDigest, "The Content-MD5 you specified is not valid.")
	}
	sum := md5.Sum(body) //nolint:gosec // protocol
	if string(sum[:]) != string(raw) {
		return newError(http.StatusBadRequest, CodeBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	return nil
}

// integrityChecked reports whether the request carries a check of its
// body that readBody verifies: Content-MD5, an x-amz-checksum-<alg> header
// or a checksum trailer announced by x-amz-trailer.
func integrityChecked(h http.Header) bool {
	if len(h.Values("Content-Md5")) > 0 {
		return true
	}
	_, trailer := checksumByName(strings.TrimSpace(h.Get("X-Amz-Trailer")))
	return trailer || hasChecksumHeader(h)
}

// hasChunkedEncoding reports whether Content-Encoding lists aws-chunked.
func hasChunkedEncoding(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// withoutChunkedEncoding returns Content-Encoding without aws-chunked ("" if
// nothing else is left): the stored object keeps only its real encoding.
func withoutChunkedEncoding(h http.Header) string {
	var keep []string
	for _, v := range h.Values("Content-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "aws-chunked") {
				keep = append(keep, p)
			}
		}
	}
	return strings.Join(keep, ",")
}
