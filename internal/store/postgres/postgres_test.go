package postgres_test

import (
	"context"
	"errors"
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
		s, err := postgres.Open(context.Background(), url, postgres.Options{Now: now, DatabaseClock: now})
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

// TestReplicasAgreeOnTheDatabaseClock opens three replicas on one database,
// one with a right clock and two whose clocks are an hour ahead and behind.
// Leases and due dates follow the database's now(), so neither skewed
// replica can take a job held under an unexpired lease, nor hold one past
// its expiry, nor set a timer an hour off.
func TestReplicasAgreeOnTheDatabaseClock(t *testing.T) {
	testenv.Require(t, testenv.Postgres)
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	replica := func(skew time.Duration) store.Store {
		s, err := postgres.Open(ctx, url, postgres.Options{Now: func() time.Time { return time.Now().Add(skew) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	right, ahead, behind := replica(0), replica(time.Hour), replica(-time.Hour)
	skewed := map[string]store.Store{"ahead": ahead, "behind": behind}
	// far is a bound between the replicas' disagreement (an hour) and the
	// leases and delays used here (minutes).
	const far = 30 * time.Minute

	claim := func(t *testing.T, s store.Store, kind, worker string, lease time.Duration) []store.Job {
		t.Helper()
		jobs, err := s.ClaimJobs(ctx, store.Claim{Kinds: []string{kind}, Worker: worker, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	enqueue := func(t *testing.T, kind string) int64 {
		t.Helper()
		ids, err := right.EnqueueJobs(ctx, store.JobSpec{Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		return ids[0]
	}

	for name, s := range skewed {
		t.Run("a replica "+name+" cannot take an unexpired lease", func(t *testing.T) {
			kind := "held-" + name
			enqueue(t, kind)
			if got := claim(t, right, kind, "right", 10*time.Minute); len(got) != 1 {
				t.Fatalf("the right replica claimed %d jobs, want 1", len(got))
			}
			if got := claim(t, s, kind, name, time.Minute); len(got) != 0 {
				t.Fatalf("the replica %s claimed a job held under an unexpired lease: %+v", name, got[0])
			}
			// And the other way round.
			kind = "held-by-" + name
			enqueue(t, kind)
			if got := claim(t, s, kind, name, 10*time.Minute); len(got) != 1 {
				t.Fatalf("the replica %s claimed %d jobs, want 1", name, len(got))
			}
			if got := claim(t, right, kind, "right", time.Minute); len(got) != 0 {
				t.Fatalf("the right replica claimed a job the replica %s holds under an unexpired lease: %+v", name, got[0])
			}
		})

		t.Run("a replica "+name+" holds a lease only until it expires", func(t *testing.T) {
			kind := "expiring-" + name
			id := enqueue(t, kind)
			const lease = 100 * time.Millisecond
			got := claim(t, s, kind, name, lease)
			if len(got) != 1 {
				t.Fatalf("the replica %s claimed %d jobs, want 1", name, len(got))
			}
			held := got[0]
			if d := time.Until(held.LeaseUntil); d > far || d < -far {
				t.Fatalf("lease of the replica %s ends %v from now, want about %v", name, d, lease)
			}
			// The right replica takes the job over once the lease
			// expired by the database's clock; the bound only stops a
			// broken store from hanging the test.
			deadline := time.Now().Add(time.Minute)
			for {
				got := claim(t, right, kind, "right", time.Minute)
				if len(got) == 1 {
					if got[0].ID != id {
						t.Fatalf("took over job %d, want %d", got[0].ID, id)
					}
					break
				}
				if time.Now().After(deadline) {
					j, _ := right.GetJob(ctx, id)
					t.Fatalf("the lease of the replica %s was still held after a minute: lease until %v", name, j.LeaseUntil)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := s.ExtendJobLease(ctx, held.Lease, time.Hour); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("extending the expired lease = %v, want ErrLeaseLost", err)
			}
		})

		t.Run("a replica "+name+" sets timers by the database clock", func(t *testing.T) {
			kind := "timer-" + name
			ids, err := s.EnqueueJobs(ctx, store.JobSpec{Kind: kind, After: 5 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			j, err := s.GetJob(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(j.RunAt); d > far || d < 0 {
				t.Fatalf("a job due in 5m from the replica %s is due %v from now", name, d)
			}
			if got := claim(t, right, kind, "right", time.Minute); len(got) != 0 {
				t.Fatal("a job due in 5 minutes was claimed at once")
			}

			kind = "reschedule-" + name
			enqueue(t, kind)
			got := claim(t, s, kind, name, time.Minute)
			if len(got) != 1 {
				t.Fatalf("claimed %d jobs, want 1", len(got))
			}
			if err := s.RescheduleJob(ctx, got[0].Lease, store.Reschedule{After: 5 * time.Minute}); err != nil {
				t.Fatal(err)
			}
			j, err = s.GetJob(ctx, got[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(j.RunAt); d > far || d < 0 {
				t.Fatalf("a job rescheduled 5m ahead by the replica %s is due %v from now", name, d)
			}
		})
	}
}
