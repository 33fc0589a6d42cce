package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

func claimOne(t testing.TB, s store.Store, cl store.Claim) (store.Job, bool) {
	t.Helper()
	jobs, err := s.ClaimJobs(ctx(t), cl)
	must(t, err)
	switch len(jobs) {
	case 0:
		return store.Job{}, false
	case 1:
		return jobs[0], true
	}
	t.Fatalf("claimed %d jobs, want at most one", len(jobs))
	return store.Job{}, false
}

func testJobs(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)

	ids, err := s.EnqueueJobs(c,
		store.JobSpec{Kind: "evaluation", Payload: []byte(`{"n":1}`)},
		store.JobSpec{Kind: "remediation.step", Payload: []byte(`{"n":2}`), UniqueKey: "rem-1/step-1"},
	)
	must(t, err)
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("enqueue ids %v", ids)
	}
	_, err = s.EnqueueJobs(c, store.JobSpec{})
	mustErr(t, err, store.ErrInvalid)

	// A unique key enqueues once, whatever the job's state.
	again, err := s.EnqueueJobs(c, store.JobSpec{Kind: "remediation.step", UniqueKey: "rem-1/step-1"})
	must(t, err)
	if again[0] != ids[1] {
		t.Errorf("re-enqueue with the same unique key gave id %d, want %d", again[0], ids[1])
	}

	// Kinds filter the claim.
	j, ok := claimOne(t, s, store.Claim{Kinds: []string{"remediation.step"}, Worker: "w1"})
	if !ok || j.ID != ids[1] || j.Kind != "remediation.step" || string(j.Payload) != `{"n":2}` || j.UniqueKey != "rem-1/step-1" {
		t.Fatalf("claimed %+v, want the remediation step", j)
	}
	if j.State != store.JobRunning || j.Attempt != 1 || j.Lease.JobID != j.ID || j.Lease.Token == "" || j.LeasedBy != "w1" ||
		!j.LeaseUntil.Equal(clk.Now().Add(store.DefaultLease)) || j.MaxAttempts != store.DefaultMaxAttempts {
		t.Errorf("claimed job fields %+v", j)
	}
	if _, ok := claimOne(t, s, store.Claim{Kinds: []string{"remediation.step"}}); ok {
		t.Error("a running job was claimed twice")
	}
	must(t, s.ExtendJobLease(c, j.Lease, time.Hour))
	got, err := s.GetJob(c, j.ID)
	must(t, err)
	if !got.LeaseUntil.Equal(clk.Now().Add(time.Hour)) || got.Lease.Token != "" {
		t.Errorf("after extend: lease until %v (token %q), want %v and no token", got.LeaseUntil, got.Lease.Token, clk.Now().Add(time.Hour))
	}
	must(t, s.CompleteJob(c, j.Lease))
	mustErr(t, s.CompleteJob(c, j.Lease), store.ErrLeaseLost)
	got, err = s.GetJob(c, j.ID)
	must(t, err)
	if got.State != store.JobDone {
		t.Errorf("completed job state %q", got.State)
	}
	again, err = s.EnqueueJobs(c, store.JobSpec{Kind: "remediation.step", UniqueKey: "rem-1/step-1"})
	must(t, err)
	if again[0] != ids[1] {
		t.Error("a finished job's unique key was enqueued again")
	}
	if _, ok := claimOne(t, s, store.Claim{Kinds: []string{"remediation.step"}}); ok {
		t.Error("a done job was claimed")
	}

	j, ok = claimOne(t, s, store.Claim{})
	if !ok || j.ID != ids[0] {
		t.Fatalf("claim of any kind = %+v, want job %d", j, ids[0])
	}
	must(t, s.CompleteJob(c, j.Lease))
	if _, ok := claimOne(t, s, store.Claim{}); ok {
		t.Error("claimed a job from an empty queue")
	}
	_, err = s.GetJob(c, 123456)
	mustErr(t, err, store.ErrNotFound)
	mustErr(t, s.CompleteJob(c, store.Lease{JobID: 123456, Token: "x"}), store.ErrLeaseLost)
}

