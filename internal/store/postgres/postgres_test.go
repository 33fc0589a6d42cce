package postgres_test

import (
	"context"
	"testing"
	"time"

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
