package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/store/storetest"
)

func opener(t testing.TB) storetest.Opener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tend.db")
	return func(t testing.TB, now func() time.Time) store.Store {
		t.Helper()
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Harness{Fresh: opener})
}

func TestOpenRefusesEmptyPath(t *testing.T) {
	if _, err := sqlite.Open(context.Background(), "", sqlite.Options{}); err == nil {
		t.Fatal("Open with an empty path succeeded")
	}
}

// BenchmarkAppendParallel measures durable event appends from many
// concurrent callers, each one event per call as the HTTP API does; group
// commit shares fsyncs between them. Reports events/s.
func BenchmarkAppendParallel(b *testing.B) {
	s := opener(b)(b, nil)
	storetest.BenchmarkAppend(b, s)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this tend") {
		t.Fatalf("Open of a newer schema = %v, want a refusal naming the versions", err)
	}
}

// TestMigrateTenants opens a database written before migration 0003 and
// checks that what it held is found under the new keys and UIDs.
func TestMigrateTenants(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`}
	for i, name := range []string{"0001_init.sql", "0002_problems.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, i+1, name))
	}
	for _, q := range append(stmts, storetest.LegacyRows) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckLegacyMigrated(t, s)
}
