// Package s3 is the local AWS's S3 endpoint: a gateway that authenticates
// every request, authorizes it the way Amazon S3 does — action, resource
// ARN and condition keys such as s3:prefix — with the policies/iam
// evaluator, and forwards allowed requests to an in-process gofakes3
// (github.com/johannesboyne/gofakes3 v1.2.0, backend s3mem), which is never
// exposed itself.
//
// # Wire format
//
// S3's REST protocol, path-style only: /BUCKET/KEY with the key exactly as
// sent (percent-decoded once, no dot-segment or slash normalization; no
// http.ServeMux in front). A Host of the form BUCKET.localhost (virtual-
// hosted style) is refused with InvalidRequest naming the path-style
// settings. Errors are S3's XML document
//
//	<Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/R/S is not
//	authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no session policy
//	allows the s3:GetObject action</Message><RequestId>…</RequestId><HostId>…</HostId></Error>
//
// with S3's status codes (403 AccessDenied, 501 NotImplemented, ...), and no
// body for HEAD. A refused request's unsent body is read first (up to the
// body limit, "Expect: 100-continue" included), so that an uploading
// client, or a proxy in front, reads the error on a connection that stays
// open instead of a reset.
//
// # Authentication and payloads
//
// The Authenticator verifies SigV4 as S3 does (sigv4.Verifier.VerifyS3:
// Authorization header or presigned URL, canonical URI not encoded twice).
// The gateway then verifies the body against the signed x-amz-content-sha256
// value: a hex SHA-256 must match; UNSIGNED-PAYLOAD is accepted;
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] bodies have every chunk
// signature (and the trailer signature) verified;
// STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies are decoded and their checksum
// trailer verified. Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1,
// SHA256) are verified as headers or trailers, Content-MD5 when sent (never
// required). The backend always receives a plain body with an exact
// Content-Length. SigV4a and Signature Version 2 are refused (501).
//
// # Authorization
//
// Classify maps a request to its operation in the order gofakes3's router
// does, through an allow-list: tagging, ACL, policy, lifecycle, attributes,
// object lock, SSE-KMS/SSE-C, copy conditions, x-amz-* headers the backend
// would store without honouring, and every other subresource answer
// NotImplemented, never a silent success (gofakes3 itself would send PUT
// ?tagging to PutObject and overwrite the object). The backend sees only
// vetted headers: the admitted x-amz-* ones and the standard headers it
// honours (content type and disposition, range, conditions); any other is
// dropped, as S3 ignores headers it does not know (gofakes3 would honour
// MinIO's x-minio-force-delete and empty a bucket). Extract lists the
// checks of each operation (Amazon S3 API Reference, "Permissions"):
// CopyObject and UploadPartCopy check s3:GetObject on the source and
// s3:PutObject on the destination; DeleteObjects is checked key by key and
// answers per-key AccessDenied entries in a 200; list operations carry
// s3:prefix, s3:delimiter and s3:max-keys only when the query carries the
// parameter (prefix= is a present, empty key); ListMultipartUploads carries
// none. A listing returns only keys that start with its prefix, grouped at
// the first delimiter after it, as S3 does (gofakes3's own delimiter
// matching strips leading delimiter characters and would list keys outside
// the prefix: NewMemoryBackend replaces it). GetObject and HeadObject on a missing key answer 404 only to a
// caller allowed s3:ListBucket on the bucket, else 403. Multipart uploads
// need an explicit grant to abort or list parts (real S3 also lets the
// initiator do both). Versioning is off: versionId requests answer
// NotImplemented from the backend.
//
// # Concurrency
//
// Gateway and the backend are safe for concurrent use; bodies are buffered
// in memory up to GatewayOptions.MaxObjectBytes.
package s3
