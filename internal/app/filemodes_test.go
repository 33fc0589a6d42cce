package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// TestFileModesOnEveryStart loosens the modes of the database, its WAL and
// shared-memory files and the repositories, restarts, and checks that the
// start made them private again.
func TestFileModesOnEveryStart(t *testing.T) {
	dataDir := t.TempDir()
	db := filepath.Join(dataDir, "tend.db")
	repos := filepath.Join(dataDir, "projects")
	repo := filepath.Join(repos, "sockshop.git")
	files := []string{db, db + "-wal", db + "-shm"}
	dirs := []string{repos, repo}

	check := func(t *testing.T, when string) {
		t.Helper()
		for _, p := range files {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), st.Mode().Perm())
			}
		}
		for _, p := range dirs {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if st.Mode().Perm() != 0o700 {
				t.Errorf("%s: %s has mode %v, want 0700", when, filepath.Base(p), st.Mode().Perm())
			}
		}
	}

	a := newApp(t, Options{DataDir: dataDir})
	a.Start()
	c, _ := client.New(a.URL(), a.AdminToken())
	waitReady(t, c)
	if _, err := c.CreateProject(context.Background(), apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	check(t, "first start")

	// Loosen everything while the server runs, as an operator's copy or
	// an older tend might have left them, then restart.
	for _, p := range files {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range dirs {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// Close folds the WAL into the database and removes it; leave empty
	// ones behind as a crash would, with wide modes.
	for _, p := range files[1:] {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	b := newApp(t, Options{DataDir: dataDir})
	check(t, "restart")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
