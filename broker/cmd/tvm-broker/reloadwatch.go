package main

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tvmkit/tvm/broker/config"
	"github.com/tvmkit/tvm/internal/filelimit"
	"github.com/tvmkit/tvm/internal/poll"
)

// Reloading on a change of the files (reload.watch). Every poll interval
// the configuration file and every file it names (config.ConfigFiles: the
// policy_dir's files, role_policy_files, the JWT key files; the TLS files
// reload on their own) are read and hashed. A new digest reloads once it
// has stayed the same for one more poll, so a file set being written (an
// editor saving, a copy in progress) is not picked up half-way; a
// Kubernetes ConfigMap volume swaps all its files at once. A reload that
// fails is not retried until the files change again (or SIGHUP).
//
// Why this is safe: a reload swaps in only a configuration that loaded,
// validated, compiled and proved completely, exactly as at start-up, so a
// half-written file is refused and the running configuration stays; the
// debounce only spares the noise of such refusals.

// maxWatchedFileBytes bounds each watched file (the configuration's own
// bound; templates and key files are smaller).
const maxWatchedFileBytes = 1 << 20

// watch starts polling the files every interval; stop ends it and waits.
func (b *service) watch(ctx context.Context, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	applied := b.digest()
	pending := applied
	wg.Go(func() {
		poll.Every(ctx, interval, func() {
			d := b.digest()
			switch {
			case d == applied:
				pending = d
			case d != pending:
				pending = d // changed: wait one more poll for it to settle
			default:
				applied = d
				_ = b.reload(ctx, "file change")
			}
		})
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// digest hashes the configuration file and the files the current
// generation's configuration names; an unreadable file counts by its
// error, so its appearance or disappearance is a change.
func (b *service) digest() [sha256.Size]byte {
	h := sha256.New()
	for _, p := range watchedFiles(b.src.path, b.cur.Load().cfg) {
		h.Write([]byte(p + "\x00"))
		data, err := filelimit.Read(p, maxWatchedFileBytes)
		if err != nil {
			data = []byte("error: " + err.Error())
		}
		sum := sha256.Sum256(data)
		h.Write(sum[:])
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// watchedFiles returns the configuration file and the files cfg names,
// directories expanded to their regular files, in a stable order.
func watchedFiles(path string, cfg *config.Config) []string {
	files, dirs := cfg.ConfigFiles()
	out := append([]string{path}, files...)
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			out = append(out, d) // read as a file: its error is hashed
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	slices.Sort(out[1:])
	return out
}
