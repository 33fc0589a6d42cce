package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// testProjectGenerations checks that a project deleted and created again
// under its old name starts empty: its problems, remediations and events
// belong to the deleted generation (Project.UID), which queries by name no
// longer select, and a problem key of the old generation is free again.
func testProjectGenerations(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	first, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("x")})
	must(t, err)
	if first.UID == "" {
		t.Fatal("CreateProject gave the project no UID")
	}
	if got, err := s.GetProject(c, "sockshop"); err != nil || got.UID != first.UID {
		t.Fatalf("GetProject = %+v, %v; want UID %q", got, err, first.UID)
	}
	const key = "alertmanager/sockshop/fp1/t1"
	must(t, inTx(c, s, func(tx store.Tx) error {
		p, err := tx.InsertProblem(c, problem("old-p", key, "sockshop", store.ProblemOpen))
		if err != nil {
			return err
		}
		if p.ProjectUID != first.UID {
			return fmt.Errorf("inserted problem has project UID %q, want %q", p.ProjectUID, first.UID)
		}
		r, err := tx.CreateRemediation(c, remediation("old-r", "sockshop", "carts"))
		if err != nil {
			return err
		}
		if r.ProjectUID != first.UID {
			return fmt.Errorf("created remediation has project UID %q, want %q", r.ProjectUID, first.UID)
		}
		_, err = tx.AppendEvents(c, store.EventRecord{ID: "old-e", Source: "test", Type: "sh.keptn.event.x", Project: "sockshop", JSON: []byte(`{}`)})
		return err
	}))

	// Deleting in a transaction sees the running remediation it must end.
	must(t, inTx(c, s, func(tx store.Tx) error {
		running, err := tx.RunningRemediations(c, "sockshop")
		if err != nil {
			return err
		}
		if len(running) != 1 || running[0].ID != "old-r" {
			return fmt.Errorf("RunningRemediations = %+v, want old-r", running)
		}
		if uid, err := tx.ProjectUID(c, "sockshop"); err != nil || uid != first.UID {
			return fmt.Errorf("ProjectUID = %q, %v; want %q", uid, err, first.UID)
		}
		r := running[0]
		r.State, r.Running = "stopped", false
		if _, err := tx.UpdateRemediation(c, r); err != nil {
			return err
		}
		return tx.DeleteProject(c, "sockshop")
	}))
	must(t, inTx(c, s, func(tx store.Tx) error {
		_, err := tx.ProjectUID(c, "sockshop")
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("ProjectUID of a deleted project: %v, want ErrNotFound", err)
		}
		return nil
	}))

	second, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("x")})
	must(t, err)
	if second.UID == "" || second.UID == first.UID {
		t.Fatalf("the project created again has UID %q; want a new one (the first was %q)", second.UID, first.UID)
	}
	if _, err := s.GetProblemByKey(c, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetProblemByKey of the old generation's key: %v, want ErrNotFound", err)
	}
	pp, err := s.ListProblems(c, store.ProblemFilter{Project: "sockshop"})
	must(t, err)
	rp, err := s.ListRemediations(c, store.RemediationFilter{Project: "sockshop"})
	must(t, err)
	ep, err := s.ListEvents(c, store.EventFilter{Project: "sockshop", CountTotal: true})
	must(t, err)
	since, err := s.EventsSince(c, "sockshop", 0, 10)
	must(t, err)
	if len(pp.Problems) != 0 || len(rp.Remediations) != 0 || len(ep.Events) != 0 || ep.TotalCount != 0 || len(since) != 0 {
		t.Errorf("the new project sees %d problems, %d remediations, %d (%d) events, %d streamed events of the old one; want none",
			len(pp.Problems), len(rp.Remediations), len(ep.Events), ep.TotalCount, len(since))
	}
	// The history stays, under the old generation.
	if old, err := s.GetProblem(c, "old-p"); err != nil || old.ProjectUID != first.UID {
		t.Errorf("GetProblem(old-p) = %+v, %v; want it kept with UID %q", old, err, first.UID)
	}

	// The key is free in the new generation, and is then found there.
	must(t, inTx(c, s, func(tx store.Tx) error {
		p, err := tx.InsertProblem(c, problem("new-p", key, "sockshop", store.ProblemOpen))
		if err != nil {
			return err
		}
		if p.ProjectUID != second.UID {
			return fmt.Errorf("new problem has project UID %q, want %q", p.ProjectUID, second.UID)
		}
		_, err = tx.AppendEvents(c, store.EventRecord{ID: "new-e", Source: "test", Type: "sh.keptn.event.x", Project: "sockshop", JSON: []byte(`{}`)})
		return err
	}))
	if got, err := s.GetProblemByKey(c, key); err != nil || got.ID != "new-p" {
		t.Errorf("GetProblemByKey in the new generation = %+v, %v; want new-p", got, err)
	}
	ep, err = s.ListEvents(c, store.EventFilter{Project: "sockshop"})
	must(t, err)
	if len(ep.Events) != 1 || ep.Events[0].ID != "new-e" {
		t.Errorf("events of the new project = %+v; want only new-e", ep.Events)
	}
}

