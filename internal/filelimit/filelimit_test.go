package filelimit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := map[string]struct {
		path    string
		want    int    // bytes read
		wantErr string // substring; "" = no error
	}{
		"empty":        {path: write("empty", 0), want: 0},
		"at the limit": {path: write("limit", 10), want: 10},
		"over":         {path: write("over", 11), wantErr: "over is larger than 10 bytes"},
		"missing":      {path: filepath.Join(dir, "missing"), wantErr: "missing: no such file"},
		"directory":    {path: dir, wantErr: "read " + dir},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := Read(tc.path, 10)
			if tc.wantErr == "" {
				if err != nil || len(data) != tc.want {
					t.Fatalf("Read = %d bytes, %v; want %d", len(data), err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || data != nil {
				t.Fatalf("Read = %q, %v; want an error with %q", data, err, tc.wantErr)
			}
		})
	}
	var tooLarge *TooLargeError
	if _, err := Read(filepath.Join(dir, "over"), 10); !errors.As(err, &tooLarge) || tooLarge.Limit != 10 {
		t.Errorf("an oversized file's error %v is not a *TooLargeError with the limit", err)
	}
	if _, err := Read(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file's error %v is not fs.ErrNotExist", err)
	}
}
