package restart

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// TestNoPrintToken starts the real binary for the first time with
// --no-print-token and debug logs: the admin token is in its 0600 file and
// works, and neither stdout nor stderr ever carries it.
func TestNoPrintToken(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	p := tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataDir, Args: []string{"--no-print-token", "--log-level", "debug"}})
	file := filepath.Join(dataDir, "admin-token")
	st, err := os.Stat(file)
	if err != nil {
		t.Fatalf("admin-token file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode %v, want 0600", st.Mode().Perm())
	}
	tok := tendproc.AdminToken(t, dataDir)
	c := tendproc.Client(t, p.URL, tok)
	if _, err := c.ListTokens(context.Background()); err != nil {
		t.Fatalf("the admin token from the file does not work: %v", err)
	}
	srv := &server{p}
	srv.stop(t, syscall.SIGTERM)

	out, errOut := p.Stdout.String(), p.Stderr.String()
	if strings.Contains(out, tok) || strings.Contains(errOut, tok) {
		t.Errorf("the admin token was printed despite --no-print-token\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if !strings.Contains(errOut, "first start") || !strings.Contains(errOut, file) {
		t.Errorf("stderr does not say where the first start's token is:\n%s", errOut)
	}
}
