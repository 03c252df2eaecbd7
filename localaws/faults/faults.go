// Package faults is the local AWS's fault injection: what STS and DynamoDB
// do wrong, so that tests and people can watch the broker (and any client)
// through throttling, latency, an STS outage, refused credentials, sessions
// that expire early and DynamoDB throttling.
//
// A Spec says which faults are on. It is set when tvm-local starts (flags
// --fault-*, see Flags) and changed while it runs through the admin API,
// which tvm-local serves on a separate loopback-only listener
// (--admin-listen), never on the public endpoint:
//
//	GET    /faults   200 {"spec":{...},"injected":{...}}
//	PUT    /faults   a Spec as JSON (unknown fields refused); replaces the spec; answers as GET
//	DELETE /faults   no faults; answers as GET
//
// The Spec's JSON, every member optional:
//
//	{"sts": {"throttle_share": 0.5, "latency": "200ms", "down": "reset", "error": "InvalidClientTokenId",
//	         "session_ttl": "2m"},
//	 "dynamodb": {"throttle_share": 1, "throttle_code": "ThrottlingException"}}
//
// Shares are spread evenly, not drawn at random, so that a test can count:
// counting calls from when the spec was set, the first call is throttled,
// then every 1/share-th (a share of 0.5 throttles calls 1, 3, 5, ...; 1
// every call). "injected" counts the faults injected since start.
//
// An Injector is safe for concurrent use.
package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tvmkit/tvm/internal/ctxsleep"
	"github.com/tvmkit/tvm/localaws/awsquery"
	"github.com/tvmkit/tvm/localaws/dynamo"
	"github.com/tvmkit/tvm/localaws/sts"
)

// STS outage modes (STSFaults.Down).
const (
	// DownReset closes each STS connection without an answer (with a TCP
	// reset): what a client of an endpoint that went away sees.
	DownReset = "reset"
	// DownUnavailable answers every STS call 503 ServiceUnavailable.
	DownUnavailable = "unavailable"
)

// DynamoDB throttling codes (DynamoFaults.ThrottleCode).
const (
	CodeThroughputExceeded = "ProvisionedThroughputExceededException"
	CodeThrottling         = "ThrottlingException"
)

