package policies

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// DefaultTenantPattern is the tenant-id pattern used when none is configured:
// an ASCII letter or digit followed by up to 63 letters, digits, '_' or '-'.
const DefaultTenantPattern = `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`

// DefaultLeadingKeyFormat is the partition-key format used when none is
// configured; {tenant} is replaced by the validated tenant id.
const DefaultLeadingKeyFormat = "Tenant#{tenant}"

// TenantPlaceholder is the marker a leading-key format must contain exactly once.
const TenantPlaceholder = "{tenant}"

// MaxTenantLength is the longest tenant id accepted, whatever the pattern says.
const MaxTenantLength = 64

// MaxLeadingKeyLength is the longest formatted leading key accepted. DynamoDB
// partition keys may be up to 2048 bytes, but a session policy must fit in
// 2048 characters altogether.
const MaxLeadingKeyLength = 1024

// ErrInvalidTenant is wrapped by every error LeadingKey returns for a tenant id
// that is refused.
var ErrInvalidTenant = errors.New("invalid tenant id")

// ErrInvalidFormat is wrapped by every error LeadingKey returns for a
// leading-key format that is refused.
var ErrInvalidFormat = errors.New("invalid leading-key format")

var (
	defaultPattern = regexp.MustCompile(DefaultTenantPattern)
	// anchored caches `\A(?:pattern)\z` per pattern source so a custom,
	// unanchored pattern is still matched against the whole tenant id.
	anchored sync.Map // string -> *regexp.Regexp
)

// LeadingKey validates tenant and returns format with {tenant} replaced by it.
//
// The tenant must match pattern in full (nil means DefaultTenantPattern; an
// unanchored pattern is anchored at both ends). Whatever the pattern allows,
// a tenant is refused if it is empty, longer than MaxTenantLength, not ASCII,
// or contains a control character or any of * ? " $ / \ — characters that are
// wildcards, policy-variable syntax, JSON or ARN delimiters. The format must
// contain {tenant} exactly once and none of * ? $ " \ or a control
// character, and the result must be at most
// MaxLeadingKeyLength characters. Errors wrap ErrInvalidTenant or
// ErrInvalidFormat and never echo the tenant id (it is attacker input).
func LeadingKey(format, tenant string, pattern *regexp.Regexp) (string, error) {
	if n := strings.Count(format, TenantPlaceholder); n != 1 {
		return "", fmt.Errorf("%w: must contain %s exactly once, found %d", ErrInvalidFormat, TenantPlaceholder, n)
	}
	if strings.ContainsAny(format, `*?$"\`) || strings.IndexFunc(format, unicode.IsControl) >= 0 {
		// Defence in depth (configuration refuses these too): wildcards,
		// policy-variable syntax, JSON delimiters and control characters.
		return "", fmt.Errorf("%w: must not contain * ? $ \" \\ or control characters", ErrInvalidFormat)
	}
	if err := CheckTenant(tenant, pattern); err != nil {
		return "", err
	}
	key := strings.Replace(format, TenantPlaceholder, tenant, 1)
	if len(key) > MaxLeadingKeyLength {
		return "", fmt.Errorf("%w: formatted key is %d characters, limit %d", ErrInvalidFormat, len(key), MaxLeadingKeyLength)
	}
	return key, nil
}

// CheckTenant reports whether tenant is acceptable under pattern (nil means
// DefaultTenantPattern) and the fixed rules LeadingKey documents. The error
// wraps ErrInvalidTenant.
func CheckTenant(tenant string, pattern *regexp.Regexp) error {
	if tenant == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTenant)
	}
	if len(tenant) > MaxTenantLength {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidTenant, MaxTenantLength)
	}
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: control character at offset %d", ErrInvalidTenant, i)
		case c >= 0x80:
			return fmt.Errorf("%w: non-ASCII byte at offset %d", ErrInvalidTenant, i)
		case strings.IndexByte(`*?"$/\`, c) >= 0:
			return fmt.Errorf("%w: forbidden character %q", ErrInvalidTenant, c)
		}
	}
	re, err := anchor(pattern)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidTenant, err)
	}
	if !re.MatchString(tenant) {
		return fmt.Errorf("%w: does not match the tenant pattern", ErrInvalidTenant)
	}
	return nil
}

// anchor returns pattern anchored at both ends, compiling it once per source
// (patterns come from configuration, so the cache stays small).
func anchor(pattern *regexp.Regexp) (*regexp.Regexp, error) {
	if pattern == nil {
		pattern = defaultPattern
	}
	src := pattern.String()
	if re, ok := anchored.Load(src); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(`\A(?:` + src + `)\z`)
	if err != nil {
		return nil, fmt.Errorf("tenant pattern cannot be anchored: %w", err)
	}
	actual, _ := anchored.LoadOrStore(src, re)
	return actual.(*regexp.Regexp), nil
}
