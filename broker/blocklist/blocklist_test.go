package blocklist

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := map[string]struct {
		in       string
		tenants  []string
		subjects []Entry
		err      string
	}{
		"empty":     {in: ""},
		"comments":  {in: "# nothing\n\n   # indented comment\n"},
		"tenants":   {in: "3\n  a-b  \n3\n", tenants: []string{"3", "a-b"}},
		"subject":   {in: "1 mallory@example.com\n1\tJohn  Smith  \n", subjects: []Entry{{"1", "John  Smith"}, {"1", "mallory@example.com"}}},
		"both":      {in: "1 alice\n2\n", tenants: []string{"2"}, subjects: []Entry{{"1", "alice"}}},
		"crlf":      {in: "3\r\n4 bob\r\n", tenants: []string{"3"}, subjects: []Entry{{"4", "bob"}}},
		"hash mid":  {in: "3 #not-a-comment\n", subjects: []Entry{{"3", "#not-a-comment"}}},
		"control":   {in: "ok\nbad\x01\n", err: "line 2: control character"},
		"long sub":  {in: "1 " + strings.Repeat("é", 257), err: "line 1: subject longer than 256"},
		"long ten":  {in: strings.Repeat("t", 257), err: "line 1: tenant id longer than 256"},
		"not utf-8": {in: "\xff\n", err: "not UTF-8"},
		// A byte-order mark (a Windows editor's save) is not part of the
		// first entry: "\ufeff4" would never match tenant 4.
		"bom": {in: "\ufeff4\n1 bob\n", tenants: []string{"4"}, subjects: []Entry{{"1", "bob"}}},
		// A tenant entry no tenant id can equal would block nothing,
		// silently: refused like any invalid line.
		"zero-width": {in: "4\u200b\n", err: "line 1: tenant id"},
		"latin-2":    {in: "\u0142\n", err: "line 1: tenant id"},
		"wildcard":   {in: "4*\n", err: "line 1: tenant id"},
		"late bom":   {in: "3\n\ufeff4\n", err: "line 2: tenant id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := Parse([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Tenants(); !slices.Equal(got, tc.tenants) && len(got)+len(tc.tenants) > 0 {
				t.Errorf("tenants = %q, want %q", got, tc.tenants)
			}
			if got := s.Subjects(); !slices.Equal(got, tc.subjects) && len(got)+len(tc.subjects) > 0 {
				t.Errorf("subjects = %q, want %q", got, tc.subjects)
			}
		})
	}
}

