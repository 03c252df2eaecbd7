package s3

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
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

// FuzzListing: whatever the keys, prefix and delimiter, a listing through
// the gateway's backend names only keys under the prefix, and paging one
// entry at a time shows every key under the prefix exactly once — as a
// key, or within exactly one common prefix ending at the first delimiter
// after the prefix.
func FuzzListing(f *testing.F) {
	f.Add("tenants/1/a.txt\ntenants/2/secret\n/tenants/1/x\ntenants/1/sub/b", "tenants/1/", "tenas/1")
	f.Add("a/b/c\na/b\nab\na//b", "a", "/")
	f.Add("xx\nxax\nx", "", "x")
	f.Fuzz(func(t *testing.T, keyList, prefix, delim string) {
		b := listingBackend{s3mem.New()}
		if err := b.CreateBucket("bkt"); err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for k := range strings.SplitSeq(keyList, "\n") {
			if k == "" || len(keys) == 20 {
				continue
			}
			keys[k] = true
			if _, err := b.PutObject("bkt", k, map[string]string{}, strings.NewReader("v"), 1, nil); err != nil {
				t.Fatal(err)
			}
		}
		p := &gofakes3.Prefix{HasPrefix: prefix != "", Prefix: prefix, HasDelimiter: delim != "", Delimiter: delim}
		seen := map[string]int{}
		page := gofakes3.ListBucketPage{MaxKeys: 1}
		for range len(keys) + 2 {
			l, err := b.ListBucket("bkt", p, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range l.Contents {
				seen[c.Key]++
			}
			for _, cp := range l.CommonPrefixes {
				if !strings.HasPrefix(cp.Prefix, prefix) || delim == "" || !strings.HasSuffix(cp.Prefix, delim) {
					t.Fatalf("common prefix %q for prefix %q, delimiter %q", cp.Prefix, prefix, delim)
				}
				for k := range keys {
					if strings.HasPrefix(k, cp.Prefix) && !strings.Contains(k[len(prefix):len(cp.Prefix)-len(delim)], delim) {
						seen[k]++
					}
				}
			}
			if !l.IsTruncated {
				break
			}
			page = gofakes3.ListBucketPage{MaxKeys: 1, Marker: l.NextMarker, HasMarker: true}
		}
		for k := range keys {
			want := 0
			if strings.HasPrefix(k, prefix) {
				want = 1
			}
			if seen[k] != want {
				t.Fatalf("key %q listed %d times, want %d (prefix %q, delimiter %q)", k, seen[k], want, prefix, delim)
			}
		}
	})
}
