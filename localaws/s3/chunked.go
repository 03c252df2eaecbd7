package s3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tvmkit/tvm/localaws/sigv4"
)

// aws-chunked framing (Amazon S3 API Reference, "Signature Calculations for
// the Authorization Header: Transferring Payload in Multiple Chunks" and
// "... Including Trailing Headers"):
//
//	<hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n   (repeated)
//	0[;chunk-signature=<64 hex>]\r\n
//	[<trailer name>:<value>\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]]
//	\r\n

// maxChunkLine bounds a chunk-size or trailer line; maxTrailers bounds the
// number of trailer lines.
const (
	maxChunkLine = 4096
	maxTrailers  = 16
)

// chunkedBody is a decoded aws-chunked body.
type chunkedBody struct {
	data     []byte
	trailers []trailer
}

type trailer struct{ name, value string }

// decodeChunked decodes an aws-chunked body of exactly decodedLen bytes.
// With a chain, every chunk signature and (when signedTrailer) the trailer
// signature are verified; without one, a chunk-signature extension is an
// error. It reads at most what the framing announces, and buffers the data
// as it arrives (never what a header announces).
func decodeChunked(body io.Reader, decodedLen int64, chain *sigv4.ChunkChain, signedTrailer bool) (*chunkedBody, *Error) {
	br := bufio.NewReaderSize(body, 64<<10)
	var data bytes.Buffer
	for {
		size, sig, err := readChunkHeader(br, chain != nil)
		if err != nil {
			return nil, err
		}
		if int64(data.Len())+size > decodedLen {
			return nil, newError(http.StatusBadRequest, CodeIncompleteBody,
				"The aws-chunked body holds more data than x-amz-decoded-content-length announces.")
		}
		start := data.Len()
		if n, _ := io.CopyN(&data, br, size); n != size {
			return nil, incompleteBody()
		}
		if chain != nil && !chain.VerifyChunk(data.Bytes()[start:], sig) {
			return nil, chunkSignatureMismatch()
		}
		if size == 0 {
			break
		}
		if err := expectCRLF(br); err != nil {
			return nil, err
		}
	}
	if int64(data.Len()) != decodedLen {
		return nil, incompleteBody()
	}
	out := &chunkedBody{data: data.Bytes()}
	if err := readTrailers(br, out, chain, signedTrailer); err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, invalidRequest("Unexpected data after the end of the aws-chunked body.")
	}
	return out, nil
}

func incompleteBody() *Error {
	return newError(http.StatusBadRequest, CodeIncompleteBody,
		"You did not provide the number of bytes specified by the Content-Length HTTP header.")
}

func chunkSignatureMismatch() *Error {
	return newError(http.StatusForbidden, CodeSignatureDoesNotMatch,
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

func malformedTrailer() *Error {
	return newError(http.StatusBadRequest, CodeMalformedTrailer,
		"The request contained trailing data that was not well-formed or did not conform to our published schema.")
}

// readChunkHeader reads "<hex size>[;chunk-signature=<sig>]\r\n".
func readChunkHeader(br *bufio.Reader, signed bool) (int64, string, *Error) {
	line, err := readLine(br)
	if err != nil {
		return 0, "", err
	}
	sizeText, ext, hasExt := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(sizeText, 16, 64)
	if perr != nil || size < 0 || len(sizeText) > 16 {
		return 0, "", invalidArgument("Invalid aws-chunked chunk size: '" + truncate(sizeText, 32) + "'")
	}
	sig, hasSig := strings.CutPrefix(ext, "chunk-signature=")
	switch {
	case signed && (!hasExt || !hasSig):
		return 0, "", newError(http.StatusBadRequest, CodeIncompleteBody, "A chunk of a signed aws-chunked body has no chunk-signature.")
	case !signed && hasExt:
		return 0, "", invalidArgument("Chunk extensions (such as chunk-signature) are not allowed in an unsigned aws-chunked body.")
	}
	return size, sig, nil
}

// readTrailers reads the trailer lines up to the empty line that ends the
// body, verifying x-amz-trailer-signature when signedTrailer.
func readTrailers(br *bufio.Reader, out *chunkedBody, chain *sigv4.ChunkChain, signedTrailer bool) *Error {
	var canonical bytes.Buffer
	var trailerSig string
	for {
		line, err := readLine(br)
		if err != nil {
			return malformedTrailer()
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || trailerSig != "" || len(out.trailers) >= maxTrailers {
			return malformedTrailer()
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		out.trailers = append(out.trailers, trailer{name: name, value: value})
		canonical.WriteString(name + ":" + value + "\n")
	}
	switch {
	case signedTrailer && trailerSig == "":
		return malformedTrailer()
	case !signedTrailer && trailerSig != "":
		return malformedTrailer()
	case signedTrailer && !chain.VerifyTrailer(canonical.Bytes(), trailerSig):
		return chunkSignatureMismatch()
	}
	return nil
}

// readLine reads one CRLF-terminated line (without the CRLF).
func readLine(br *bufio.Reader) (string, *Error) {
	var b []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", incompleteBody()
		}
		b = append(b, part...)
		if len(b) > maxChunkLine {
			return "", invalidArgument("An aws-chunked framing line is too long.")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

func expectCRLF(br *bufio.Reader) *Error {
	var crlf [2]byte
	if _, err := io.ReadFull(br, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return incompleteBody()
	}
	return nil
}
