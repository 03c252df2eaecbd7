// Package filelimit reads the small files the project's binaries load
// (configuration, certificates and keys, policy documents) with an upper
// bound, so that a wrong path (a device, a large log) cannot exhaust
// memory.
//
// Read holds no state and is safe for concurrent use.
package filelimit

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError is Read's error for a file larger than its limit.
type TooLargeError struct {
	Path  string
	Limit int
}

// Error returns "PATH is larger than LIMIT bytes".
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.Path, e.Limit)
}

// Read returns the contents of the file at path, refusing a file larger
// than limit bytes. Its errors name path: the open error as package os
// reports it, "read PATH: ...", or a *TooLargeError.
func Read(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, nil
}
