package faults

import (
	"flag"
	"time"
)

// Flags defines the fault flags on fs, each named prefix + its name
// (tvm-local serve uses the prefix "fault-", tvm-local faults none), and
// returns the function that reads them into a Spec once fs is parsed. It
// is the one home of the flags' names and meanings.
func Flags(fs *flag.FlagSet, prefix string) func() (Spec, error) {
	var (
		spec                  Spec
		latency, ttl          time.Duration
		stsThrottle, ddbShare float64
	)
	fs.Float64Var(&stsThrottle, prefix+"sts-throttle", 0, "`share` (0-1) of STS calls answered Throttling, spread evenly")
	fs.DurationVar(&latency, prefix+"sts-latency", 0, "`delay` added before every STS answer")
	fs.StringVar(&spec.STS.Down, prefix+"sts-down", "", "STS goes away: `mode` reset (connections dropped) or unavailable (503)")
	fs.StringVar(&spec.STS.Error, prefix+"sts-error", "", "answer every STS call with this AWS error `code` (InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken, AccessDenied, InternalFailure)")
	fs.DurationVar(&ttl, prefix+"session-ttl", 0, "cap the life of the sessions AssumeRole issues (`duration`; sessions that expire early)")
	fs.Float64Var(&ddbShare, prefix+"dynamodb-throttle", 0, "`share` (0-1) of DynamoDB calls answered with a throttling error")
	fs.StringVar(&spec.DynamoDB.ThrottleCode, prefix+"dynamodb-throttle-code", "", "DynamoDB throttling `code`: "+CodeThroughputExceeded+" (default) or "+CodeThrottling)
	return func() (Spec, error) {
		out := spec
		out.STS.ThrottleShare, out.STS.Latency, out.STS.SessionTTL = stsThrottle, Duration(latency), Duration(ttl)
		out.DynamoDB.ThrottleShare = ddbShare
		return out, out.Validate()
	}
}