// stsErrors are the error codes STSFaults.Error may name, with STS's
// status and message for each.
var stsErrors = map[string]struct {
	status int
	msg    string
}{
	"InvalidClientTokenId":  {http.StatusForbidden, "The security token included in the request is invalid."},
	"SignatureDoesNotMatch": {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
	"ExpiredToken":          {http.StatusBadRequest, "The security token included in the request is expired"},
	"AccessDenied":          {http.StatusForbidden, "User is not authorized to perform: sts:AssumeRole (injected fault)"},
	"InternalFailure":       {http.StatusInternalServerError, "The request processing has failed because of an unknown error, exception or failure."},
}

// Spec is what the local AWS does wrong; the zero value is nothing.
type Spec struct {
	STS      STSFaults    `json:"sts"`
	DynamoDB DynamoFaults `json:"dynamodb"`
}

// STSFaults are the faults of STS (AssumeRole and GetCallerIdentity), in
// the order they apply to a call: latency, then an outage, then an error
// code, then throttling.
type STSFaults struct {
	// ThrottleShare (0 to 1) of calls are answered Throttling, "Rate
	// exceeded", HTTP 400, as STS throttles.
	ThrottleShare float64 `json:"throttle_share,omitempty"`
	// Latency is added before every answer.
	Latency Duration `json:"latency,omitempty"`
	// Down makes STS go away: DownReset or DownUnavailable.
	Down string `json:"down,omitempty"`
	// Error answers every call with this AWS error code: InvalidClientTokenId
	// or SignatureDoesNotMatch (the caller's credentials refused, 403),
	// ExpiredToken (400), AccessDenied (403) or InternalFailure (500).
	Error string `json:"error,omitempty"`
	// SessionTTL, when set, caps the life of the sessions AssumeRole issues;
	// the answer's Expiration says so (sessions that expire early).
	SessionTTL Duration `json:"session_ttl,omitempty"`
}

// DynamoFaults are the faults of the DynamoDB endpoint.
type DynamoFaults struct {
	// ThrottleShare (0 to 1) of calls are answered with ThrottleCode,
	// HTTP 400, before they are authorized or served.
	ThrottleShare float64 `json:"throttle_share,omitempty"`
	// ThrottleCode is CodeThroughputExceeded (the default) or CodeThrottling.
	ThrottleCode string `json:"throttle_code,omitempty"`
}

// Duration is a time.Duration written in JSON as Go's duration text ("2m").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"200ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Validate reports the first setting out of range.
func (s Spec) Validate() error {
	_, knownError := stsErrors[s.STS.Error]
	switch {
	case !share(s.STS.ThrottleShare):
		return fmt.Errorf("sts.throttle_share %v: want 0 to 1", s.STS.ThrottleShare)
	case s.STS.Latency < 0 || time.Duration(s.STS.Latency) > time.Minute:
		return fmt.Errorf("sts.latency %v: want 0 to 1m", time.Duration(s.STS.Latency))
	case !slices.Contains([]string{"", DownReset, DownUnavailable}, s.STS.Down):
		return fmt.Errorf("sts.down %q: want %q or %q", s.STS.Down, DownReset, DownUnavailable)
	case s.STS.Error != "" && !knownError:
		return fmt.Errorf("sts.error %q: want one of %q", s.STS.Error, errorCodes())
	case s.STS.SessionTTL < 0 || s.STS.SessionTTL > 0 && time.Duration(s.STS.SessionTTL) < time.Second:
		return fmt.Errorf("sts.session_ttl %v: want 0 (as asked) or at least 1s", time.Duration(s.STS.SessionTTL))
	case !share(s.DynamoDB.ThrottleShare):
		return fmt.Errorf("dynamodb.throttle_share %v: want 0 to 1", s.DynamoDB.ThrottleShare)
	case !slices.Contains([]string{"", CodeThroughputExceeded, CodeThrottling}, s.DynamoDB.ThrottleCode):
		return fmt.Errorf("dynamodb.throttle_code %q: want %q or %q", s.DynamoDB.ThrottleCode, CodeThroughputExceeded, CodeThrottling)
	}
	return nil
}

func share(f float64) bool { return f >= 0 && f <= 1 && !math.IsNaN(f) }

func errorCodes() []string {
	return slices.Sorted(maps.Keys(stsErrors))
}

// Injected counts the faults injected since start.
type Injected struct {
	STSDelayed        int64 `json:"sts_delayed"`
	STSReset          int64 `json:"sts_reset"`
	STSUnavailable    int64 `json:"sts_unavailable"`
	STSErrors         int64 `json:"sts_errors"`
	STSThrottled      int64 `json:"sts_throttled"`
	DynamoDBThrottled int64 `json:"dynamodb_throttled"`
	SessionsShortened int64 `json:"sessions_shortened"`
	STSCalls          int64 `json:"sts_calls"`
	DynamoDBCalls     int64 `json:"dynamodb_calls"`
}

// State is what the admin API answers.
type State struct {
	Spec     Spec     `json:"spec"`
	Injected Injected `json:"injected"`
}

// Injector applies a Spec. Create it with New.
type Injector struct {
	mu       sync.Mutex
	spec     Spec
	injected Injected
	// stsN and dynamoN count the calls since the spec was set.
	stsN, dynamoN int64
	sleep         func(ctx context.Context, d time.Duration) error
}

// New returns an injector of spec.
func New(spec Spec) (*Injector, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &Injector{spec: spec, sleep: ctxsleep.Sleep}, nil
}

// Set replaces the spec.
func (i *Injector) Set(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.spec, i.stsN, i.dynamoN = spec, 0, 0
	return nil
}

// State returns the spec and the counts.
func (i *Injector) State() State {
	i.mu.Lock()
	defer i.mu.Unlock()
	return State{Spec: i.spec, Injected: i.injected}
}

// hit reports whether call n (1-based, since the spec was set) falls in
// share: the calls where ceil(n*share) grows, so call 1 and then every
// 1/share-th.
func hit(n int64, share float64) bool {
	return share > 0 && math.Ceil(float64(n)*share) > math.Ceil(float64(n-1)*share)
}

// stsDecision is what one STS call gets.
type stsDecision struct {
	latency   time.Duration
	down      string
	errCode   string
	throttled bool
}

// decideSTS counts one STS call and decides its faults.
func (i *Injector) decideSTS() stsDecision {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.injected.STSCalls++
	i.stsN++
	f := i.spec.STS
	d := stsDecision{latency: time.Duration(f.Latency), down: f.Down, errCode: f.Error}
	if d.latency > 0 {
		i.injected.STSDelayed++
	}
	switch {
	case d.down == DownReset:
		i.injected.STSReset++
	case d.down == DownUnavailable:
		i.injected.STSUnavailable++
	case d.errCode != "":
		i.injected.STSErrors++
	case hit(i.stsN, f.ThrottleShare):
		d.throttled = true
		i.injected.STSThrottled++
	}
	return d
}

// STS applies the STS faults to one STS request. It returns true when it
// has answered (or dropped) the request, which must then not be served.
func (i *Injector) STS(w http.ResponseWriter, r *http.Request) bool {
	if i == nil {
		return false
	}
	d := i.decideSTS()
	if d.latency > 0 && i.sleep(r.Context(), d.latency) != nil {
		return true // the client went away
	}
	reqID := awsquery.NewRequestID()
	switch {
	case d.down == DownReset:
		resetConnection(w)
	case d.down == DownUnavailable:
		writeSTSError(w, reqID, &awsquery.Error{Status: http.StatusServiceUnavailable, Type: "Receiver", Code: "ServiceUnavailable",
			Message: "Service is unavailable. Please try again later. (injected fault)"})
	case d.errCode != "":
		e := stsErrors[d.errCode]
		writeSTSError(w, reqID, awsquery.Senderf(e.status, d.errCode, "%s", e.msg))
	case d.throttled:
		writeSTSError(w, reqID, awsquery.Senderf(http.StatusBadRequest, "Throttling", "Rate exceeded"))
	default:
		return false
	}
	return true
}

func writeSTSError(w http.ResponseWriter, reqID string, e *awsquery.Error) {
	awsquery.WriteError(w, sts.Namespace, reqID, e)
}

// resetConnection drops the connection under w without an answer, with a
// TCP reset where it can.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No connection to drop (HTTP/2, a recorder): the nearest thing.
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// DynamoDB applies the DynamoDB faults to one DynamoDB request. It returns
// true when it has answered it.
func (i *Injector) DynamoDB(w http.ResponseWriter, _ *http.Request) bool {
	if i == nil {
		return false
	}
	i.mu.Lock()
	i.injected.DynamoDBCalls++
	i.dynamoN++
	f := i.spec.DynamoDB
	throttled := hit(i.dynamoN, f.ThrottleShare)
	if throttled {
		i.injected.DynamoDBThrottled++
	}
	i.mu.Unlock()
	if !throttled {
		return false
	}
	code, msg := f.ThrottleCode, "Rate of requests exceeds the allowed throughput. (injected fault)"
	switch code {
	case "", CodeThroughputExceeded:
		code = CodeThroughputExceeded
		msg = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API. (injected fault)"
	}
	dynamo.WriteError(w, &dynamo.APIError{Status: http.StatusBadRequest, Code: code, Message: msg})
	return true
}

// SessionLifetime returns the cap on a new session's life (0: none) and
// counts a session shortened when asked is longer: identity.Options's
// SessionLifetime.
func (i *Injector) SessionLifetime(asked time.Duration) time.Duration {
	if i == nil {
		return asked
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	ttl := time.Duration(i.spec.STS.SessionTTL)
	if ttl <= 0 || ttl >= asked {
		return asked
	}
	i.injected.SessionsShortened++
	return ttl
}

// errNotLoopback refuses an admin request from another host.
var errNotLoopback = errors.New("the fault injection API answers loopback clients only")

// Handler returns the admin API (see the package documentation). It
// answers loopback clients only; serve it on a loopback listener, never on
// the public endpoint.
func (i *Injector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackClient(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden", "message": errNotLoopback.Error()})
			return
		}
		if r.URL.Path != "/faults" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "message": "the admin API serves /faults"})
			return
		}
		switch r.Method {
		case http.MethodGet:
		case http.MethodDelete:
			_ = i.Set(Spec{})
		case http.MethodPut:
			if err := i.put(r); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_spec", "message": err.Error()})
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT, DELETE")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "message": "GET, PUT or DELETE"})
			return
		}
		writeJSON(w, http.StatusOK, i.State())
	})
}

// put replaces the spec with the request's JSON body.
func (i *Injector) put(r *http.Request) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	var spec Spec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("a Spec as JSON: %w", err)
	}
	return i.Set(spec)
}

// loopbackClient reports whether r comes from a loopback address.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
