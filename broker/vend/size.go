package vend

import "log/slog"

// SizeWarnPercent is the share of an STS size limit above which a vend
// logs a warning: the session policy and tags are close to being refused.
const SizeWarnPercent = 80

// SizeNotReported marks a SessionSize field STS did not answer.
const SizeNotReported = -1

// SessionSize is what STS reported about the size of a session: how much
// of its limits the session policy and session tags used. A field is
// SizeNotReported when the answer did not carry it.
//
// Two generations of STS answer differently. Until September 2026 STS
// packed the policy and tags into a compressed form with its own limit and
// reported PackedPolicySize (percent; above 100 the call fails with
// PackedPolicyTooLarge); tvm-local still does. Since then STS has a 4,096-byte
// session token limit instead, reports SessionTokenUtilization (percent of
// it) and SessionTokenSize, and deprecates PackedPolicySize (STS API model,
// Go SDK service/sts v1.51.0).
type SessionSize struct {
	// PackedPolicyPercent is PackedPolicySize.
	PackedPolicyPercent int
	// TokenUtilizationPercent is SessionTokenUtilization.
	TokenUtilizationPercent int
}

// reportSize hands the size to the Observer and warns when either share is
// above SizeWarnPercent.
func (v *Vendor) reportSize(profile string, s SessionSize, log *slog.Logger) {
	v.obs.SessionSize(profile, s.PackedPolicyPercent, s.TokenUtilizationPercent)
	if s.PackedPolicyPercent > SizeWarnPercent || s.TokenUtilizationPercent > SizeWarnPercent {
		log.Warn("the session policy and tags use most of STS's size limit; shorten them before STS refuses the profile",
			"packed_policy_size_percent", s.PackedPolicyPercent, "session_token_utilization_percent", s.TokenUtilizationPercent,
			"warn_above_percent", SizeWarnPercent)
	}
}
