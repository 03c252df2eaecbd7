package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tvmkit/tvm/internal/readyaddr"
)

// proc is one server process started by the harness.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // host:port it listens on, from its ready line
	log  string // path of its stdout and stderr
	done chan error
}

// startProc starts bin with args and env (added to the harness's own),
// its output going to dir/name.log, and returns once the process has
// reported the address it bound (its ready line, package readyaddr): args
// make it listen on port 0.
func startProc(name, bin string, args, env []string, dir string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	ready := readyaddr.New()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	w := io.MultiWriter(out, ready.Stream()) // one writer for both: one pipe, whole lines
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		out.Close()
	}()
	select {
	case <-ready.Found():
		p.addr = ready.Addr()
		return p, nil
	case err := <-p.done:
		p.done <- err
		return nil, fmt.Errorf("%s exited before it listened (%v); see %s", name, err, logPath)
	case <-time.After(readyTimeout):
		_ = p.stop()
		return nil, fmt.Errorf("%s reported no address within %s; see %s", name, readyTimeout, logPath)
	}
}

// url returns the process's http URL for path.
func (p *proc) url(path string) string { return "http://" + p.addr + path }

// waitReady polls path until it answers 200, the process exits or timeout
// passes.
func (p *proc) waitReady(path string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.name, err, p.log)
		default:
		}
		if res, err := client.Get(p.url(path)); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after %s; see %s", p.name, p.url(path), timeout, p.log)
}

// stop sends SIGTERM and waits for the process (killing it after 30 s).
func (p *proc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30s: killed", p.name)
	}
}

// rss returns the process's resident set size in bytes (VmRSS).
func (p *proc) rss() (int64, error) {
	return procStatus(p.cmd.Process.Pid, "VmRSS:")
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// buildBinaries builds tvm-broker and tvm-local from the module at root
// into dir.
func buildBinaries(ctx context.Context, root, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./broker/cmd/tvm-broker", "./localaws/cmd/tvm-local")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the CPU model name from /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// cpuTime returns the user and system CPU time the process pid has used
// (/proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its closing ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