func remediation(id, project, service string) store.RemediationRecord {
	return store.RemediationRecord{ID: id, Project: project, Stage: "production", Service: service, State: "waiting", Running: true,
		KeptnContext: "ctx-" + id, Doc: []byte(`{}`)}
}

// testCancelJobs checks that CancelJobs withdraws the pending and running
// jobs of a key prefix, and only those: they are never claimed again, and
// the holder of a running one loses its lease.
func testCancelJobs(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	ids, err := s.EnqueueJobs(c,
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r1/start"},
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r10/start"},
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r1/v2/0/settled", RunAt: clk.Now().Add(time.Hour)},
		store.JobSpec{Kind: "k"},
	)
	must(t, err)
	// r1's first job is running, under a lease.
	claimed, err := s.ClaimJobs(c, store.Claim{Worker: "w", Limit: 1})
	must(t, err)
	if len(claimed) != 1 || claimed[0].ID != ids[0] {
		t.Fatalf("claimed %+v, want job %d", claimed, ids[0])
	}
	n, err := s.CancelJobs(c, "remediation/r1/")
	must(t, err)
	if n != 2 {
		t.Errorf("CancelJobs(remediation/r1/) = %d, want 2 (the running one and the timer)", n)
	}
	for _, id := range []int64{ids[0], ids[2]} {
		j, err := s.GetJob(c, id)
		must(t, err)
		if j.State != store.JobCancelled {
			t.Errorf("job %d is %s after CancelJobs, want cancelled", id, j.State)
		}
	}
	mustErr(t, s.CompleteJob(c, claimed[0].Lease), store.ErrLeaseLost)
	clk.Advance(2 * time.Hour)
	rest, err := s.ClaimJobs(c, store.Claim{Worker: "w", Limit: 10})
	must(t, err)
	if len(rest) != 2 || rest[0].ID != ids[1] || rest[1].ID != ids[3] {
		t.Errorf("claimed after CancelJobs: %+v; want only jobs %d and %d", rest, ids[1], ids[3])
	}
	// A finished job stays finished; nothing is left to cancel.
	must(t, s.CompleteJob(c, rest[0].Lease))
	if n, err := s.CancelJobs(c, "remediation/"); err != nil || n != 0 {
		t.Errorf("CancelJobs(remediation/) after the rest finished or was cancelled = %d, %v; want 0", n, err)
	}
	if j, _ := s.GetJob(c, ids[1]); j.State != store.JobDone {
		t.Errorf("a done job became %s", j.State)
	}
	// The key of a cancelled job stays taken: enqueueing it again is the
	// old job, not a new one that would run.
	again, err := s.EnqueueJobs(c, store.JobSpec{Kind: "k", UniqueKey: "remediation/r1/start"})
	must(t, err)
	if again[0] != ids[0] {
		t.Errorf("enqueueing a cancelled job's key gave job %d, want the cancelled %d", again[0], ids[0])
	}
	_, err = s.CancelJobs(c, "")
	mustErr(t, err, store.ErrInvalid)
	// In a transaction, with what it cancels.
	must(t, inTx(c, s, func(tx store.Tx) error {
		n, err := tx.CancelJobs(c, "nothing/")
		if err != nil || n != 0 {
			return fmt.Errorf("tx.CancelJobs = %d, %v", n, err)
		}
		return nil
	}))
}
