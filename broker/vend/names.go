package vend

import "github.com/tvmkit/tvm/broker/profiles"

// The session's name, source identity and tag values are the compiled
// profile's (package profiles, their one home, which the isolation proof
// shares).

func sessionName(tenant, profile, subject string, perSubject bool) string {
	return profiles.SessionName(tenant, profile, subject, perSubject)
}

func sourceIdentity(subject string) string { return profiles.SourceIdentity(subject) }

func tagValue(template, tenantID, subject string) string {
	return profiles.TagValue(template, tenantID, subject)
}
