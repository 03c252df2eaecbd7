package vend

import (
	"crypto/sha256"
	"encoding/hex"
)

// hash8 recomputes, for the tests' expectations, the hash part of a
// per-subject session name (profiles.SessionName): the first 8 hex digits
// of sha256(subject).
func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