func testJobTimers(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	ids, err := s.EnqueueJobs(c,
		store.JobSpec{Kind: "timer", RunAt: clk.Now().Add(10 * time.Minute)},
		store.JobSpec{Kind: "timer", RunAt: clk.Now().Add(5 * time.Minute)},
	)
	must(t, err)
	if _, ok := claimOne(t, s, store.Claim{}); ok {
		t.Fatal("a job was claimed before its run_at")
	}
	clk.Advance(5 * time.Minute)
	j, ok := claimOne(t, s, store.Claim{})
	if !ok || j.ID != ids[1] {
		t.Fatalf("at +5m claimed %+v, want job %d", j, ids[1])
	}
	if _, ok := claimOne(t, s, store.Claim{}); ok {
		t.Fatal("the +10m timer was claimed at +5m")
	}

	// Reschedule: back to pending at a new time, with a new payload, and
	// without counting an attempt.
	must(t, s.RescheduleJob(c, j.Lease, store.Reschedule{RunAt: clk.Now().Add(time.Hour), Payload: []byte(`{"step":2}`)}))
	mustErr(t, s.CompleteJob(c, j.Lease), store.ErrLeaseLost)
	clk.Advance(5 * time.Minute)
	k, ok := claimOne(t, s, store.Claim{Limit: 5})
	if !ok || k.ID != ids[0] {
		t.Fatalf("at +10m claimed %+v, want job %d", k, ids[0])
	}
	must(t, s.CompleteJob(c, k.Lease))
	clk.Advance(time.Hour)
	j2, ok := claimOne(t, s, store.Claim{Limit: 5})
	if !ok || j2.ID != j.ID || string(j2.Payload) != `{"step":2}` || j2.Attempt != 1 {
		t.Errorf("rescheduled job claimed as %+v, want id %d, new payload, attempt 1", j2, j.ID)
	}
	// Without a payload the old one is kept.
	must(t, s.RescheduleJob(c, j2.Lease, store.Reschedule{}))
	j3, ok := claimOne(t, s, store.Claim{})
	if !ok || string(j3.Payload) != `{"step":2}` {
		t.Errorf("reschedule without payload: %+v", j3)
	}
}

func testJobLeases(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	ids, err := s.EnqueueJobs(c, store.JobSpec{Kind: "k", MaxAttempts: 2})
	must(t, err)
	first, ok := claimOne(t, s, store.Claim{Worker: "dead", Lease: time.Minute})
	if !ok {
		t.Fatal("nothing claimed")
	}
	clk.Advance(59 * time.Second)
	if _, ok := claimOne(t, s, store.Claim{}); ok {
		t.Fatal("a job was claimed again before its lease expired")
	}
	clk.Advance(time.Second)
	second, ok := claimOne(t, s, store.Claim{Worker: "alive", Lease: time.Minute})
	if !ok || second.ID != ids[0] || second.Attempt != 2 || second.LeasedBy != "alive" || second.Lease.Token == first.Lease.Token {
		t.Fatalf("reclaim after expiry = %+v", second)
	}
	// The first worker's lease is fenced off.
	mustErr(t, s.CompleteJob(c, first.Lease), store.ErrLeaseLost)
	_, err = s.FailJob(c, first.Lease, "late")
	mustErr(t, err, store.ErrLeaseLost)
	mustErr(t, s.ExtendJobLease(c, first.Lease, time.Minute), store.ErrLeaseLost)
	mustErr(t, s.RescheduleJob(c, first.Lease, store.Reschedule{}), store.ErrLeaseLost)

	// The second worker dies too, on the last allowed attempt: the job
	// fails instead of running a third time.
	clk.Advance(2 * time.Minute)
	if j, ok := claimOne(t, s, store.Claim{}); ok {
		t.Fatalf("a job past its attempts was claimed: %+v", j)
	}
	got, err := s.GetJob(c, ids[0])
	must(t, err)
	if got.State != store.JobFailed || got.LastError == "" {
		t.Errorf("job after its last lease expired: state %q, error %q", got.State, got.LastError)
	}
}

