// Package client is the Go client of the tvm broker: an aws.CredentialsProvider
// that exchanges a JWT for tenant-scoped temporary AWS credentials.
//
// # Wire format
//
// Retrieve sends
//
//	GET <broker>/v1/credentials?profile=<profile>&duration=<seconds>
//	Authorization: Bearer <jwt>
//	Accept: application/json
//
// (profile and duration only when set) and expects 200 with one JSON object:
//
//	{"Version":1,"AccessKeyId":"ASIA...","SecretAccessKey":"...","SessionToken":"...",
//	 "Token":"...","Expiration":"2026-01-02T15:04:05Z","AccountId":"123456789012"}
//
// SessionToken and Token carry the same value; either is accepted. An answer
// missing the key id, the secret, the session token or a future Expiration is
// an error: empty or expired credentials are never returned as success.
// Errors are 4xx/5xx with {"code":"...","message":"..."} and map to typed
// errors that errors.As distinguishes: *InvalidTokenError (401),
// *ForbiddenError (403), *BrokerError (any other status) and
// *UnreachableError (network failure or timeout). Network errors, and the
// 429 and 5xx answers the broker marks retryable (BrokerError.Temporary: a
// retryable code, or Retry-After), are retried with jittered exponential
// backoff, honouring Retry-After (seconds or an HTTP date); a permanent
// failure such as 500 broker_misconfigured is returned at once. Redirects are not followed (an
// *http.Client in Options is used through a copy that refuses them), so the
// token never travels to another URL.
//
// The broker URL must be https, or plain http to a loopback host
// (127.0.0.0/8, ::1, or "localhost" if it resolves to loopback addresses
// only) — the rule the AWS SDKs apply to AWS_CONTAINER_CREDENTIALS_FULL_URI,
// without its ECS and EKS agent addresses — unless Options.AllowInsecureHTTP
// is set.
//
// # Caching and concurrency
//
// A Provider does not cache: every Retrieve calls the broker. It reports the
// real expiry (CanExpire, Expires) so that aws.NewCredentialsCache refreshes
// it ahead of time and de-duplicates concurrent refreshes. NewCached and
// Cached return that wrapping with a five-minute expiry window; use them as
// aws.Config.Credentials. A Provider is safe for concurrent use; so are the
// TokenSource implementations of this package, and any TokenSource given to
// New must be.
//
// # Without this package
//
// The broker answers in the container-credentials format, so any AWS SDK or
// the AWS CLI can use it with no code:
//
//	AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/v1/credentials
//	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/path/to/jwt   # no trailing newline
//
// and as a credential_process through the tvm-creds command
// (github.com/tvmkit/tvm/client/cmd/tvm-creds).
package client