func TestBlocked(t *testing.T) {
	s, err := Parse([]byte("3\n1 mallory\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, subject string
		scope           Scope
		blocked         bool
	}{
		{"3", "anyone", ScopeTenant, true},
		{"1", "mallory", ScopeSubject, true},
		{"1", "alice", "", false},
		{"2", "mallory", "", false},
		{"33", "x", "", false},
		{"3 ", "x", "", false},
		{"1", "Mallory", "", false},
	}
	for _, tc := range tests {
		if scope, ok := s.Blocked(tc.tenant, tc.subject); scope != tc.scope || ok != tc.blocked {
			t.Errorf("Blocked(%q, %q) = %q %v, want %q %v", tc.tenant, tc.subject, scope, ok, tc.scope, tc.blocked)
		}
	}
}

func TestDiff(t *testing.T) {
	old, _ := Parse([]byte("1\n2\n5 eve\n"))
	next, _ := Parse([]byte("2\n3\n6 mallory\n"))
	c := next.Diff(old)
	if !slices.Equal(c.BlockedTenants, []string{"3"}) || !slices.Equal(c.UnblockedTenants, []string{"1"}) ||
		!slices.Equal(c.BlockedSubjects, []Entry{{"6", "mallory"}}) || !slices.Equal(c.UnblockedSubjects, []Entry{{"5", "eve"}}) {
		t.Errorf("diff = %+v", c)
	}
	if !next.Diff(next).Empty() {
		t.Error("a list differs from itself")
	}
	if c := next.Diff(nil); !slices.Equal(c.BlockedTenants, []string{"2", "3"}) {
		t.Errorf("diff from nothing = %+v", c)
	}
}

// watcher starts a List on a file holding content, with a poll interval
// long enough that the test drives every re-read itself (reload).
func watcher(t *testing.T, content string) (*List, string, *[]Change, *[]error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blocked.txt")
	write(t, path, content)
	changes, errs := new([]Change), new([]error)
	l, err := Watch(context.Background(), Options{Path: path, PollInterval: time.Hour,
		OnChange: func(c Change) { *changes = append(*changes, c) }, OnError: func(err error) { *errs = append(*errs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, path, changes, errs
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestWatchReload(t *testing.T) {
	l, path, changes, errs := watcher(t, "1\n")
	if len(*changes) != 1 || !slices.Equal((*changes)[0].BlockedTenants, []string{"1"}) {
		t.Fatalf("first load: changes %+v", *changes)
	}
	write(t, path, "1\n3\n")
	l.reload()
	if _, ok := l.Blocked("3", "x"); !ok || len(*changes) != 2 || !slices.Equal((*changes)[1].BlockedTenants, []string{"3"}) {
		t.Fatalf("after adding 3: blocked %v, changes %+v", ok, *changes)
	}
	l.reload() // unchanged content: no change reported
	if len(*changes) != 2 {
		t.Errorf("unchanged file reported a change: %+v", *changes)
	}

	// An invalid file keeps the previous list, reported once.
	write(t, path, "3\nbad\x00\n")
	l.reload()
	l.reload()
	if _, ok := l.Blocked("1", "x"); !ok || len(*errs) != 1 || !strings.Contains((*errs)[0].Error(), "line 2") {
		t.Fatalf("invalid file: 1 blocked %v, errors %v", ok, *errs)
	}
	if _, err := l.Err(); err == nil {
		t.Error("Err is nil after a refused read")
	}
	// A missing file too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l.reload()
	if _, ok := l.Blocked("3", "x"); !ok || len(*errs) != 2 || !errors.Is((*errs)[1], fs.ErrNotExist) {
		t.Fatalf("missing file: 3 blocked %v, errors %v", ok, *errs)
	}
	// Back to valid: unblocks 1 once read twice, keeps 3.
	write(t, path, "3\n")
	l.reload()
	l.reload()
	if _, ok := l.Blocked("1", "x"); ok || len(*changes) != 3 || !slices.Equal((*changes)[2].UnblockedTenants, []string{"1"}) {
		t.Fatalf("fixed file: 1 blocked %v, changes %+v", ok, *changes)
	}
	if _, err := l.Err(); err != nil {
		t.Errorf("Err after a good read: %v", err)
	}
}

// TestWatchUnblocksOnlyStableContent: a file rewritten in place reads
// empty or short for a moment (truncated, then written). What such a read
// adds is blocked at once, but what it drops stays blocked until the same
// content is read again at the next poll: a blocked tenant polling for
// credentials must not get a fresh session, which no revocation before it
// denies, in the middle of an edit.
func TestWatchUnblocksOnlyStableContent(t *testing.T) {
	type state struct{ blocked, unblocked []string }
	tests := []struct {
		name   string
		start  string
		writes []string
		want   []state // after each read of the last write
	}{
		{"truncated", "3\n4\n", []string{""}, []state{{blocked: []string{"3", "4"}}, {unblocked: []string{"3", "4"}}}},
		{"short", "3\n4\n", []string{"3\n"}, []state{{blocked: []string{"3", "4"}}, {blocked: []string{"3"}, unblocked: []string{"4"}}}},
		{"mixed", "3\n", []string{"5\n"}, []state{{blocked: []string{"3", "5"}}, {blocked: []string{"5"}, unblocked: []string{"3"}}}},
		{"edit settles", "3\n4\n", []string{"", "3\n4\n5\n"}, []state{{blocked: []string{"3", "4", "5"}}, {blocked: []string{"3", "4", "5"}}}},
		{"only blocks", "3\n", []string{"3\n6\n"}, []state{{blocked: []string{"3", "6"}}, {blocked: []string{"3", "6"}}}},
		// Two reads with another in between are not two consecutive reads.
		{"not consecutive", "3\n4\n", []string{"3\n", "3\n4\n", "3\n"}, []state{{blocked: []string{"3", "4"}}, {blocked: []string{"3"}, unblocked: []string{"4"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, path, _, _ := watcher(t, tc.start)
			for _, w := range tc.writes {
				write(t, path, w)
				l.reload()
			}
			for i, st := range tc.want {
				if i > 0 {
					l.reload()
				}
				for _, tn := range st.blocked {
					if _, ok := l.Blocked(tn, "x"); !ok {
						t.Errorf("read %d: %s not blocked", i+1, tn)
					}
				}
				for _, tn := range st.unblocked {
					if _, ok := l.Blocked(tn, "x"); ok {
						t.Errorf("read %d: %s still blocked", i+1, tn)
					}
				}
			}
		})
	}
}

func TestWatchRefusesBadStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	write(t, bad, "\x01\n")
	for name, path := range map[string]string{"missing": filepath.Join(dir, "none.txt"), "invalid": bad, "directory": dir, "no path": ""} {
		t.Run(name, func(t *testing.T) {
			if l, err := Watch(context.Background(), Options{Path: path}); err == nil {
				l.Close()
				t.Fatal("Watch accepted it")
			}
		})
	}
}

// TestWatchPolls: the polling goroutine picks a change up by itself.
func TestWatchPolls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blocked.txt")
	write(t, path, "")
	got := make(chan Change, 4)
	l, err := Watch(context.Background(), Options{Path: path, PollInterval: time.Millisecond, OnChange: func(c Change) { got <- c }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	write(t, path, "7\n")
	if c := <-got; !slices.Equal(c.BlockedTenants, []string{"7"}) {
		t.Errorf("change = %+v", c)
	}
	if _, ok := l.Blocked("7", "s"); !ok {
		t.Error("7 not blocked after the change was reported")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("3\n1 mallory\n# c\n")
	f.Add("\xff")
	f.Add(" a \t b c \r\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse([]byte(in))
		if err != nil {
			return
		}
		for _, tn := range s.Tenants() {
			if tn == "" || strings.ContainsFunc(tn, func(r rune) bool { return r == ' ' || r == '\t' }) || strings.HasPrefix(tn, "#") {
				t.Fatalf("tenant %q from %q", tn, in)
			}
			if _, ok := s.Blocked(tn, "anyone"); !ok {
				t.Fatalf("listed tenant %q not blocked", tn)
			}
		}
		for _, e := range s.Subjects() {
			if e.Subject == "" || e.Subject != strings.TrimSpace(e.Subject) {
				t.Fatalf("subject %q from %q", e.Subject, in)
			}
		}
	})
}
