package s3

import "net/http"

// Condition keys the gateway sets (Service Authorization Reference, Amazon
// S3). A key is in a check's context only when the request carries what it
// describes: no prefix parameter means no s3:prefix key (so StringLike on it
// does not match), while prefix= means s3:prefix = "".
const (
	KeyPrefix           = "s3:prefix"
	KeyDelimiter        = "s3:delimiter"
	KeyMaxKeys          = "s3:max-keys"
	KeyVersionID        = "s3:VersionId"
	KeyCopySource       = "s3:x-amz-copy-source"
	KeyMetadataDirect   = "s3:x-amz-metadata-directive"
	KeyACL              = "s3:x-amz-acl"
	KeyStorageClass     = "s3:x-amz-storage-class"
	KeyServerSideEnc    = "s3:x-amz-server-side-encryption"
	KeyContentSHA256    = "s3:x-amz-content-sha256"
	KeyAuthType         = "s3:authType"
	KeySignatureVersion = "s3:signatureversion"
	KeyResourceAccount  = "s3:ResourceAccount"
)

// Check is one authorization check of a request: AWS evaluates the caller's
// policies once per check and the request proceeds only if every check is
// allowed.
type Check struct {
	Action   string
	Resource string
	// Context holds the check's S3 condition keys (the caller's global keys
	// and the request-wide S3 keys are added by the gateway).
	Context map[string][]string
}

// BucketARN returns arn:aws:s3:::BUCKET.
func BucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// ObjectARN returns arn:aws:s3:::BUCKET/KEY (the key as stored, no leading
// slash, no encoding).
func ObjectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// Extract returns the authorization checks of a classified request, per
// operation as the Amazon S3 API Reference's "Permissions" sections list
// them. DeleteObjects is authorized key by key from its body (see
// DeleteChecks), so Extract returns no check for it.
func Extract(op *Op, h http.Header) []Check {
	obj := ObjectARN(op.Bucket, op.Key)
	bucket := BucketARN(op.Bucket)
	one := func(action, resource string, ctx map[string][]string) []Check {
		return []Check{{Action: action, Resource: resource, Context: ctx}}
	}
	switch op.Name {
	case "ListBuckets":
		return one("s3:ListAllMyBuckets", "*", nil)
	case "CreateBucket", "DeleteBucket", "GetBucketLocation", "GetBucketVersioning", "PutBucketVersioning":
		return one("s3:"+op.Name, bucket, nil)
	case "HeadBucket":
		return one("s3:ListBucket", bucket, nil)
	case "ListObjects", "ListObjectsV2":
		return one("s3:ListBucket", bucket, listKeys(op))
	case "ListObjectVersions":
		return one("s3:ListBucketVersions", bucket, listKeys(op))
	case "ListMultipartUploads":
		return one("s3:ListBucketMultipartUploads", bucket, nil)
	case "GetObject", "HeadObject":
		if op.VersionID != "" {
			return one("s3:GetObjectVersion", obj, map[string][]string{KeyVersionID: {op.VersionID}})
		}
		return one("s3:GetObject", obj, nil)
	case "DeleteObject":
		if op.VersionID != "" {
			return one("s3:DeleteObjectVersion", obj, map[string][]string{KeyVersionID: {op.VersionID}})
		}
		return one("s3:DeleteObject", obj, nil)
	case "PutObject", "CreateMultipartUpload":
		return withACL(one("s3:PutObject", obj, writeKeys(h)), obj, h)
	case "UploadPart", "CompleteMultipartUpload":
		return one("s3:PutObject", obj, nil)
	case "CopyObject", "UploadPartCopy":
		dst := writeKeys(h)
		dst[KeyCopySource] = []string{op.Copy.Header}
		if v := h.Get("X-Amz-Metadata-Directive"); v != "" {
			dst[KeyMetadataDirect] = []string{v}
		}
		checks := []Check{
			{Action: "s3:GetObject", Resource: ObjectARN(op.Copy.Bucket, op.Copy.Key)},
			{Action: "s3:PutObject", Resource: obj, Context: dst},
		}
		return withACL(checks, obj, h)
	case "AbortMultipartUpload":
		return one("s3:AbortMultipartUpload", obj, nil)
	case "ListParts":
		return one("s3:ListMultipartUploadParts", obj, nil)
	}
	return nil
}

// DeleteChecks returns the check of one DeleteObjects entry: s3:DeleteObject,
// or s3:DeleteObjectVersion with s3:VersionId for a versioned entry.
func DeleteChecks(bucket, key, versionID string) Check {
	if versionID != "" {
		return Check{Action: "s3:DeleteObjectVersion", Resource: ObjectARN(bucket, key), Context: map[string][]string{KeyVersionID: {versionID}}}
	}
	return Check{Action: "s3:DeleteObject", Resource: ObjectARN(bucket, key)}
}

// listKeys returns s3:prefix, s3:delimiter and s3:max-keys, each present
// exactly when its query parameter is.
func listKeys(op *Op) map[string][]string {
	ctx := map[string][]string{}
	for param, key := range map[string]string{"prefix": KeyPrefix, "delimiter": KeyDelimiter, "max-keys": KeyMaxKeys} {
		if vs, ok := op.Query[param]; ok {
			ctx[key] = []string{vs[0]}
		}
	}
	return ctx
}

// writeKeys returns the header condition keys of an object write.
func writeKeys(h http.Header) map[string][]string {
	ctx := map[string][]string{}
	for header, key := range map[string]string{"X-Amz-Acl": KeyACL, "X-Amz-Storage-Class": KeyStorageClass,
		"X-Amz-Server-Side-Encryption": KeyServerSideEnc} {
		if v := h.Get(header); v != "" {
			ctx[key] = []string{v}
		}
	}
	return ctx
}

// withACL adds s3:PutObjectAcl on obj when the request sets an ACL.
func withACL(checks []Check, obj string, h http.Header) []Check {
	if v := h.Get("X-Amz-Acl"); v != "" {
		checks = append(checks, Check{Action: "s3:PutObjectAcl", Resource: obj, Context: map[string][]string{KeyACL: {v}}})
	}
	return checks
}
