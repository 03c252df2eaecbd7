package s3

import (
	"crypto/sha1" //nolint:gosec // S3's x-amz-checksum-sha1 is SHA-1 by definition
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
)

// checksumAlg is one of S3's flexible checksum algorithms; its value is the
// base64 of the big-endian digest, in x-amz-checksum-<name> (header or
// trailer).
type checksumAlg struct {
	name    string // lowercase, as in the header name
	display string // as S3 names it in messages
	size    int    // digest bytes
	newHash func() hash.Hash
}

// crc64NVME is CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init
// and xorout all ones (what hash/crc64 does).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var checksumAlgs = []checksumAlg{
	{"crc32", "CRC32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"crc32c", "CRC32C", 4, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"crc64nvme", "CRC64NVME", 8, func() hash.Hash { return crc64.New(crc64NVME) }},
	{"sha1", "SHA1", 20, sha1.New},
	{"sha256", "SHA256", 32, sha256.New},
}

const checksumHeaderPrefix = "x-amz-checksum-"

// checksumByName returns the algorithm of a header or trailer name
// (x-amz-checksum-<alg>, any case).
func checksumByName(name string) (*checksumAlg, bool) {
	lower := strings.ToLower(name)
	if !strings.HasPrefix(lower, checksumHeaderPrefix) {
		return nil, false
	}
	for i := range checksumAlgs {
		if checksumAlgs[i].name == lower[len(checksumHeaderPrefix):] {
			return &checksumAlgs[i], true
		}
	}
	return nil, false
}

// hasChecksumHeader reports whether h carries an x-amz-checksum-<alg>
// header.
func hasChecksumHeader(h http.Header) bool {
	for name := range h {
		if _, ok := checksumByName(name); ok {
			return true
		}
	}
	return false
}

// expectedChecksum is a checksum the client sent, as header or trailer.
type expectedChecksum struct {
	alg   *checksumAlg
	value string
}

// headerChecksum returns the x-amz-checksum-<alg> header of r, if any. More
// than one is refused, as S3 does.
func headerChecksum(h http.Header) (*expectedChecksum, *Error) {
	var found *expectedChecksum
	for name, vs := range h {
		alg, ok := checksumByName(name)
		if !ok {
			continue
		}
		if found != nil || len(vs) != 1 {
			return nil, invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		found = &expectedChecksum{alg: alg, value: vs[0]}
	}
	return found, nil
}

// verify checks body against the expected value: InvalidRequest when the
// value is not a base64 digest of the right size, BadDigest on a mismatch.
func (c *expectedChecksum) verify(body []byte) *Error {
	raw, err := base64.StdEncoding.DecodeString(c.value)
	if err != nil || len(raw) != c.alg.size {
		return invalidRequest("Value for x-amz-checksum-" + c.alg.name + " header is invalid.")
	}
	h := c.alg.newHash()
	h.Write(body)
	if string(h.Sum(nil)) != string(raw) {
		return newError(http.StatusBadRequest, CodeBadDigest, "The "+c.alg.display+" you specified did not match the calculated checksum.")
	}
	return nil
}
