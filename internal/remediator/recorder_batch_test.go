package remediator

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/testenv"
)

// batchShipyard remediates in production and not in dev.
const batchShipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: sockshop}
spec:
  stages:
    - name: dev
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: action
`

// A delivery's new problems are stored together at the end of its
// transaction, and its keys are read at its start: a delivery that names a
// key again, after opening or closing its problem, sees what it did, and
// the problems get sequence numbers in the order of the delivery.
func TestRecordDeliveryThatRepeatsKeys(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), testenv.PostgresURL(t), postgres.Options{})
			if err != nil {
				t.Fatalf("open store: %v", err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			if _, err := st.CreateProject(ctx, store.NewProject{Name: "sockshop", Shipyard: []byte(batchShipyard)}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateService(ctx, "sockshop", "carts"); err != nil {
				t.Fatal(err)
			}
			r, err := NewRecorder(RecorderOptions{Store: st, Resources: noResources{}})
			if err != nil {
				t.Fatal(err)
			}
			alert := func(key, stage string, state intake.State) intake.Notification {
				n := intake.Notification{Source: intake.SourceAlertmanager, Key: key, State: state,
					Project: "sockshop", Stage: stage, Service: "carts", Title: "response_time_p90", KeptnContext: "ctx-" + key}
				if state == intake.StateClosed {
					n.EndsAt = time.Now()
				}
				return n
			}
			unmatched := intake.Notification{Source: intake.SourceAlertmanager, Key: "alertmanager/sockshop/u", State: intake.StateOpen,
				Project: "sockshop", Unmatched: `no "service" label`, KeptnContext: "ctx-u"}
			batch := intake.Batch{Notifications: []intake.Notification{
				alert("alertmanager/sockshop/a", "production", intake.StateOpen), // 0 starts a remediation
				alert("alertmanager/sockshop/b", "production", intake.StateOpen), // 1 joins it
				alert("alertmanager/sockshop/b", "production", intake.StateOpen), // 2 repeats 1
				alert("alertmanager/sockshop/d", "dev", intake.StateOpen),        // 3 recorded
				alert("alertmanager/sockshop/d", "dev", intake.StateClosed),      // 4 closes 3
				unmatched, // 5
				unmatched, // 6 repeats 5
				alert("alertmanager/sockshop/c", "production", intake.StateClosed), // 7 closed when first seen
			}}
			out, err := r.Record(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			want := []intake.Verdict{intake.Started, intake.Joined, intake.Duplicate, intake.Recorded, intake.Closed,
				intake.Unmatched, intake.Unmatched, intake.RecordedClosed}
			for i, o := range out {
				if o.Verdict != want[i] {
					t.Errorf("notification %d (%s): %s (%s), want %s", i, o.Key, o.Verdict, o.Reason, want[i])
				}
			}
			if len(out) != len(want) {
				t.Fatalf("%d outcomes, want %d", len(out), len(want))
			}
			for _, same := range [][2]int{{1, 2}, {3, 4}, {5, 6}} {
				if out[same[0]].ProblemID == "" || out[same[0]].ProblemID != out[same[1]].ProblemID {
					t.Errorf("notifications %d and %d name problems %q and %q, want one", same[0], same[1], out[same[0]].ProblemID, out[same[1]].ProblemID)
				}
			}
			if out[1].RemediationID != out[0].RemediationID || out[0].RemediationID == "" {
				t.Errorf("the joining problem names remediation %q, want %q", out[1].RemediationID, out[0].RemediationID)
			}

			// As stored: one problem per key, in the order of the delivery,
			// the closed one at version 2.
			var seqs []int64
			for _, i := range []int{0, 1, 3, 5, 7} {
				p, err := st.GetProblem(ctx, out[i].ProblemID)
				if err != nil {
					t.Fatalf("problem of notification %d: %v", i, err)
				}
				seqs = append(seqs, p.Seq)
				if i == 3 && (p.State != store.ProblemClosed || p.Version != 2) {
					t.Errorf("problem %s: %s at version %d, want closed at version 2", p.ID, p.State, p.Version)
				}
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Errorf("sequence numbers %v are not in the order of the delivery", seqs)
				}
			}
			page, err := st.ListProblems(ctx, store.ProblemFilter{Project: "sockshop"})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Problems) != 5 {
				t.Errorf("%d problems stored, want 5", len(page.Problems))
			}
			rem, err := st.GetRemediation(ctx, out[0].RemediationID)
			if err != nil {
				t.Fatal(err)
			}
			d, err := decodeRemediation(rem)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Problems) != 2 {
				t.Errorf("the remediation acts on %d problems, want 2 (a and b)", len(d.Problems))
			}
		})
	}
}