func testJobRetries(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	ids, err := s.EnqueueJobs(c, store.JobSpec{Kind: "k", MaxAttempts: 3})
	must(t, err)
	for attempt := 1; attempt <= 3; attempt++ {
		j, ok := claimOne(t, s, store.Claim{})
		if !ok || j.Attempt != attempt {
			t.Fatalf("attempt %d: claimed %+v", attempt, j)
		}
		state, err := s.FailJob(c, j.Lease, fmt.Sprintf("boom %d", attempt))
		must(t, err)
		if attempt == 3 {
			if state != store.JobFailed {
				t.Fatalf("state after the last attempt %q, want failed", state)
			}
			break
		}
		if state != store.JobPending {
			t.Fatalf("state after attempt %d = %q, want pending", attempt, state)
		}
		got, err := s.GetJob(c, ids[0])
		must(t, err)
		if want := clk.Now().Add(store.RetryDelay(attempt)); !got.RunAt.Equal(want) || got.LastError != fmt.Sprintf("boom %d", attempt) {
			t.Errorf("after attempt %d: run at %v, error %q; want %v", attempt, got.RunAt, got.LastError, want)
		}
		clk.Advance(store.RetryDelay(attempt) - time.Millisecond)
		if _, ok := claimOne(t, s, store.Claim{}); ok {
			t.Fatalf("retry %d claimed before its backoff", attempt)
		}
		clk.Advance(time.Millisecond)
	}
	clk.Advance(24 * time.Hour)
	if _, ok := claimOne(t, s, store.Claim{}); ok {
		t.Error("a failed job was claimed")
	}

	tests := []struct {
		attempt int
		want    time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {12, 2048 * time.Second}, {13, time.Hour}, {100, time.Hour}}
	for _, tt := range tests {
		if got := store.RetryDelay(tt.attempt); got != tt.want {
			t.Errorf("RetryDelay(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

// testJobExclusive runs claimers on two stores over one database, as two
// replicas would, and checks that every job is claimed exactly once.
func testJobExclusive(t *testing.T, h Harness) {
	clk := NewClock()
	openDB := h.Fresh(t)
	a := openDB(t, clk.Now)
	b := openDB(t, clk.Now)
	c := ctx(t)
	const n = 150
	specs := make([]store.JobSpec, n)
	for i := range specs {
		specs[i] = store.JobSpec{Kind: "k", Payload: []byte(fmt.Sprint(i))}
	}
	_, err := a.EnqueueJobs(c, specs...)
	must(t, err)

	var mu sync.Mutex
	claims := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := s.ClaimJobs(c, store.Claim{Worker: fmt.Sprint("w", w), Limit: 3, Lease: time.Hour})
				if err != nil {
					errs <- err
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					mu.Lock()
					claims[j.ID]++
					mu.Unlock()
					if err := s.CompleteJob(c, j.Lease); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claims) != n {
		t.Errorf("%d distinct jobs claimed, want %d", len(claims), n)
	}
	for id, k := range claims {
		if k != 1 {
			t.Errorf("job %d claimed %d times", id, k)
		}
	}
}

func testTx(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)

	// An event and the job it causes commit together.
	var seq, jobID int64
	must(t, s.WithTx(c, func(tx store.Tx) error {
		seqs, err := tx.AppendEvents(c, ev(1, "p", "s", "svc", "sh.keptn.event.evaluation.triggered", "k"))
		if err != nil {
			return err
		}
		ids, err := tx.EnqueueJobs(c, store.JobSpec{Kind: "evaluation", UniqueKey: "eval/id-1"})
		if err != nil {
			return err
		}
		seq, jobID = seqs[0], ids[0]
		return tx.PutSetting(c, store.Setting{Scope: store.Scope{Project: "p"}, Key: "k", Value: json.RawMessage(`true`)})
	}))
	if page, err := s.ListEvents(c, store.EventFilter{ID: "id-1"}); err != nil || len(page.Events) != 1 || page.Events[0].Seq != seq {
		t.Errorf("event after commit: %+v, %v", page.Events, err)
	}
	if j, err := s.GetJob(c, jobID); err != nil || j.State != store.JobPending {
		t.Errorf("job after commit: %+v, %v", j, err)
	}

	// An error rolls everything back and is returned as is.
	errBoom := errors.New("boom")
	err := s.WithTx(c, func(tx store.Tx) error {
		if _, err := tx.AppendEvents(c, ev(2, "p", "s", "svc", "t", "k")); err != nil {
			return err
		}
		if _, err := tx.EnqueueJobs(c, store.JobSpec{Kind: "evaluation", UniqueKey: "eval/id-2"}); err != nil {
			return err
		}
		if err := tx.DeleteSetting(c, store.Scope{Project: "p"}, "k"); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	mustErr(t, err, errBoom)
	if page, _ := s.ListEvents(c, store.EventFilter{ID: "id-2"}); len(page.Events) != 0 {
		t.Error("a rolled back event is visible")
	}
	if _, err := s.GetSetting(c, store.Scope{Project: "p"}, "k"); err != nil {
		t.Errorf("a rolled back delete took effect: %v", err)
	}

	// A job's outcome and the next step commit together; a lost lease
	// rolls the step back.
	evals, err := s.ClaimJobs(c, store.Claim{Kinds: []string{"evaluation"}, Limit: 10})
	must(t, err)
	if len(evals) != 1 || evals[0].ID != jobID {
		t.Fatalf("evaluation jobs after one commit and one rollback: %+v, want only job %d", evals, jobID)
	}
	j := evals[0]
	must(t, s.WithTx(c, func(tx store.Tx) error {
		if err := tx.CompleteJob(c, j.Lease); err != nil {
			return err
		}
		_, err := tx.EnqueueJobs(c, store.JobSpec{Kind: "next", UniqueKey: "next-1"})
		return err
	}))
	err = s.WithTx(c, func(tx store.Tx) error {
		if _, err := tx.EnqueueJobs(c, store.JobSpec{Kind: "next", UniqueKey: "next-2"}); err != nil {
			return err
		}
		return tx.CompleteJob(c, j.Lease)
	})
	mustErr(t, err, store.ErrLeaseLost)
	if jobs, err := s.ClaimJobs(c, store.Claim{Kinds: []string{"next"}, Limit: 10}); err != nil || len(jobs) != 1 || jobs[0].UniqueKey != "next-1" {
		t.Errorf("next steps after one commit and one rollback: %+v, %v", jobs, err)
	}

	// Concurrent transactions that fail and succeed, sharing commits:
	// exactly the successful ones are stored.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.WithTx(c, func(tx store.Tx) error {
				if _, err := tx.AppendEvents(c, ev(100+i, "conc", "s", "svc", "t", "k")); err != nil {
					return err
				}
				if i%2 == 1 {
					return errBoom
				}
				return nil
			})
			if (i%2 == 1) != errors.Is(err, errBoom) {
				t.Errorf("transaction %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	page, err := s.ListEvents(c, store.EventFilter{Project: "conc", CountTotal: true, PageSize: store.MaxPageSize})
	must(t, err)
	for _, e := range page.Events {
		var n int
		fmt.Sscanf(e.ID, "id-%d", &n)
		if n%2 == 1 {
			t.Errorf("event %s of a failed transaction was stored", e.ID)
		}
	}
	if page.TotalCount != 20 {
		t.Errorf("%d events of concurrent transactions stored, want 20", page.TotalCount)
	}

	// A Tx used after its function returned refuses to work.
	var leaked store.Tx
	must(t, s.WithTx(c, func(tx store.Tx) error { leaked = tx; return nil }))
	if _, err := leaked.AppendEvents(c, ev(500, "p", "s", "svc", "t", "k")); err == nil {
		t.Error("a Tx worked after its function returned")
	}
}

// testListJobs checks that ListJobs selects by key prefix and state,
// newest first, and hands out no lease token.
func testListJobs(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	ids, err := s.EnqueueJobs(c,
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r1/start"},
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r10/start"},
		store.JobSpec{Kind: "k", UniqueKey: "remediation/r1/v2/0/prepare"},
		store.JobSpec{Kind: "k"},
	)
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimJobs(c, store.Claim{Worker: "w", Limit: 1})
	if err != nil || len(claimed) != 1 || claimed[0].ID != ids[0] {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	got, err := s.ListJobs(c, store.JobFilter{KeyPrefix: "remediation/r1/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[0] {
		t.Fatalf("ListJobs(remediation/r1/) = %+v, want jobs %d and %d", got, ids[2], ids[0])
	}
	if got[1].State != store.JobRunning || got[1].Lease.Token != "" {
		t.Errorf("running job listed as %s with lease %+v, want running without a token", got[1].State, got[1].Lease)
	}
	got, err = s.ListJobs(c, store.JobFilter{KeyPrefix: "remediation/r1/", States: []store.JobState{store.JobRunning}, Limit: 5})
	if err != nil || len(got) != 1 || got[0].ID != ids[0] {
		t.Errorf("running jobs of r1 = %+v, %v", got, err)
	}
	got, err = s.ListJobs(c, store.JobFilter{KeyPrefix: "remediation/r1/", States: []store.JobState{store.JobFailed, store.JobDone}})
	if err != nil || len(got) != 0 {
		t.Errorf("finished jobs of r1 = %+v, %v; want none", got, err)
	}
	if _, err := s.ListJobs(c, store.JobFilter{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListJobs without a prefix: err = %v, want ErrInvalid", err)
	}
}
