package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tvmkit/tvm/broker/auth"
	"github.com/tvmkit/tvm/broker/blocklist"
	"github.com/tvmkit/tvm/broker/errs"
	"github.com/tvmkit/tvm/broker/vend"
	"github.com/tvmkit/tvm/internal/jsondup"
)

// Parameter names and bounds of /v1/credentials.
const (
	paramProfile  = "profile"
	paramDuration = "duration"
	// fieldDuration is the JSON body's name for the duration.
	fieldDuration = "duration_seconds"
	// maxDurationSeconds is STS's absolute maximum; profiles narrow it.
	maxDurationSeconds = 43200
	maxProfileLen      = 64
	outcomeOK          = "ok"
)

// credentialsResponse is the 200 body: credential_process output and a
// container-credentials response at once. writeCredentials encodes it
// without reflection (appendCredentials).
type credentialsResponse struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	AccountID       string `json:"AccountId,omitempty"`
	Tenant          string `json:"Tenant"`
	Profile         string `json:"Profile"`
}

// params are the validated request parameters.
type params struct {
	profile  string
	duration time.Duration
}

func (s *server) credentials(c echo.Context) error {
	start := s.now()
	ctx := c.Request().Context()
	var (
		id    *auth.Identity
		p     params
		creds *vend.Credentials
		err   error
	)
	defer func() {
		if r := recover(); r != nil {
			// Audit the attempt as failed, then let the recover middleware answer.
			s.audit(c, start, id, p, nil, errs.Internal(nil))
			panic(r)
		}
		s.audit(c, start, id, p, creds, err)
	}()

	id, err = s.authenticate(c)
	if err != nil {
		return err
	}
	if err = s.refuseBlocked(id); err != nil {
		return err
	}
	if scope, wait, ok := s.limits.allow(id.Tenant, id.Subject, s.now()); !ok {
		s.metrics.RateLimited(scope)
		err = &errs.Error{
			Kind: errs.KindRateLimited, Code: errs.CodeRateLimited,
			Message: "too many requests", RetryAfter: wait,
		}
		return err
	}
	if p, err = readParams(c); err != nil {
		return err
	}
	creds, err = s.vendor.Vend(ctx, vend.Request{
		Tenant:   id.Tenant,
		Subject:  id.Subject,
		Profile:  p.profile,
		Duration: p.duration,
		Scopes:   id.Scopes,
		NotAfter: id.Expiry, // the session must not outlive the token
	})
	if err != nil {
		return err
	}
	return writeCredentials(c, creds)
}

// authenticate verifies the request's token within the pre-auth limits
// (preauth.go), when there are any.
func (s *server) authenticate(c echo.Context) (*auth.Identity, error) {
	if s.preAuth == nil {
		return s.verify(c)
	}
	// A token the verifier remembers costs no signature check, which is
	// what the limits bound: it neither waits for a slot nor meets its
	// address's bucket (it is valid, so it would give its token back).
	if id, hit, err := s.verifyCached(c); hit {
		return id, err
	}
	s.warnUntrustedXFF(c)
	var id *auth.Identity
	scope, err := s.preAuth.verify(c.Request().Context(), c.RealIP(), s.now, func() (err error) {
		id, err = s.verify(c)
		return err
	})
	switch scope {
	case scopeClient:
		s.metrics.RateLimited(scope)
	case scopeVerification:
		s.metrics.Overloaded(scope)
	}
	return id, err
}

// warnUntrustedXFF logs once, when no proxy is trusted, that a request
// carried X-Forwarded-For: the broker probably runs behind a proxy whose
// address every client then shares for the pre-auth limits.
func (s *server) warnUntrustedXFF(c echo.Context) {
	if s.trustsProxies || c.Request().Header.Get(echo.HeaderXForwardedFor) == "" || s.xffWarned.Swap(true) {
		return
	}
	s.log.Warn("a request carried X-Forwarded-For but no proxy is trusted (pre_auth.trusted_proxies): "+
		"per-client limits apply to the connection's peer, which every client behind a proxy shares",
		slog.String("peer", c.RealIP()))
}

// refuseBlocked returns the 403 of a caller on the block list.
func (s *server) refuseBlocked(id *auth.Identity) error {
	if s.blocks == nil {
		return nil
	}
	scope, blocked := s.blocks.Blocked(id.Tenant, id.Subject)
	if !blocked {
		return nil
	}
	s.metrics.Blocked(string(scope))
	if scope == blocklist.ScopeSubject {
		return errs.New(errs.KindForbidden, errs.CodeSubjectBlocked, "this caller is blocked")
	}
	return errs.New(errs.KindForbidden, errs.CodeTenantBlocked, "this tenant is blocked")
}

// verify passes the Authorization header, as sent, to the verifier.
func (s *server) verify(c echo.Context) (*auth.Identity, error) {
	h, err := authorization(c)
	if err != nil {
		return nil, err
	}
	return withTenant(s.verifier.Verify(c.Request().Context(), h))
}

