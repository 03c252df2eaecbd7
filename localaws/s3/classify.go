package s3

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Op is one classified S3 request: the API operation and what it names.
type Op struct {
	// Name is the S3 API operation, e.g. "GetObject", "ListObjectsV2".
	Name string
	// Bucket and Key come from the path (path-style addressing); Key is
	// decoded, exactly the key the backend stores.
	Bucket, Key string
	// VersionID is the versionId query parameter ("" when absent).
	VersionID string
	// Copy is the source of CopyObject and UploadPartCopy.
	Copy *CopySource
	// Query is the request's query, parsed once.
	Query url.Values
}

// CopySource is the decoded x-amz-copy-source header.
type CopySource struct {
	Bucket, Key string
	// Header is the header value as sent (the s3:x-amz-copy-source key).
	Header string
}

// opSpec describes one supported operation: the query parameters it takes
// and the x-amz-* request headers it honours beyond the common ones.
type opSpec struct {
	needKey bool // the path must name an object (else: must not)
	query   []string
	headers []string
}

// Header groups of opSpec.headers; "x-amz-meta-" is a prefix.
var (
	objectWriteHeaders = []string{"x-amz-meta-", "x-amz-acl", "x-amz-storage-class", "x-amz-server-side-encryption"}
	copyHeaders        = append([]string{"x-amz-copy-source", "x-amz-metadata-directive", "x-amz-source-expected-bucket-owner"}, objectWriteHeaders...)
	responseOverrides  = []string{"versionId", "response-content-type", "response-content-language", "response-expires",
		"response-cache-control", "response-content-disposition", "response-content-encoding"}
	listQuery = []string{"prefix", "delimiter", "max-keys", "encoding-type"}
)

// ops is the allow-list of operations the gateway forwards to gofakes3.
// Everything else — tagging, ACL, policy, lifecycle, attributes, object
// lock, browser POST uploads, ... — is answered NotImplemented, never
// passed to gofakes3's router (which sends PUT ?tagging to PutObject).
var ops = map[string]opSpec{
	"ListBuckets":             {},
	"CreateBucket":            {},
	"DeleteBucket":            {},
	"HeadBucket":              {},
	"GetBucketLocation":       {query: []string{"location"}},
	"GetBucketVersioning":     {query: []string{"versioning"}},
	"PutBucketVersioning":     {query: []string{"versioning"}},
	"ListObjects":             {query: append([]string{"marker"}, listQuery...)},
	"ListObjectsV2":           {query: append([]string{"list-type", "continuation-token", "start-after", "fetch-owner"}, listQuery...)},
	"ListObjectVersions":      {query: append([]string{"versions", "key-marker", "version-id-marker"}, listQuery...)},
	"ListMultipartUploads":    {query: []string{"uploads", "prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads", "encoding-type"}},
	"DeleteObjects":           {query: []string{"delete"}},
	"GetObject":               {needKey: true, query: responseOverrides, headers: []string{"x-amz-checksum-mode"}},
	"HeadObject":              {needKey: true, query: responseOverrides, headers: []string{"x-amz-checksum-mode"}},
	"PutObject":               {needKey: true, headers: objectWriteHeaders},
	"CopyObject":              {needKey: true, headers: copyHeaders},
	"DeleteObject":            {needKey: true, query: []string{"versionId"}},
	"CreateMultipartUpload":   {needKey: true, query: []string{"uploads"}, headers: append([]string{"x-amz-checksum-algorithm", "x-amz-checksum-type"}, objectWriteHeaders...)},
	"UploadPart":              {needKey: true, query: []string{"uploadId", "partNumber"}},
	"UploadPartCopy":          {needKey: true, query: []string{"uploadId", "partNumber"}, headers: []string{"x-amz-copy-source", "x-amz-copy-source-range", "x-amz-source-expected-bucket-owner"}},
	"CompleteMultipartUpload": {needKey: true, query: []string{"uploadId"}},
	"AbortMultipartUpload":    {needKey: true, query: []string{"uploadId"}},
	"ListParts":               {needKey: true, query: []string{"uploadId", "max-parts", "part-number-marker"}},
}

// unhonouredConditions are conditional request headers gofakes3 ignores
// for an operation (it honours If-None-Match and If-Modified-Since on reads,
// If-Match and If-None-Match on PutObject): ignoring them would turn a
// failed precondition into a silent success.
var unhonouredConditions = map[string][]string{
	"GetObject":               {"If-Match", "If-Unmodified-Since"},
	"HeadObject":              {"If-Match", "If-Unmodified-Since"},
	"DeleteObject":            {"If-Match"},
	"CopyObject":              {"If-Match", "If-None-Match"},
	"CompleteMultipartUpload": {"If-Match", "If-None-Match"},
}

// commonQuery may accompany any operation: the SDKs' x-id and the
// parameters of a presigned URL (consumed by authentication).
var commonQuery = []string{"x-id", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}

