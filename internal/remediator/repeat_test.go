package remediator

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/testenv"
)

// txCounter counts the write transactions a recorder opens.
type txCounter struct {
	store.Store
	txs atomic.Int64
}

func (c *txCounter) WithTx(ctx context.Context, fn func(tx store.Tx) error) error {
	c.txs.Add(1)
	return c.Store.WithTx(ctx, fn)
}

// twoHandles opens two stores on one database, as two replicas would.
type twoHandles func(t testing.TB) (a, b store.Store)

func sqliteHandles(t testing.TB) (store.Store, store.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tend.db")
	return openSQLite(t, path), openSQLite(t, path)
}

func openSQLite(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func postgresHandles(t testing.TB) (store.Store, store.Store) {
	t.Helper()
	url := testenv.PostgresURL(t)
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	return open(), open()
}

func TestRepeatNeedsNoWriteAndSeesACloseAtOnce(t *testing.T) {
	for name, handles := range map[string]twoHandles{"sqlite": sqliteHandles, "postgres": postgresHandles} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := handles(t)
			shipyard := "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: sockshop}\nspec:\n  stages:\n    - name: production\n"
			if _, err := a.CreateProject(ctx, store.NewProject{Name: "sockshop", Shipyard: []byte(shipyard)}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.CreateService(ctx, "sockshop", "carts"); err != nil {
				t.Fatal(err)
			}
			ca, cb := &txCounter{Store: a}, &txCounter{Store: b}
			ra := newTestRecorder(t, ca)
			rb := newTestRecorder(t, cb)
			alert := func(key string, state intake.State) intake.Notification {
				n := intake.Notification{Source: intake.SourceAlertmanager, Key: key, State: state,
					Project: "sockshop", Stage: "production", Service: "carts", Title: "response_time_p90", KeptnContext: "ctx-" + key}
				if state == intake.StateClosed {
					n.EndsAt = time.Now()
				}
				return n
			}
			unmatched := intake.Notification{Source: intake.SourceAlertmanager, Key: "alertmanager/sockshop/u/1", State: intake.StateOpen,
				Project: "sockshop", Unmatched: "no service: the alert has no \"service\" label", KeptnContext: "ctx-u"}
			batch := intake.Batch{Notifications: []intake.Notification{
				alert("alertmanager/sockshop/a/1", intake.StateOpen), alert("alertmanager/sockshop/b/1", intake.StateOpen), unmatched,
			}}

			first, err := ra.Record(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if got := ca.txs.Load(); got != 1 {
				t.Fatalf("the first delivery took %d write transactions, want 1", got)
			}

			// The repeat, through either handle, writes nothing and names
			// the same problems.
			for i, rec := range []struct {
				r *Recorder
				c *txCounter
			}{{ra, ca}, {rb, cb}} {
				before := rec.c.txs.Load()
				again, err := rec.r.Record(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if got := rec.c.txs.Load() - before; got != 0 {
					t.Errorf("handle %d: a repeat took %d write transactions, want none", i, got)
				}
				for j, o := range again {
					want := intake.Duplicate
					if j == 2 {
						want = intake.Unmatched
					}
					if o.Verdict != want || o.ProblemID != first[j].ProblemID || o.Key != first[j].Key {
						t.Errorf("handle %d, alert %d: %s of problem %s, want %s of %s", i, j, o.Verdict, o.ProblemID, want, first[j].ProblemID)
					}
				}
			}

			// A close on the other handle is seen by the next repeat at
			// once: no cache stands between the read and the database.
			closed, err := rb.Record(ctx, intake.Batch{Notifications: []intake.Notification{alert("alertmanager/sockshop/a/1", intake.StateClosed)}})
			if err != nil {
				t.Fatal(err)
			}
			if closed[0].Verdict != intake.Closed {
				t.Fatalf("the resolved alert was %s, want closed", closed[0].Verdict)
			}
			before := ca.txs.Load()
			after, err := ra.Record(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if after[0].Verdict != intake.Duplicate || after[0].Reason != "late notification of a problem already closed" {
				t.Errorf("a firing repeat after the close: %s (%s), want a duplicate of a closed problem", after[0].Verdict, after[0].Reason)
			}
			if after[1].Reason != "duplicate notification of an open problem" {
				t.Errorf("the other alert: %s (%s), want a duplicate of an open problem", after[1].Verdict, after[1].Reason)
			}
			if got := ca.txs.Load() - before; got != 0 {
				t.Errorf("a repeat after the close took %d write transactions, want none", got)
			}

			// A batch with one new alert goes through the transaction,
			// and answers the repeats in it as duplicates.
			before = ca.txs.Load()
			mixed, err := ra.Record(ctx, intake.Batch{Notifications: []intake.Notification{
				alert("alertmanager/sockshop/b/1", intake.StateOpen), alert("alertmanager/sockshop/c/1", intake.StateOpen),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := ca.txs.Load() - before; got != 1 {
				t.Errorf("a batch with a new alert took %d write transactions, want 1", got)
			}
			if mixed[0].Verdict != intake.Duplicate || mixed[1].Verdict == intake.Duplicate || !mixed[1].Created {
				t.Errorf("verdicts %s, %s: want a duplicate and a new problem", mixed[0].Verdict, mixed[1].Verdict)
			}
		})
	}
}

// TestRepeatPlacementIsReadEveryTime checks the placement half of the
// repeat path's one read: alerts placed nowhere (a stage or service that
// does not exist) repeat without a write too, and a project deleted on
// another replica and made again with other stages is seen by the next
// delivery: its alert is placed by the new shipyard, not by the one the
// earlier deliveries read.
func TestRepeatPlacementIsReadEveryTime(t *testing.T) {
	for name, handles := range map[string]twoHandles{"sqlite": sqliteHandles, "postgres": postgresHandles} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := handles(t)
			shipyard := func(stage string) []byte {
				return []byte("apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: sockshop}\nspec:\n  stages:\n    - name: " + stage + "\n")
			}
			makeProject := func(stage string) {
				t.Helper()
				if _, err := b.CreateProject(ctx, store.NewProject{Name: "sockshop", Shipyard: shipyard(stage)}); err != nil {
					t.Fatal(err)
				}
				if _, err := b.CreateService(ctx, "sockshop", "carts"); err != nil {
					t.Fatal(err)
				}
			}
			makeProject("production")
			ca := &txCounter{Store: a}
			ra := newTestRecorder(t, ca)
			alert := func(key, stage, service string) intake.Notification {
				return intake.Notification{Source: intake.SourceAlertmanager, Key: key, State: intake.StateOpen,
					Project: "sockshop", Stage: stage, Service: service, Title: "response_time_p90", KeptnContext: "ctx-" + key}
			}
			batch := intake.Batch{Project: "sockshop", Credential: "intake token", Notifications: []intake.Notification{
				alert("alertmanager/sockshop/a/1", "production", "carts"),
				alert("alertmanager/sockshop/b/1", "staging", "carts"),
				alert("alertmanager/sockshop/c/1", "production", "orders"),
				{Source: intake.SourceAlertmanager, Key: "alertmanager/other/d/1", State: intake.StateOpen,
					Project: "other", Stage: "production", Service: "carts", KeptnContext: "ctx-d"},
			}}
			first, err := ra.Record(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			want := []intake.Verdict{intake.Recorded, intake.Unmatched, intake.Unmatched, intake.Unmatched}
			for i, o := range first {
				if o.Verdict != want[i] || o.ProblemID == "" {
					t.Fatalf("first delivery, alert %d: %s of %q (%s), want %s", i, o.Verdict, o.ProblemID, o.Reason, want[i])
				}
			}

			before := ca.txs.Load()
			again, err := ra.Record(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if got := ca.txs.Load() - before; got != 0 {
				t.Errorf("a repeat with unplaced alerts took %d write transactions, want none", got)
			}
			for i, o := range again {
				want := []intake.Verdict{intake.Duplicate, intake.Unmatched, intake.Unmatched, intake.Unmatched}[i]
				sameReason := i == 0 || o.Reason == first[i].Reason
				if o.Verdict != want || o.ProblemID != first[i].ProblemID || !sameReason {
					t.Errorf("repeat, alert %d: %s of %q (%s), want %s of %q (%s)", i, o.Verdict, o.ProblemID, o.Reason, want, first[i].ProblemID, first[i].Reason)
				}
			}

			// A delivery of several projects (Alertmanager grouping by
			// alertname only) repeats without a write too, and so does an
			// empty one.
			several := intake.Batch{Notifications: batch.Notifications}
			if _, err := ra.Record(ctx, several); err != nil {
				t.Fatal(err)
			}
			before = ca.txs.Load()
			for _, b := range []intake.Batch{several, {}} {
				out, err := ra.Record(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				for i, o := range out {
					if o.Verdict != intake.Duplicate && o.Verdict != intake.Unmatched {
						t.Errorf("alert %d of a repeated delivery of several projects: %s", i, o.Verdict)
					}
				}
				if len(out) != len(b.Notifications) {
					t.Errorf("%d outcomes for %d notifications", len(out), len(b.Notifications))
				}
			}
			if got := ca.txs.Load() - before; got != 0 {
				t.Errorf("a repeated delivery of several projects and an empty one took %d write transactions, want none", got)
			}

			// The other replica deletes the project and makes it again
			// without the stage production.
			if err := b.DeleteProject(ctx, "sockshop"); err != nil {
				t.Fatal(err)
			}
			makeProject("staging")
			after, err := ra.Record(ctx, intake.Batch{Notifications: batch.Notifications[:1]})
			if err != nil {
				t.Fatal(err)
			}
			if o := after[0]; o.Verdict != intake.Unmatched || !o.Created || o.ProblemID == first[0].ProblemID ||
				o.Reason != `stage "production" is not a stage of project sockshop (its stages: staging)` {
				t.Errorf("the alert after the project was made again: %s of %q (%s), want a new unmatched problem for its stage", o.Verdict, o.ProblemID, o.Reason)
			}
		})
	}
}

func newTestRecorder(t testing.TB, st RecorderStore) *Recorder {
	t.Helper()
	r, err := NewRecorder(RecorderOptions{Store: st, Resources: noResources{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
