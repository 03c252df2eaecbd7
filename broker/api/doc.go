// Package api is the broker's HTTP API, built on Echo v4. Handlers are a
// thin layer over two small interfaces, Verifier (JWT -> identity) and Vendor
// (identity -> temporary credentials); all policy and STS logic lives behind
// them.
//
// # Routes
//
//	GET|POST /v1/credentials   vend credentials
//	GET      /healthz          200 {"status":"ok"} while the process runs
//	GET      /readyz           200 {"status":"ready"} once signing keys are loaded and every
//	                           Options.Readiness check passes (the broker: STS accepts its own
//	                           credentials), else 503 not_ready naming the first unmet one
//	                           with Options.ReadyDetail, also {"config": ...} (generation, last reload)
//	GET      /metrics          Prometheus text format (when Options.Metrics is set)
//
// /v1/credentials takes the JWT from the Authorization header, either
// "Bearer <jwt>" or the raw "<jwt>" that AWS SDKs send to a
// container-credentials endpoint. Two optional parameters, profile and
// duration (seconds), come from the query string; a POST may carry them
// instead as a JSON body {"profile":"read","duration_seconds":3600} (unknown
// or repeated fields are refused, including names differing only in case)
// or as an application/x-www-form-urlencoded form. Unknown, repeated or
// malformed parameters (a bad %-escape, a ';' separator) are refused. The
// session is never longer than the token's remaining lifetime rounded down
// to a quarter hour, nor shorter than 15 minutes (see broker/vend).
//
// A 200 answer is one JSON object that is both credential_process output and
// a container-credentials response:
//
//	{"Version":1,"AccessKeyId":"ASIA...","SecretAccessKey":"...","SessionToken":"...",
//	 "Token":"...","Expiration":"2026-01-02T15:04:05Z","AccountId":"123456789012",
//	 "Tenant":"1","Profile":"read"}
//
// with Cache-Control: no-store and Pragma: no-cache. Every error, including
// Echo's own (404, 405, 413), is {"code":"...","message":"..."} with
// Content-Type exactly application/json; codes are the stable errs codes.
// The core packages say what failed with an errs.Kind; this package alone
// turns a kind into an HTTP status (kindStatus in errors.go). A
// 401 carries WWW-Authenticate: Bearer error="invalid_token"; a 429 or 503
// carries Retry-After in seconds. Internal causes are logged with the request
// id, never returned.
//
// Every request gets an X-Request-Id (a sanitized client value or a random
// one). Each request is logged once (without query string or Authorization
// header) and each call of /v1/credentials produces one audit record with the
// message "vend" that carries at most the last four characters of the access
// key id and never a token, secret key or session token.
//
// Before its token is verified, a request passes the pre-auth limits
// (Options.PreAuth, preauth.go): a bucket of failed authentications per
// client address (429 rate_limited) and a cap on concurrent verifications
// (503 overloaded); a token the verifier remembers from an earlier
// verification meets neither. After verification, a caller on the block list
// (Options.Blocks) is refused with 403 tenant_blocked or subject_blocked,
// then the per-tenant and per-subject buckets apply (429 rate_limited).
//
// # Concurrency
//
// The handler returned by New is safe for concurrent use. The rate limiters
// hold their token buckets in bounded LRU maps; a PreAuth may be shared by
// several handlers (one per configuration generation).
package api
