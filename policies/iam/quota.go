package iam

import "unicode"

// MaxRoleInlinePolicySize is IAM's quota on the inline policies of one role
// together: 10,240 characters, whitespace not counted ("IAM and AWS STS
// quotas": role policy size). PutRolePolicy beyond it fails with
// LimitExceeded.
const MaxRoleInlinePolicySize = 10240

// PolicySize counts a policy document as IAM counts it against its size
// quotas: every character but whitespace.
func PolicySize(doc string) int {
	n := 0
	for _, c := range doc {
		if !unicode.IsSpace(c) {
			n++
		}
	}
	return n
}
