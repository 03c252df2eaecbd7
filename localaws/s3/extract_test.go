package s3

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type ctxKeys = map[string][]string

// TestExtract is the API operation -> (action, resource, condition keys)
// table for every supported operation (fact sheet A.1).
func TestExtract(t *testing.T) {
	const obj, bucket = "arn:aws:s3:::bkt/tenants/1/k", "arn:aws:s3:::bkt"
	src := "arn:aws:s3:::bkt/tenants/12/s"
	rows := []struct {
		method, target string
		headers        map[string]string
		op             string
		want           []Check
	}{
		{"GET", "/", nil, "ListBuckets", []Check{{"s3:ListAllMyBuckets", "*", nil}}},
		{"PUT", "/bkt", nil, "CreateBucket", []Check{{"s3:CreateBucket", bucket, nil}}},
		{"DELETE", "/bkt", nil, "DeleteBucket", []Check{{"s3:DeleteBucket", bucket, nil}}},
		{"HEAD", "/bkt", nil, "HeadBucket", []Check{{"s3:ListBucket", bucket, nil}}},
		{"GET", "/bkt?location", nil, "GetBucketLocation", []Check{{"s3:GetBucketLocation", bucket, nil}}},
		{"GET", "/bkt?versioning", nil, "GetBucketVersioning", []Check{{"s3:GetBucketVersioning", bucket, nil}}},
		{"PUT", "/bkt?versioning", nil, "PutBucketVersioning", []Check{{"s3:PutBucketVersioning", bucket, nil}}},
		{"GET", "/bkt", nil, "ListObjects", []Check{{"s3:ListBucket", bucket, ctxKeys{}}}},
		{"GET", "/bkt?prefix=tenants/1/&delimiter=/&max-keys=10&marker=m", nil, "ListObjects",
			[]Check{{"s3:ListBucket", bucket, ctxKeys{KeyPrefix: {"tenants/1/"}, KeyDelimiter: {"/"}, KeyMaxKeys: {"10"}}}}},
		{"GET", "/bkt?list-type=2", nil, "ListObjectsV2", []Check{{"s3:ListBucket", bucket, ctxKeys{}}}},
		{"GET", "/bkt?list-type=2&prefix=", nil, "ListObjectsV2", []Check{{"s3:ListBucket", bucket, ctxKeys{KeyPrefix: {""}}}}},
		{"GET", "/bkt/?list-type=2&prefix=tenants%2F1%2F&encoding-type=url&start-after=x&continuation-token=dA==&fetch-owner=true", nil,
			"ListObjectsV2", []Check{{"s3:ListBucket", bucket, ctxKeys{KeyPrefix: {"tenants/1/"}}}}},
		{"GET", "/bkt?versions&prefix=tenants/1/", nil, "ListObjectVersions", []Check{{"s3:ListBucketVersions", bucket, ctxKeys{KeyPrefix: {"tenants/1/"}}}}},
		{"GET", "/bkt?uploads&prefix=tenants/1/", nil, "ListMultipartUploads", []Check{{"s3:ListBucketMultipartUploads", bucket, nil}}},
		{"GET", "/bkt/tenants/1/k", nil, "GetObject", []Check{{"s3:GetObject", obj, nil}}},
		{"GET", "/bkt/tenants/1/k?x-id=GetObject&response-content-type=text/plain", nil, "GetObject", []Check{{"s3:GetObject", obj, nil}}},
		{"GET", "/bkt/tenants/1/k?versionId=v1", nil, "GetObject", []Check{{"s3:GetObjectVersion", obj, ctxKeys{KeyVersionID: {"v1"}}}}},
		{"HEAD", "/bkt/tenants/1/k", nil, "HeadObject", []Check{{"s3:GetObject", obj, nil}}},
		{"PUT", "/bkt/tenants/1/k", nil, "PutObject", []Check{{"s3:PutObject", obj, ctxKeys{}}}},
		{"PUT", "/bkt/tenants/1/k", map[string]string{"X-Amz-Acl": "bucket-owner-full-control", "X-Amz-Storage-Class": "STANDARD",
			"X-Amz-Server-Side-Encryption": "AES256"}, "PutObject", []Check{
			{"s3:PutObject", obj, ctxKeys{KeyACL: {"bucket-owner-full-control"}, KeyStorageClass: {"STANDARD"}, KeyServerSideEnc: {"AES256"}}},
			{"s3:PutObjectAcl", obj, ctxKeys{KeyACL: {"bucket-owner-full-control"}}}}},
		{"PUT", "/bkt/tenants/1/k", map[string]string{"X-Amz-Copy-Source": "/bkt/tenants/12/s"}, "CopyObject", []Check{
			{"s3:GetObject", src, nil}, {"s3:PutObject", obj, ctxKeys{KeyCopySource: {"/bkt/tenants/12/s"}}}}},
		{"PUT", "/bkt/tenants/1/k", map[string]string{"X-Amz-Copy-Source": "bkt%2Ftenants%2F12%2Fs", "X-Amz-Metadata-Directive": "COPY"}, "CopyObject", []Check{
			{"s3:GetObject", src, nil}, {"s3:PutObject", obj, ctxKeys{KeyCopySource: {"bkt%2Ftenants%2F12%2Fs"}, KeyMetadataDirect: {"COPY"}}}}},
		{"DELETE", "/bkt/tenants/1/k", nil, "DeleteObject", []Check{{"s3:DeleteObject", obj, nil}}},
		{"DELETE", "/bkt/tenants/1/k?versionId=v1", nil, "DeleteObject", []Check{{"s3:DeleteObjectVersion", obj, ctxKeys{KeyVersionID: {"v1"}}}}},
		{"POST", "/bkt?delete", nil, "DeleteObjects", nil},
		{"POST", "/bkt/tenants/1/k?uploads", nil, "CreateMultipartUpload", []Check{{"s3:PutObject", obj, ctxKeys{}}}},
		{"PUT", "/bkt/tenants/1/k?partNumber=1&uploadId=u", nil, "UploadPart", []Check{{"s3:PutObject", obj, nil}}},
		{"PUT", "/bkt/tenants/1/k?partNumber=1&uploadId=u", map[string]string{"X-Amz-Copy-Source": "bkt/tenants/12/s",
			"X-Amz-Copy-Source-Range": "bytes=0-9"}, "UploadPartCopy", []Check{
			{"s3:GetObject", src, nil}, {"s3:PutObject", obj, ctxKeys{KeyCopySource: {"bkt/tenants/12/s"}}}}},
		{"POST", "/bkt/tenants/1/k?uploadId=u", nil, "CompleteMultipartUpload", []Check{{"s3:PutObject", obj, nil}}},
		{"DELETE", "/bkt/tenants/1/k?uploadId=u", nil, "AbortMultipartUpload", []Check{{"s3:AbortMultipartUpload", obj, nil}}},
		{"GET", "/bkt/tenants/1/k?uploadId=u&max-parts=10", nil, "ListParts", []Check{{"s3:ListMultipartUploadParts", obj, nil}}},
		{"GET", "/bkt/tenants/1/..%2F..%2Ftenants/12/k", nil, "GetObject", []Check{{"s3:GetObject", "arn:aws:s3:::bkt/tenants/1/../../tenants/12/k", nil}}},
	}
	for _, row := range rows {
		t.Run(row.method+" "+row.target, func(t *testing.T) {
			r := httptest.NewRequest(row.method, row.target, nil)
			for k, v := range row.headers {
				r.Header.Set(k, v)
			}
			op, err := Classify(r)
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if op.Name != row.op {
				t.Errorf("operation %s, want %s", op.Name, row.op)
			}
			if diff := cmp.Diff(row.want, Extract(op, r.Header)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExtractHeadObjectVersion: a HeadObject of a version is checked as
// s3:GetObjectVersion (Classify refuses it, the backend cannot serve it:
// see TestClassifyRefuses).
func TestExtractHeadObjectVersion(t *testing.T) {
	op := &Op{Name: "HeadObject", Bucket: "bkt", Key: "tenants/1/k", VersionID: "v1"}
	want := []Check{{"s3:GetObjectVersion", "arn:aws:s3:::bkt/tenants/1/k", map[string][]string{KeyVersionID: {"v1"}}}}
	if diff := cmp.Diff(want, Extract(op, http.Header{})); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
}

func TestDeleteChecks(t *testing.T) {
	if got := DeleteChecks("bkt", "k", ""); got.Action != "s3:DeleteObject" || got.Resource != "arn:aws:s3:::bkt/k" || got.Context != nil {
		t.Errorf("plain: %+v", got)
	}
	if got := DeleteChecks("bkt", "k", "v"); got.Action != "s3:DeleteObjectVersion" || got.Context[KeyVersionID][0] != "v" {
		t.Errorf("versioned: %+v", got)
	}
}

// TestClassifyRefuses is the allow-list: everything gofakes3 would route
// somewhere wrong, or could not honour, is refused — never forwarded.
func TestClassifyRefuses(t *testing.T) {
	rows := []struct {
		name, method, target string
		headers              map[string]string
		host                 string
		code                 string
	}{
		{"PUT ?tagging (gofakes3: PutObject, overwrites)", "PUT", "/bkt/k?tagging", nil, "", CodeNotImplemented},
		{"GET ?tagging (gofakes3: GetObject)", "GET", "/bkt/k?tagging", nil, "", CodeNotImplemented},
		{"GET ?acl", "GET", "/bkt/k?acl", nil, "", CodeNotImplemented},
		{"PUT ?acl", "PUT", "/bkt/k?acl", nil, "", CodeNotImplemented},
		{"GET ?attributes", "GET", "/bkt/k?attributes", nil, "", CodeNotImplemented},
		{"PUT bucket ?policy", "PUT", "/bkt?policy", nil, "", CodeNotImplemented},
		{"PUT bucket ?lifecycle", "PUT", "/bkt?lifecycle", nil, "", CodeNotImplemented},
		{"GET bucket ?cors", "GET", "/bkt?cors", nil, "", CodeNotImplemented},
		{"POST object ?restore", "POST", "/bkt/k?restore", nil, "", CodeNotImplemented},
		{"POST object ?select", "POST", "/bkt/k?select&select-type=2", nil, "", CodeNotImplemented},
		{"GET part of an object", "GET", "/bkt/k?partNumber=1", nil, "", CodeNotImplemented},
		{"browser POST upload", "POST", "/bkt", nil, "", CodeNotImplemented},
		{"PUT with x-amz-tagging", "PUT", "/bkt/k", map[string]string{"X-Amz-Tagging": "a=b"}, "", CodeNotImplemented},
		{"PUT with object lock", "PUT", "/bkt/k", map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE"}, "", CodeNotImplemented},
		{"PUT with SSE-KMS", "PUT", "/bkt/k", map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}, "", CodeNotImplemented},
		{"PUT with SSE-C", "PUT", "/bkt/k", map[string]string{"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256"}, "", CodeNotImplemented},
		{"PUT with a canned ACL", "PUT", "/bkt/k", map[string]string{"X-Amz-Acl": "public-read"}, "", CodeAccessControlListNotSupported},
		{"PUT with a grant", "PUT", "/bkt/k", map[string]string{"X-Amz-Grant-Read": "id=x"}, "", CodeNotImplemented},
		{"copy with REPLACE", "PUT", "/bkt/k", map[string]string{"X-Amz-Copy-Source": "bkt/s", "X-Amz-Metadata-Directive": "REPLACE"}, "", CodeNotImplemented},
		{"copy of a version", "PUT", "/bkt/k", map[string]string{"X-Amz-Copy-Source": "bkt/s?versionId=v"}, "", CodeNotImplemented},
		{"copy with a condition", "PUT", "/bkt/k", map[string]string{"X-Amz-Copy-Source": "bkt/s", "X-Amz-Copy-Source-If-Match": `"e"`}, "", CodeNotImplemented},
		{"copy source without key", "PUT", "/bkt/k", map[string]string{"X-Amz-Copy-Source": "bkt"}, "", CodeInvalidArgument},
		{"versionId=null", "GET", "/bkt/k?versionId=null", nil, "", CodeNotImplemented},
		{"versionId empty", "GET", "/bkt/k?versionId=", nil, "", CodeInvalidArgument},
		{"HEAD of a version (gofakes3 answers the current one)", "HEAD", "/bkt/k?versionId=v1", nil, "", CodeNotImplemented},
		{"uploads on an object for GET (gofakes3 lists the bucket)", "GET", "/bkt/k?uploads", nil, "", CodeNotImplemented},
		{"versions on an object", "GET", "/bkt/k?versions", nil, "", CodeNotImplemented},
		{"list-type=1", "GET", "/bkt?list-type=1", nil, "", CodeInvalidArgument},
		{"empty uploadId", "PUT", "/bkt/k?uploadId=&partNumber=1", nil, "", CodeInvalidArgument},
		{"PUT on the service", "PUT", "/", nil, "", CodeNotImplemented},
		{"bad bucket name", "GET", "/B_ad/k", nil, "", CodeInvalidBucketName},
		{"key too long", "GET", "/bkt/" + string(make([]byte, 1025)), nil, "", CodeKeyTooLong},
		{"virtual-hosted style", "GET", "/k", nil, "bkt.localhost:4566", CodeInvalidRequest},
		{"GET with If-Match", "GET", "/bkt/k", map[string]string{"If-Match": `"e"`}, "", CodeNotImplemented},
		{"conditional DeleteObject", "DELETE", "/bkt/k", map[string]string{"If-Match": `"e"`}, "", CodeNotImplemented},
		{"CompleteMultipartUpload with the object's checksum (gofakes3 would not check it)", "POST", "/bkt/k?uploadId=u",
			map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, "", CodeNotImplemented},
		{"DeleteObjects with bypass governance", "POST", "/bkt?delete", map[string]string{"X-Amz-Bypass-Governance-Retention": "true"}, "", CodeNotImplemented},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := httptest.NewRequest(row.method, "/", nil)
			r.URL.Path, r.URL.RawQuery, _ = cutTarget(row.target)
			if row.host != "" {
				r.Host = row.host
			}
			for k, v := range row.headers {
				r.Header.Set(k, v)
			}
			op, err := Classify(r)
			if err == nil {
				t.Fatalf("accepted as %s", op.Name)
			}
			if err.Code != row.code {
				t.Errorf("code %s (%s), want %s", err.Code, err.Message, row.code)
			}
			if err.Code == CodeNotImplemented && err.Status != http.StatusNotImplemented {
				t.Errorf("status %d", err.Status)
			}
		})
	}
}

func cutTarget(target string) (path, query string, ok bool) {
	for i := range len(target) {
		if target[i] == '?' {
			return target[:i], target[i+1:], true
		}
	}
	return target, "", false
}
