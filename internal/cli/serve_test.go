package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestServeBadFlagsExit2(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"log level", []string{"--log-level", "loud"}, "--log-level"},
		{"log format", []string{"--log-format", "xml"}, "--log-format"},
		{"database", []string{"--database", "mysql://x"}, "postgres://"},
		{"body limit", []string{"--max-body-bytes", "0"}, "--max-body-bytes"},
		{"argument", []string{"extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", append([]string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, tt.args...)...)
			if r.code != ExitBadInput || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 mentioning %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRunsAndStops(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Setenv(envDataDir, dataDir) // the environment sets the flag
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, strings.NewReader(""), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read the address line: %v (stderr %s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(strings.TrimPrefix(line, "tend is serving on "))
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "    "+strings.TrimSpace(string(tok))+"\n") {
		t.Errorf("stderr does not show the admin token once: %s", stderr.String())
	}
	if strings.Count(stderr.String(), strings.TrimSpace(string(tok))) != 1 {
		t.Error("the admin token appears more than once (a log line must never carry it)")
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d after SIGTERM-like cancel; stderr %s", code, stderr.String())
	}
}