// verifyCached answers from the verifier's cache of verified tokens when
// it has one (cachedVerifier): hit is false when it cannot answer, and the
// request must be verified.
func (s *server) verifyCached(c echo.Context) (id *auth.Identity, hit bool, err error) {
	cv, ok := s.verifier.(cachedVerifier)
	if !ok {
		return nil, false, nil
	}
	h, err := authorization(c)
	if err != nil {
		return nil, false, nil
	}
	if id, hit, err = cv.VerifyCached(c.Request().Context(), h); !hit {
		return nil, false, nil
	}
	id, err = withTenant(id, err)
	return id, true, err
}

// authorization returns the request's one Authorization header.
func authorization(c echo.Context) (string, error) {
	values := c.Request().Header.Values(echo.HeaderAuthorization)
	switch len(values) {
	case 0:
		return "", errs.InvalidToken("missing Authorization header", nil)
	case 1:
		return values[0], nil
	default:
		return "", errs.InvalidToken("more than one Authorization header", nil)
	}
}

// withTenant passes a verifier's answer on, failing closed on an identity
// without a tenant, which a verifier must never return.
func withTenant(id *auth.Identity, err error) (*auth.Identity, error) {
	if err != nil {
		return nil, err
	}
	if id == nil || id.Tenant == "" {
		return nil, errs.Internal(errors.New("verifier returned no tenant"))
	}
	return id, nil
}

// readParams reads profile and duration from the query string and, for a
// POST, from a JSON or form body. A parameter may be given once.
func readParams(c echo.Context) (params, error) {
	raw := map[string]string{}
	// URL.Query would drop a malformed pair (bad escape, ';') silently and
	// serve the default instead of what was asked for.
	query, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return params{}, errs.Wrap(err, errs.KindInvalidInput, errs.CodeInvalidRequest, "malformed query string")
	}
	if err := addValues(raw, query, "query parameter"); err != nil {
		return params{}, err
	}
	var body bodyParams
	if c.Request().Method == http.MethodPost {
		var err error
		if body, err = readBody(c.Request()); err != nil {
			return params{}, err
		}
		if err := addValues(raw, body.form, "form field"); err != nil {
			return params{}, err
		}
	}
	var p params
	if v, ok := raw[paramProfile]; ok {
		if err := checkProfile(v); err != nil {
			return params{}, err
		}
		p.profile = v
	}
	if body.profile != nil {
		if _, dup := raw[paramProfile]; dup {
			return params{}, errs.InvalidRequest("profile given more than once")
		}
		if err := checkProfile(*body.profile); err != nil {
			return params{}, err
		}
		p.profile = *body.profile
	}
	if v, ok := raw[paramDuration]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || len(v) > 6 || v[0] == '+' || v[0] == '-' {
			return params{}, errs.InvalidRequest("duration must be a whole number of seconds")
		}
		if err := checkDuration(n); err != nil {
			return params{}, err
		}
		p.duration = time.Duration(n) * time.Second
	}
	if body.durationSeconds != nil {
		if _, dup := raw[paramDuration]; dup {
			return params{}, errs.InvalidRequest("duration given more than once")
		}
		if err := checkDuration(*body.durationSeconds); err != nil {
			return params{}, err
		}
		p.duration = time.Duration(*body.durationSeconds) * time.Second
	}
	return p, nil
}

// addValues copies the known parameters of vs into raw; unknown or repeated
// parameters are refused.
func addValues(raw map[string]string, vs url.Values, what string) error {
	for k, v := range vs {
		if k != paramProfile && k != paramDuration {
			return errs.InvalidRequest(fmt.Sprintf("unknown %s %q", what, truncate(k, 32)))
		}
		if _, dup := raw[k]; dup || len(v) != 1 {
			return errs.InvalidRequest(k + " given more than once")
		}
		raw[k] = v[0]
	}
	return nil
}

func checkProfile(v string) error {
	if v == "" || len(v) > maxProfileLen {
		return errs.InvalidRequest("profile must be 1-64 characters of [A-Za-z0-9_.-]")
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-') {
			return errs.InvalidRequest("profile must be 1-64 characters of [A-Za-z0-9_.-]")
		}
	}
	return nil
}

func checkDuration(n int64) error {
	if n < 1 || n > maxDurationSeconds {
		return errs.InvalidRequest(fmt.Sprintf("duration must be between 1 and %d seconds", maxDurationSeconds))
	}
	return nil
}

// bodyParams are the parameters found in a POST body.
type bodyParams struct {
	form            url.Values
	profile         *string
	durationSeconds *int64
}

// readBody reads a POST body: empty, strict JSON or a urlencoded form.
func readBody(r *http.Request) (bodyParams, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return bodyParams{}, nil
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyParams{}, errBodyTooLarge(err)
		}
		return bodyParams{}, errs.Wrap(err, errs.KindInvalidInput, errs.CodeInvalidRequest, "cannot read request body")
	}
	if len(data) == 0 {
		return bodyParams{}, nil
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		mediaType = ""
	}
	switch mediaType {
	case echo.MIMEApplicationJSON:
		return readJSONBody(data)
	case echo.MIMEApplicationForm:
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return bodyParams{}, errs.Wrap(err, errs.KindInvalidInput, errs.CodeInvalidRequest, "invalid form body")
		}
		return bodyParams{form: form}, nil
	}
	return bodyParams{}, errs.New(errs.KindUnsupportedMedia, errs.CodeInvalidRequest,
		"body must be application/json or application/x-www-form-urlencoded")
}

