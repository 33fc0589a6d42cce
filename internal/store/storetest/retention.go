package storetest

import (
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

func testPrune(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	const day = 24 * time.Hour
	old := func(e store.EventRecord) store.EventRecord { e.Time = clk.Now().Add(-100 * day); return e }

	// Jobs: one finished long ago, one failed long ago, one pending long
	// ago (a timer: kept), one finished lately.
	ids, err := s.EnqueueJobs(c,
		store.JobSpec{Kind: "old-done", UniqueKey: "old-done"},
		store.JobSpec{Kind: "old-failed", MaxAttempts: 1},
		store.JobSpec{Kind: "timer", RunAt: clk.Now().Add(200 * day)},
	)
	must(t, err)
	for _, kind := range []string{"old-done", "old-failed"} {
		j, ok := claimOne(t, s, store.Claim{Kinds: []string{kind}})
		if !ok {
			t.Fatalf("no %s job to claim", kind)
		}
		if kind == "old-done" {
			must(t, s.CompleteJob(c, j.Lease))
		} else {
			_, err := s.FailJob(c, j.Lease, "boom")
			must(t, err)
		}
	}

	// Problems: one closed long ago with its finished remediation, one
	// still open long ago whose context's events must stay.
	must(t, s.WithTx(c, func(tx store.Tx) error {
		if _, err := tx.CreateRemediation(c, store.RemediationRecord{ID: "rem-old", Project: "p", Stage: "s", Service: "a", State: "resolved", KeptnContext: "ctx-closed"}); err != nil {
			return err
		}
		if _, err := tx.InsertProblem(c, store.ProblemRecord{ID: "pr-closed", Key: "k-closed", Source: "t", Project: "p", Stage: "s", Service: "a",
			State: store.ProblemClosed, RemediationID: "rem-old", KeptnContext: "ctx-closed", OpenedAt: clk.Now(), ClosedAt: clk.Now()}); err != nil {
			return err
		}
		_, err := tx.InsertProblem(c, store.ProblemRecord{ID: "pr-open", Key: "k-open", Source: "t", Project: "p", Stage: "s", Service: "b",
			State: store.ProblemOpen, KeptnContext: "ctx-open", OpenedAt: clk.Now()})
		return err
	}))
	_, err = s.AppendEvents(c,
		old(ev(1, "p", "s", "a", "t", "ctx-closed")),
		old(ev(2, "p", "s", "b", "t", "ctx-open")),
	)
	must(t, err)

	clk.Advance(100 * day)
	recent := ev(3, "p", "s", "a", "t", "ctx-new")
	recent.Time = clk.Now()
	_, err = s.AppendEvents(c, recent)
	must(t, err)
	ids2, err := s.EnqueueJobs(c, store.JobSpec{Kind: "new-done"})
	must(t, err)
	j, ok := claimOne(t, s, store.Claim{Kinds: []string{"new-done"}})
	if !ok {
		t.Fatal("no new job to claim")
	}
	must(t, s.CompleteJob(c, j.Lease))

	// A zero age keeps everything.
	got, err := s.Prune(c, store.Prune{})
	must(t, err)
	if got.Total() != 0 {
		t.Fatalf("Prune with no ages deleted %+v", got)
	}
	// A limit of one deletes one of each kind per call.
	p := store.Prune{Events: 90 * day, Jobs: 90 * day, Problems: 90 * day, Limit: 1}
	got, err = s.Prune(c, p)
	must(t, err)
	// The closed problem goes first, so its remediation, which no
	// problem names any more, goes in the same call.
	if got != (store.Pruned{Events: 1, Jobs: 1, Problems: 1, Remediations: 1}) {
		t.Errorf("first Prune = %+v, want one event, one job, the problem and its remediation", got)
	}
	got, err = s.Prune(c, p)
	must(t, err)
	if got != (store.Pruned{Jobs: 1}) {
		t.Errorf("second Prune = %+v, want the other job", got)
	}
	got, err = s.Prune(c, p)
	must(t, err)
	if got.Total() != 0 {
		t.Errorf("third Prune = %+v, want nothing left to delete", got)
	}

	for _, id := range ids[:2] {
		_, err := s.GetJob(c, id)
		mustErr(t, err, store.ErrNotFound)
	}
	for _, id := range []int64{ids[2], ids2[0]} {
		_, err := s.GetJob(c, id)
		must(t, err)
	}
	// The unique key of a pruned job may be used again.
	again, err := s.EnqueueJobs(c, store.JobSpec{Kind: "old-done", UniqueKey: "old-done"})
	must(t, err)
	if again[0] == ids[0] {
		t.Error("a pruned job's unique key still names it")
	}
	page, err := s.ListEvents(c, store.EventFilter{Project: "p"})
	must(t, err)
	var left []string
	for _, e := range page.Events {
		left = append(left, e.ID)
	}
	if len(left) != 2 || left[0] != "id-3" || left[1] != "id-2" {
		t.Errorf("events left %v, want id-3 (new) and id-2 (its problem is open)", left)
	}
	_, err = s.GetProblem(c, "pr-closed")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetRemediation(c, "rem-old")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetProblem(c, "pr-open")
	must(t, err)
}

// testPruneSequences checks that ended sequences go after their retention
// while a waiting, started or paused one stays however old, and that the
// events and integration log lines of a sequence that has not ended stay
// with it.
func testPruneSequences(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	const day = 24 * time.Hour
	longAgo := clk.Now().Add(-100 * day)

	ended := []store.SequenceRecord{
		sequenceRec("finished", "carts", "finished", false),
		sequenceRec("aborted", "carts", "aborted", false),
		sequenceRec("timed-out", "carts", "timedOut", false),
	}
	running := []store.SequenceRecord{
		sequenceRec("waiting", "carts", "waiting", false),
		sequenceRec("started", "carts", "started", true),
		sequenceRec("paused", "orders", "paused", true),
	}
	var events []store.EventRecord
	var logs []store.IntegrationLog
	for i, r := range append(append([]store.SequenceRecord{}, ended...), running...) {
		must(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateSequence(c, r); return err }))
		e := ev(i+1, r.Project, r.Stage, r.Service, "sh.keptn.event.dev.delivery.triggered", r.KeptnContext)
		e.Time = longAgo
		events = append(events, e)
		logs = append(logs, store.IntegrationLog{IntegrationID: "i1", Project: r.Project, KeptnContext: r.KeptnContext,
			Task: "deployment", Message: "log of " + r.ID, Time: longAgo})
	}
	_, err := s.AppendEvents(c, events...)
	must(t, err)
	must(t, s.AppendIntegrationLogs(c, logs...))

	clk.Advance(100 * day)
	recent := sequenceRec("recent", "orders", "finished", false)
	must(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateSequence(c, recent); return err }))

	// Without a sequence retention, sequences stay.
	got, err := s.Prune(c, store.Prune{Jobs: 90 * day})
	must(t, err)
	if got.Sequences != 0 || got.Logs != 0 {
		t.Fatalf("Prune without sequence or event retention deleted %+v", got)
	}
	p := store.Prune{Events: 90 * day, Sequences: 90 * day, Limit: 1}
	var total store.Pruned
	for i := 0; ; i++ {
		got, err := s.Prune(c, p)
		must(t, err)
		total = total.Add(got)
		if got.Total() == 0 {
			break
		}
		if i == 10 {
			t.Fatalf("Prune keeps deleting: %+v so far", total)
		}
	}
	// The ended sequences' events and log lines go with the events'
	// retention; those of the sequences still running stay.
	if want := (store.Pruned{Events: 3, Sequences: 3, Logs: 3}); total != want {
		t.Errorf("Prune deleted %+v, want %+v", total, want)
	}
	for _, r := range ended {
		_, err := s.GetSequence(c, r.ID)
		mustErr(t, err, store.ErrNotFound)
	}
	for _, r := range append(running, recent) {
		if _, err := s.GetSequence(c, r.ID); err != nil {
			t.Errorf("sequence %s (%s) was pruned: %v", r.ID, r.State, err)
		}
	}
	for _, r := range append(append([]store.SequenceRecord{}, ended...), running...) {
		evs, err := s.ListEvents(c, store.EventFilter{KeptnContext: r.KeptnContext})
		must(t, err)
		ls, err := s.ListIntegrationLogs(c, store.IntegrationLogFilter{KeptnContext: r.KeptnContext})
		must(t, err)
		want := 0
		if r.State != "finished" && r.State != "aborted" && r.State != "timedOut" {
			want = 1
		}
		if len(evs.Events) != want || len(ls.Logs) != want {
			t.Errorf("sequence %s (%s): %d events and %d log lines left, want %d of each", r.ID, r.State, len(evs.Events), len(ls.Logs), want)
		}
	}
}