// commonHeaders are the x-amz-* headers every operation may carry: signing,
// payload encoding and checksums (verified by the gateway), and headers
// with no effect here.
var commonHeaders = []string{"x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent",
	"x-amz-expected-bucket-owner", "x-amz-request-payer", "x-amz-sdk-checksum-algorithm", "x-amz-trailer",
	"x-amz-decoded-content-length", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
	"x-amz-checksum-sha1", "x-amz-checksum-sha256"}

// Classify maps a path-style request to its S3 operation, in the order
// gofakes3 v1.2.0's router tests the query (uploadId, uploads, versioning,
// versions, versionId, then object / bucket / service), so the gateway
// authorizes exactly what the backend will execute. It refuses, with S3's
// errors, anything outside the allow-list: unknown subresources and query
// parameters, x-amz-* headers the backend would ignore or mishandle,
// virtual-hosted-style requests, and malformed bucket names or keys.
func Classify(r *http.Request) (*Op, *Error) {
	if isVirtualHosted(r.Host) {
		return nil, invalidRequest("tvm-local serves path-style S3 requests only (Host " + r.Host + " looks virtual-hosted): " +
			"use an IP endpoint such as http://127.0.0.1:4566 or force path style (Go: UsePathStyle, JS: forcePathStyle, " +
			"AWS CLI: s3 addressing_style = path)")
	}
	q := r.URL.Query()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	op := &Op{Bucket: bucket, Key: key, Query: q}
	var err *Error
	if op.Name, err = route(r.Method, bucket, key, q, r.Header); err != nil {
		return nil, err
	}
	spec := ops[op.Name]
	if err := checkNames(op, spec); err != nil {
		return nil, err
	}
	if err := checkQuery(q, spec.query); err != nil {
		return nil, err
	}
	if err := checkHeaders(r.Header, spec.headers); err != nil {
		return nil, err
	}
	for _, h := range unhonouredConditions[op.Name] {
		if r.Header.Get(h) != "" {
			return nil, notImplemented("the conditional header '" + h + "' on " + op.Name)
		}
	}
	if op.Name == "CompleteMultipartUpload" && hasChecksumHeader(r.Header) {
		// The header is the assembled object's checksum (full-object or
		// composite), not the request body's: gofakes3 would not check it.
		return nil, notImplemented("an object checksum (x-amz-checksum-*) on CompleteMultipartUpload")
	}
	if vs, ok := q["versionId"]; ok {
		if err := checkVersionID(vs); err != nil {
			return nil, err
		}
		if op.Name == "HeadObject" {
			// gofakes3's HeadObject ignores versionId: it would answer with
			// the current version under an s3:GetObjectVersion grant.
			return nil, notImplemented("HeadObject of a version (versionId)")
		}
		op.VersionID = vs[0]
	}
	if op.Name == "CopyObject" || op.Name == "UploadPartCopy" {
		if op.Copy, err = parseCopySource(r.Header.Get("X-Amz-Copy-Source")); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// route picks the operation as gofakes3's routeBase does; "" bucket means
// the service endpoint.
func route(method, bucket, key string, q url.Values, h http.Header) (string, *Error) {
	if _, ok := q["uploadId"]; ok {
		if q.Get("uploadId") == "" {
			return "", invalidArgument("The uploadId must not be empty.")
		}
		return pick(method, map[string]string{"GET": "ListParts", "PUT": uploadPartName(h), "DELETE": "AbortMultipartUpload", "POST": "CompleteMultipartUpload"})
	}
	for _, sub := range []struct {
		param string
		ops   map[string]string
	}{
		{"uploads", map[string]string{"GET": "ListMultipartUploads", "POST": "CreateMultipartUpload"}},
		{"versioning", map[string]string{"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"}},
		{"versions", map[string]string{"GET": "ListObjectVersions"}},
	} {
		if _, ok := q[sub.param]; ok {
			return pick(method, sub.ops)
		}
	}
	switch {
	case bucket != "" && key != "":
		put := "PutObject"
		if h.Get("X-Amz-Copy-Source") != "" {
			put = "CopyObject"
		}
		return pick(method, map[string]string{"GET": "GetObject", "HEAD": "HeadObject", "PUT": put, "DELETE": "DeleteObject"})
	case bucket != "":
		return bucketOp(method, q)
	case method == http.MethodGet:
		return "ListBuckets", nil
	}
	return "", notImplemented(method + " on the service endpoint")
}

func uploadPartName(h http.Header) string {
	if h.Get("X-Amz-Copy-Source") != "" {
		return "UploadPartCopy"
	}
	return "UploadPart"
}

func bucketOp(method string, q url.Values) (string, *Error) {
	switch method {
	case http.MethodGet:
		if _, ok := q["location"]; ok {
			return "GetBucketLocation", nil
		}
		if _, ok := q["list-type"]; !ok {
			return "ListObjects", nil
		}
		if q.Get("list-type") != "2" {
			return "", invalidArgument("Invalid List Type specified")
		}
		return "ListObjectsV2", nil
	case http.MethodPost:
		if _, ok := q["delete"]; ok {
			return "DeleteObjects", nil
		}
		return "", notImplemented("browser-based POST uploads (PostObject)")
	}
	return pick(method, map[string]string{"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"})
}

func pick(method string, byMethod map[string]string) (string, *Error) {
	if name := byMethod[method]; name != "" {
		return name, nil
	}
	return "", notImplemented("the method " + method + " on this resource")
}

// MaxKeyBytes is S3's limit on an object key's length.
const MaxKeyBytes = 1024

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func checkNames(op *Op, spec opSpec) *Error {
	if op.Bucket == "" {
		if op.Name != "ListBuckets" {
			return invalidRequest("The request names no bucket.")
		}
		return nil
	}
	if !bucketName.MatchString(op.Bucket) || strings.Contains(op.Bucket, "..") || net.ParseIP(op.Bucket) != nil {
		e := newError(http.StatusBadRequest, CodeInvalidBucketName, "The specified bucket is not valid.")
		e.Resource = op.Bucket
		return e
	}
	switch {
	case spec.needKey && op.Key == "":
		return invalidRequest(op.Name + " needs an object key in the path.")
	case !spec.needKey && op.Key != "":
		return notImplemented(op.Name + " addressed to an object key")
	case len(op.Key) > MaxKeyBytes:
		return newError(http.StatusBadRequest, CodeKeyTooLong, "Your key is too long")
	}
	return nil
}

func checkQuery(q url.Values, allowed []string) *Error {
	for name := range q {
		if !slices.Contains(allowed, name) && !slices.Contains(commonQuery, name) {
			return notImplemented("the query parameter '" + name + "'")
		}
	}
	return nil
}

// checkHeaders refuses x-amz-* headers outside the operation's list, and
// values of the honoured ones that the backend cannot honour.
func checkHeaders(h http.Header, allowed []string) *Error {
	for name, vs := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-") || slices.Contains(commonHeaders, lower) {
			continue
		}
		if !slices.Contains(allowed, lower) && !(strings.HasPrefix(lower, "x-amz-meta-") && slices.Contains(allowed, "x-amz-meta-")) {
			return notImplemented("the header '" + lower + "'")
		}
		if err := checkHeaderValue(lower, vs[0]); err != nil {
			return err
		}
	}
	return nil
}