// readJSONBody reads a strict JSON body {"profile":…,"duration_seconds":…}.
// Field names match case-insensitively, as encoding/json matches them to
// struct fields, so {"profile":"a","Profile":"b"} repeats a field
// (jsondup.Fold, at any depth). Problems are reported in this order: a
// member repeated before any syntax error, a syntax error anywhere in the
// value, the first unknown field or mistyped value, trailing data. Errors
// never echo the body beyond a field name.
func readJSONBody(data []byte) (bodyParams, error) {
	if dup, found, _ := jsondup.First(data, jsondup.Fold); found {
		return bodyParams{}, invalidJSON(fmt.Sprintf("field %q given more than once", knownField(dup)))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var b bodyParams
	problem, err := "", error(nil)
	switch tok, terr := dec.Token(); {
	case terr != nil:
		err = terr
	case tok == json.Delim('{'):
		problem, err = readJSONObject(dec, &b)
	case tok == json.Delim('['):
		problem, err = wrongType(""), skipJSONArray(dec)
	case tok != nil: // a string, number or boolean; null means no parameters
		problem = wrongType("")
	}
	switch {
	case err != nil:
		return bodyParams{}, invalidJSON(syntaxProblem(err))
	case problem != "":
		return bodyParams{}, invalidJSON(problem)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bodyParams{}, invalidJSON("trailing data after the object")
	}
	return b, nil
}

// knownField returns the parameter name a member name matches (as
// encoding/json matches it), else the name itself, truncated.
func knownField(name string) string {
	for _, known := range []string{paramProfile, fieldDuration} {
		if strings.EqualFold(name, known) {
			return known
		}
	}
	return truncate(name, 32)
}

// readJSONObject reads the members of an object whose '{' has been read
// into b (readJSONBody has refused repeated members) to the end, and
// returns the first unknown field or mistyped value, or the syntax error
// that ended the object.
func readJSONObject(dec *json.Decoder, b *bodyParams) (problem string, err error) {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		var target any = new(json.RawMessage)
		name := ""
		switch {
		case strings.EqualFold(key, paramProfile):
			name, target = paramProfile, &b.profile
		case strings.EqualFold(key, fieldDuration):
			name, target = fieldDuration, &b.durationSeconds
		case problem == "":
			problem = "unknown field " + truncate(strconv.Quote(key), 34)
		}
		var typeErr *json.UnmarshalTypeError
		switch err := dec.Decode(target); {
		case errors.As(err, &typeErr):
			if problem == "" {
				problem = wrongType(name)
			}
		case err != nil:
			return "", err
		}
	}
	_, err = dec.Token() // the closing '}'
	return problem, err
}

// skipJSONArray reads the rest of an array whose '[' has been read.
func skipJSONArray(dec *json.Decoder) error {
	for dec.More() {
		if err := dec.Decode(new(json.RawMessage)); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func wrongType(field string) string {
	return fmt.Sprintf("field %q has the wrong type", truncate(field, 32))
}

// syntaxProblem describes a syntax error without echoing the input.
func syntaxProblem(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "truncated JSON"
	}
	return "malformed JSON"
}

func invalidJSON(problem string) *errs.Error {
	return errs.InvalidRequest("invalid JSON body: " + problem)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// audit writes the one audit record of a /v1/credentials request and counts
// the vend outcome. It never logs a token, a secret key or a session token.
func (s *server) audit(c echo.Context, start time.Time, id *auth.Identity, p params, creds *vend.Credentials, err error) {
	outcome := outcomeOK
	level := slog.LevelInfo
	if err != nil {
		outcome = toAPIError(err).Code
		level = slog.LevelWarn
	}
	profile := p.profile
	if profile == "" {
		profile = s.defaultProfile
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("request_id", requestIDOf(c)))
	if id != nil {
		attrs = append(attrs, slog.String("tenant", id.Tenant), slog.String("subject", id.Subject))
	} else {
		attrs = append(attrs, slog.String("tenant", ""), slog.String("subject", ""))
	}
	var hash, session, last4, expiration string
	cacheHit := false
	if creds != nil {
		profile = creds.Profile
		hash, session, cacheHit = creds.PolicyHash, creds.SessionName, creds.CacheHit
		last4 = vend.KeySuffix(creds.AccessKeyID)
		expiration = creds.Expiration.UTC().Format(time.RFC3339)
	}
	attrs = append(attrs,
		slog.String("profile", profile),
		slog.String("policy_hash", hash),
		slog.String("session_name", session),
		slog.String("access_key_id_last4", last4),
		slog.String("expiration", expiration),
		slog.Bool("cache_hit", cacheHit),
		slog.String("outcome", outcome),
		slog.Duration("duration", s.now().Sub(start)),
	)
	s.log.LogAttrs(c.Request().Context(), level, "vend", attrs...)
	s.metrics.Vend(profile, outcome)
}
