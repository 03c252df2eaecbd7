package s3

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzClassify: any request either is refused or maps to an allow-listed
// operation whose checks all name the request's bucket (or "*" for
// ListBuckets), so nothing reaches the backend unauthorized.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"/bkt/k?tagging", "/bkt?list-type=2&prefix=", "/bkt/k?uploadId=u&partNumber=1", "/bkt/a/../b", "/", "/bkt?delete"} {
		f.Add("PUT", s, "x-amz-copy-source", "bkt/src")
		f.Add("GET", s, "x-amz-acl", "private")
	}
	f.Fuzz(func(t *testing.T, method, target, header, value string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r := &http.Request{Method: method, URL: u, RequestURI: target, Host: "127.0.0.1", Header: http.Header{}}
		if header != "" && !strings.ContainsAny(header, " :\r\n") {
			r.Header.Set(header, value)
		}
		op, serr := Classify(r)
		if serr != nil {
			return
		}
		if _, ok := ops[op.Name]; !ok {
			t.Fatalf("operation %q is not allow-listed", op.Name)
		}
		checks := Extract(op, r.Header)
		if len(checks) == 0 && op.Name != "DeleteObjects" {
			t.Fatalf("%s: no checks", op.Name)
		}
		for _, c := range checks {
			ok := c.Resource == "*" && op.Name == "ListBuckets" ||
				c.Resource == BucketARN(op.Bucket) || strings.HasPrefix(c.Resource, BucketARN(op.Bucket)+"/") ||
				op.Copy != nil && c.Resource == ObjectARN(op.Copy.Bucket, op.Copy.Key)
			if !ok {
				t.Fatalf("%s: check on %s for bucket %q", op.Name, c.Resource, op.Bucket)
			}
		}
	})
}

// FuzzDecodeChunked: the decoder never panics and never returns more or
// fewer bytes than announced.
func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), int64(5))
	f.Add([]byte("b\r\nHello world\r\n0\r\nx-amz-checksum-crc32:i9aeUg==\r\n\r\n"), int64(11))
	f.Add([]byte("ffffffffffffffff\r\n"), int64(3))
	f.Fuzz(func(t *testing.T, body []byte, n int64) {
		if n < 0 || n > 1<<20 {
			return
		}
		out, err := decodeChunked(bytes.NewReader(body), n, nil, false)
		if err == nil && int64(len(out.data)) != n {
			t.Fatalf("decoded %d bytes, announced %d", len(out.data), n)
		}
	})
}