// checkHeaderValue admits only the values the local S3 honours as AWS
// does: buckets have ACLs disabled (S3's default object ownership,
// BucketOwnerEnforced), so bucket-owner-full-control is the only canned
// ACL; objects are stored STANDARD with SSE-S3 (AES256) as in S3 by
// default; a copy keeps the source's metadata (COPY).
func checkHeaderValue(name, v string) *Error {
	ok := true
	switch name {
	case "x-amz-acl":
		if v != "bucket-owner-full-control" {
			return newError(http.StatusBadRequest, CodeAccessControlListNotSupported, "The bucket does not allow ACLs")
		}
	case "x-amz-storage-class":
		ok = v == "STANDARD"
	case "x-amz-server-side-encryption":
		ok = v == "AES256"
	case "x-amz-metadata-directive":
		ok = v == "COPY"
	case "x-amz-checksum-type":
		ok = v == "FULL_OBJECT" || v == "COMPOSITE"
	}
	if !ok {
		return notImplemented("the header '" + name + ": " + truncate(v, 64) + "'")
	}
	return nil
}

func checkVersionID(vs []string) *Error {
	switch {
	case len(vs) != 1:
		return invalidArgument("versionId may appear only once.")
	case vs[0] == "":
		return invalidArgument("Version id cannot be the empty string")
	case vs[0] == "null":
		// gofakes3 reads versionId=null as "no version" and would serve the
		// latest version under an s3:GetObjectVersion grant.
		return notImplemented("the null version (versionId=null)")
	}
	return nil
}

// parseCopySource decodes x-amz-copy-source: "[/]bucket/key", URL-encoded,
// optionally "?versionId=..." (not implemented: gofakes3 would copy the
// latest version instead).
func parseCopySource(v string) (*CopySource, *Error) {
	raw, query, _ := strings.Cut(v, "?")
	if query != "" {
		return nil, notImplemented("copying a specific version (x-amz-copy-source with ?versionId)")
	}
	dec, err := url.PathUnescape(strings.TrimPrefix(raw, "/"))
	if err != nil {
		return nil, invalidArgument("Invalid copy source encoding")
	}
	bucket, key, ok := strings.Cut(dec, "/")
	if !ok || key == "" || !bucketName.MatchString(bucket) {
		return nil, invalidArgument("Invalid copy source object key")
	}
	if len(key) > MaxKeyBytes {
		return nil, newError(http.StatusBadRequest, CodeKeyTooLong, "Your key is too long")
	}
	return &CopySource{Bucket: bucket, Key: key, Header: v}, nil
}

// isVirtualHosted reports whether host names a bucket as a subdomain of
// localhost (what Go v2 and JS v3 do with an endpoint on localhost unless
// forced to path style).
func isVirtualHosted(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.HasSuffix(strings.ToLower(host), ".localhost")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
