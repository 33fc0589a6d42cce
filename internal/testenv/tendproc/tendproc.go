// Package tendproc runs the real tend binary as `tend serve` subprocesses
// for the black-box tests under test/: it builds the binary once per test
// binary, starts servers on a port the server picks, waits until they
// answer /readyz, and stops them only by their own pid, so the crash and
// restart tests share one way of handling their children.
package tendproc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/client"
)

// BuildBinary builds cmd/tend into a new temporary folder named after
// prefix. It takes no testing.TB because TestMain, which builds once for
// every test, has none; the caller runs cleanup after m.Run.
func BuildBinary(prefix string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("make a folder for the binary: %w", err)
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, "tend")
	build := exec.Command("go", "build", "-o", bin, "github.com/tendhq/tend/cmd/tend")
	// Built as make build and the container image build it: without cgo.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build ./cmd/tend: %w", err)
	}
	return bin, cleanup, nil
}

// Options say what a server runs on.
type Options struct {
	// DataDir is the --data-dir value.
	DataDir string
	// Database is the --database value; "" keeps SQLite in DataDir.
	Database string
	// Config is the --config file; "" passes none.
	Config string
	// Args are further flags of tend serve, after the ones above (a
	// repeated flag's last value wins, so Args may override
	// --log-level).
	Args []string
}

// Proc is one running `tend serve` subprocess.
type Proc struct {
	// URL is the address the server printed it serves on.
	URL string
	// Stderr collects the server's stderr, for failure messages.
	Stderr *LockedBuffer
	// Stdout collects the server's stdout.
	Stdout *LockedBuffer

	cmd    *exec.Cmd
	exited chan struct{} // closed when Wait returned
	err    error         // Wait's result, read after exited
}

// LockedBuffer collects a server's stderr while the test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; the process writes from its own goroutine.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs bin as `tend serve` with opts on 127.0.0.1:0 and returns once
// /readyz answers. The process is killed with SIGKILL when the test ends
// if it still runs, so no test leaves a server behind.
func Start(t testing.TB, bin string, opts Options) *Proc {
	t.Helper()
	args := []string{"serve", "--data-dir", opts.DataDir, "--listen", "127.0.0.1:0", "--log-level", "warn"}
	if opts.Config != "" {
		args = append(args, "--config", opts.Config)
	}
	if opts.Database != "" {
		args = append(args, "--database", opts.Database)
	}
	args = append(args, opts.Args...)
	p := &Proc{cmd: exec.Command(bin, args...), Stderr: &LockedBuffer{}, Stdout: &LockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "TEND_LISTEN=", "TEND_DATA_DIR=", "TEND_DATABASE=")
	p.cmd.Stderr = p.Stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start tend serve: %v", err)
	}
	t.Cleanup(p.Kill)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = p.Stdout.Write(append(sc.Bytes(), '\n'))
			if u, ok := strings.CutPrefix(sc.Text(), "tend is serving on "); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(p.Stdout, stdout)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.URL = <-urls:
	case <-p.exited:
		t.Fatalf("tend serve exited before serving (%v); stderr:\n%s", p.err, p.Stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("tend serve printed no address within 2 minutes; stderr:\n%s", p.Stderr)
	}
	c, err := client.New(p.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.Ready(context.Background())
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("tend serve at %s not ready within a minute: %v; stderr:\n%s", p.URL, err, p.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid is the process id, for messages.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to this test's own child, by its pid.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the process, by its pid, and waits until it has
// exited; it does nothing when the process already exited.
func (p *Proc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Exited is closed once the process has exited and Err holds Wait's result.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (exec.Cmd.Wait's result); read it only
// after Exited is closed.
func (p *Proc) Err() error { return p.err }

// AdminToken reads the admin token the server wrote to dataDir.
func AdminToken(t testing.TB, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatalf("read the admin token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Main is the body of a black-box test package's TestMain: it builds the
// tend binary once, stores its path in *bin, runs the tests and removes
// the binary again. name says which package failed to build it;
// TestMain passes the result to os.Exit.
func Main(m *testing.M, name string, bin *string) int {
	b, cleanup, err := BuildBinary("tend-" + name + "-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s test: %v\n", name, err)
		return 1
	}
	defer cleanup()
	*bin = b
	return m.Run()
}

// Build builds the tend binary for one test, for packages whose tests
// may skip before they need it; it is removed when the test ends.
func Build(t testing.TB, prefix string) string {
	t.Helper()
	bin, cleanup, err := BuildBinary(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return bin
}

// WriteConfig writes content as dir/tend.yaml and returns its path.
func WriteConfig(t testing.TB, dir, content string) string {
	t.Helper()
	path := filepath.Join(dir, "tend.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write tend.yaml: %v", err)
	}
	return path
}

// Client returns a client of the server at url that sends token.
func Client(t testing.TB, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// AdminClient returns a client of the server at url with the admin token
// written to dataDir.
func AdminClient(t testing.TB, url, dataDir string) *client.Client {
	t.Helper()
	return Client(t, url, AdminToken(t, dataDir))
}
