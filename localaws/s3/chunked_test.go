package s3

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tvmkit/tvm/localaws/sigv4"
)

// The worked examples of the Amazon S3 API Reference, "Signature
// Calculations for the Authorization Header: Transferring Payload in
// Multiple Chunks" (and "... Including Trailing Headers"): 66,560 bytes of
// 'a' in a 65,536-byte and a 1,024-byte chunk, signed with the
// documentation's example key at 20130524T000000Z.
const (
	docKeyID  = "AKIAIOSFODNN7EXAMPLE"
	docSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

type docChunk struct {
	size int
	sig  string
}

func docStreamingRequest(mode, seed string, extraHeaders map[string]string, signedHeaders string, chunks []docChunk, trailer string) *http.Request {
	var body bytes.Buffer
	for _, c := range chunks {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", c.size, c.sig)
		body.Write(bytes.Repeat([]byte("a"), c.size))
		if c.size > 0 {
			body.WriteString("\r\n")
		}
	}
	body.WriteString(trailer + "\r\n")
	r := httptest.NewRequest(http.MethodPut, "/examplebucket/chunkObject.txt", bytes.NewReader(body.Bytes()))
	r.Host = "s3.amazonaws.com"
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", mode)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	for k, v := range extraHeaders {
		r.Header.Set(k, v)
	}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+docKeyID+"/20130524/us-east-1/s3/aws4_request,SignedHeaders="+
		signedHeaders+",Signature="+seed)
	return r
}

func docVerify(r *http.Request) ([]byte, error) {
	at, _ := time.Parse(sigv4.TimeFormat, "20130524T000000Z")
	return verifyRecorded(r, at, docKeyID, docSecret)
}

func TestSignedChunksDocumentationExample(t *testing.T) {
	chunks := []docChunk{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	}
	build := func(chunks []docChunk) *http.Request {
		r := docStreamingRequest(sigv4.StreamingSigned, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
			map[string]string{"Content-Length": "66824"},
			"content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class", chunks, "")
		return r
	}
	body, err := docVerify(build(chunks))
	if err != nil {
		t.Fatalf("documentation example rejected: %v", err)
	}
	if !bytes.Equal(body, bytes.Repeat([]byte("a"), 66560)) {
		t.Fatalf("decoded %d bytes", len(body))
	}
	for i := range chunks {
		bad := append([]docChunk(nil), chunks...)
		bad[i].sig = strings.Repeat("0", 64)
		_, err := docVerify(build(bad))
		var se *Error
		if !errors.As(err, &se) || se.Code != CodeSignatureDoesNotMatch {
			t.Errorf("chunk %d with a wrong signature: %v", i, err)
		}
	}
	// Chunks replayed out of order break the chain.
	swapped := []docChunk{chunks[1], chunks[0], chunks[2]}
	if _, err := docVerify(build(swapped)); err == nil {
		t.Error("reordered chunks accepted")
	}
}

func TestSignedTrailerDocumentationExample(t *testing.T) {
	chunks := []docChunk{
		{65536, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"},
		{1024, "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"},
		{0, "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"},
	}
	build := func(trailer string) *http.Request {
		return docStreamingRequest(sigv4.StreamingSignedTrailer, "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
			map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32c"},
			"content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
			chunks, trailer)
	}
	good := "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
	if _, err := docVerify(build(good)); err != nil {
		t.Fatalf("documentation example rejected: %v", err)
	}
	for name, trailer := range map[string]string{
		"wrong trailer signature": strings.Replace(good, "d81f", "d81e", 1),
		"wrong checksum":          strings.Replace(good, "sOO8/Q==", "AAAAAA==", 1),
		"no trailer signature":    "x-amz-checksum-crc32c:sOO8/Q==\r\n",
		"no trailer":              "",
	} {
		if _, err := docVerify(build(trailer)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An aws-chunked body is buffered as its data arrives, not as its headers
// announce: a body that declares the maximum (x-amz-decoded-content-length
// and a chunk header of 64 MiB) but carries a few bytes makes the decoder
// allocate about what it received, so concurrent announcements cannot pin
// 64 MiB each.
func TestDecodeChunkedAllocatesWhatArrives(t *testing.T) {
	body := fmt.Sprintf("%x\r\nonly a few bytes", DefaultMaxObjectBytes)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeChunked(strings.NewReader(body), DefaultMaxObjectBytes, nil, false)
	runtime.ReadMemStats(&after)
	if err == nil || err.Code != CodeIncompleteBody {
		t.Fatalf("truncated body: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("decoding %d bytes allocated %d bytes", len(body), got)
	}
}
