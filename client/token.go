package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxTokenFileBytes bounds what FileToken reads: a JWT is a few KiB at most.
const maxTokenFileBytes = 64 << 10

// TokenSource supplies the JWT presented to the broker. Token is called once
// per Retrieve; implementations must be safe for concurrent use by multiple
// goroutines and should honour ctx.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to a TokenSource, e.g. one that asks an
// identity provider for a fresh token. The function must be safe for
// concurrent use.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

type staticToken string

// Token returns the static token.
func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

// StaticToken returns a TokenSource that always returns token.
func StaticToken(token string) TokenSource { return staticToken(token) }

// FileToken returns a TokenSource that reads the token from the file at path
// on every call, the way the AWS SDKs read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
// so a rotated token (rewritten in place, or swapped in by a Kubernetes
// projected volume) is used by the next Retrieve. One trailing newline ("\n"
// or "\r\n") is removed; an empty token, one with CR or LF inside, or a file
// over 64 KiB is an error.
func FileToken(path string) TokenSource { return fileToken(path) }

type fileToken string

// Token reads the file's token.
func (f fileToken) Token(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	path := string(f)
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("tvm client: token file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("tvm client: token file: %w", err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("tvm client: token file %s: larger than %d bytes", path, maxTokenFileBytes)
	}
	tok, err := trimToken(string(data))
	if err != nil {
		return "", fmt.Errorf("tvm client: token file %s: %w", path, err)
	}
	return tok, nil
}

// trimToken removes one trailing newline and checks what is left.
func trimToken(s string) (string, error) {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s, _ = strings.CutSuffix(t, "\r")
	}
	return s, checkToken(s)
}

var (
	errEmptyToken   = errors.New("empty token")
	errTokenNewline = errors.New("token contains a CR or LF character")
)

// checkToken refuses tokens that cannot be sent in a header. The token itself
// never appears in the error.
func checkToken(s string) error {
	if strings.TrimSpace(s) == "" {
		return errEmptyToken
	}
	if strings.ContainsAny(s, "\r\n") {
		return errTokenNewline
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("token contains a control character")
		}
	}
	return nil
}
