package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/storetest"
	"github.com/tendhq/tend/internal/testenv"
)

// opener gives each call of Fresh its own database (testenv.PostgresURL),
// so the suite's tests are isolated.
func opener(t testing.TB) storetest.Opener {
	t.Helper()
	url := testenv.PostgresURL(t)
	return func(t testing.TB, now func() time.Time) store.Store {
		t.Helper()
		s, err := postgres.Open(context.Background(), url, postgres.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestStore(t *testing.T) {
	testenv.Require(t, testenv.Postgres) // one skip message, not one per subtest
	storetest.Run(t, storetest.Harness{Fresh: opener, SharedNotify: true})
}

func TestOpenRejectsBadURL(t *testing.T) {
	if _, err := postgres.Open(context.Background(), "postgres://%zz", postgres.Options{}); err == nil {
		t.Fatal("Open with a malformed URL succeeded")
	}
}

// BenchmarkAppendParallel measures durable event appends from many
// concurrent callers on PostgreSQL; see the SQLite benchmark.
func BenchmarkAppendParallel(b *testing.B) {
	s := opener(b)(b, nil)
	storetest.BenchmarkAppend(b, s)
}

// TestMigrateTenants opens a database written before migration 0003 and
// checks that what it held is found under the new keys and UIDs.
func TestMigrateTenants(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`}
	for i, name := range []string{"0001_init.sql", "0002_problems.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, i+1, name))
	}
	for _, q := range append(stmts, storetest.LegacyRows) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)
	s, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckLegacyMigrated(t, s)
}
