package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	rem "github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// testProblemBatches checks the set-based problem writes of a delivery:
// InsertProblems (all or none, in order), GetProblemsByKeys inside a
// transaction, and JoinRemediation with more joins than one statement
// holds.
func testProblemBatches(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	must(t, inTx(c, s, func(tx store.Tx) error {
		_, err := tx.InsertProblem(c, problem("old", "k-old", "sockshop", store.ProblemOpen))
		return err
	}))

	// More problems than one INSERT holds: stored in order, and read back
	// inside the transaction by key.
	const n = 300
	batch := make([]store.ProblemRecord, n)
	keys := make([]string, n)
	for i := range batch {
		batch[i] = problem(fmt.Sprintf("b%03d", i), fmt.Sprintf("k-b%03d", i), "sockshop", store.ProblemOpen)
		keys[i] = batch[i].Key
	}
	var stored []store.ProblemRecord
	must(t, inTx(c, s, func(tx store.Tx) error {
		var err error
		if stored, err = tx.InsertProblems(c, batch); err != nil {
			return err
		}
		got, err := tx.GetProblemsByKeys(c, append([]string{"k-old", "k-none"}, keys[:10]...))
		if err != nil || len(got) != 11 || got["k-old"].ID != "old" || got["k-b009"].ID != "b009" {
			return fmt.Errorf("in-transaction GetProblemsByKeys = %d records, %v; want old and b000..b009", len(got), err)
		}
		return nil
	}))
	if len(stored) != n {
		t.Fatalf("InsertProblems answered %d records, want %d", len(stored), n)
	}
	for i, p := range stored {
		if p.ID != batch[i].ID || p.Version != 1 || p.Seq == 0 || !p.CreatedAt.Equal(clk.Now()) || string(p.Doc) != string(batch[i].Doc) {
			t.Fatalf("stored[%d] = %+v; want %s at version 1 with a sequence number", i, p, batch[i].ID)
		}
		if i > 0 && p.Seq <= stored[i-1].Seq {
			t.Fatalf("sequence numbers out of order: %s has %d after %s's %d", p.ID, p.Seq, stored[i-1].ID, stored[i-1].Seq)
		}
	}
	got, err := s.GetProblem(c, "b299")
	must(t, err)
	if got.Seq != stored[n-1].Seq || got.Key != "k-b299" || got.ProjectUID != stored[n-1].ProjectUID {
		t.Errorf("GetProblem(b299) = %+v, want %+v", got, stored[n-1])
	}

	// All or none: a key taken, in the first statement or a later one, or
	// twice in the batch, stores none of the batch, and the transaction
	// goes on.
	for _, tt := range []struct {
		name  string
		batch []store.ProblemRecord
	}{
		{"key taken", []store.ProblemRecord{problem("c1", "k-c1", "sockshop", store.ProblemOpen), problem("c2", "k-old", "sockshop", store.ProblemOpen)}},
		{"key taken in a later statement", append(freshProblems("d", 290), problem("d-dup", "k-b005", "sockshop", store.ProblemOpen))},
		{"key twice", []store.ProblemRecord{problem("e1", "k-e", "sockshop", store.ProblemOpen), problem("e2", "k-e", "sockshop", store.ProblemOpen)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			must(t, inTx(c, s, func(tx store.Tx) error {
				if _, err := tx.InsertProblems(c, tt.batch); !errors.Is(err, store.ErrExists) {
					return fmt.Errorf("InsertProblems: error %v, want ErrExists", err)
				}
				for _, p := range tt.batch {
					if got, err := tx.GetProblem(c, p.ID); err == nil {
						return fmt.Errorf("problem %s (key %s) of the refused batch is stored: %+v", p.ID, p.Key, got)
					}
				}
				_, err := tx.InsertProblems(c, []store.ProblemRecord{problem("ok-"+tt.batch[0].ID, "k-ok-"+tt.batch[0].ID, "sockshop", store.ProblemOpen)})
				return err
			}))
			if _, err := s.GetProblem(c, "ok-"+tt.batch[0].ID); err != nil {
				t.Errorf("the insert after the refused batch: %v", err)
			}
		})
	}

	// A record without a key is refused by its position.
	err = inTx(c, s, func(tx store.Tx) error {
		_, err := tx.InsertProblems(c, []store.ProblemRecord{problem("f1", "k-f1", "sockshop", store.ProblemOpen), {ID: "f2", State: store.ProblemOpen}})
		return err
	})
	mustErr(t, err, store.ErrInvalid)
	if !strings.Contains(err.Error(), "problem 2 of 2") || !strings.Contains(err.Error(), `"f2"`) {
		t.Errorf("error %q does not name the second record, f2", err)
	}
	if _, err := s.GetProblem(c, "f1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("f1 of the refused batch: %v, want ErrNotFound", err)
	}
	must(t, inTx(c, s, func(tx store.Tx) error {
		out, err := tx.InsertProblems(c, nil)
		if err != nil || len(out) != 0 {
			return fmt.Errorf("InsertProblems(nil) = %v, %v", out, err)
		}
		return nil
	}))

	// More joins than one statement holds, folded in their order.
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	r := rem.New("r1", rem.Problem{ID: "b000", Key: "k-b000", Project: "sockshop", Stage: "production", Service: "carts", State: rem.ProblemStateOpen}, nil, rem.Settings{}, t0)
	must(t, inTx(c, s, func(tx store.Tx) error {
		_, err := tx.CreateRemediation(c, store.RemediationRecord{ID: "r1", Project: "sockshop", Stage: "production", Service: "carts",
			State: string(r.State), Running: true, Doc: r.Encode(), Joinable: r.JoinsInPlace()})
		return err
	}))
	want := *r
	joins := make([]store.RemediationJoin, 1100)
	for i := range joins {
		joins[i] = store.RemediationJoin{ProblemID: fmt.Sprintf("j%04d", i), At: t0.Add(time.Duration(i) * time.Millisecond)}
		if _, err := want.Apply(rem.ProblemJoined{ProblemID: joins[i].ProblemID}, joins[i].At); err != nil {
			t.Fatal(err)
		}
	}
	must(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.JoinRemediation(c, "r1", 1, joins); return err }))
	gotRem, err := s.GetRemediation(c, "r1")
	must(t, err)
	d, err := rem.Decode(gotRem.ID, gotRem.Doc)
	must(t, err)
	if gotRem.Version != 2 || !reflect.DeepEqual(d.Problems, want.Problems) {
		t.Errorf("remediation after 1,100 joins: version %d, %d problems; want version 2, %d problems in join order", gotRem.Version, len(d.Problems), len(want.Problems))
	}
}

func freshProblems(prefix string, n int) []store.ProblemRecord {
	ps := make([]store.ProblemRecord, n)
	for i := range ps {
		ps[i] = problem(fmt.Sprintf("%s%03d", prefix, i), fmt.Sprintf("k-%s%03d", prefix, i), "sockshop", store.ProblemOpen)
	}
	return ps
}

// testGroupCommitIsolation checks that in a shared (group) commit a
// request that fails loses only its own writes: many concurrent
// transactions insert a problem and append an event, every third one then
// fails, and exactly the others' writes are stored.
func testGroupCommitIsolation(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	const workers, each = 16, 12
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%02d-%02d", w, i)
				fail := (w*each+i)%3 == 0
				err := s.WithTx(c, func(tx store.Tx) error {
					if _, err := tx.InsertProblems(c, []store.ProblemRecord{problem(id, "k-"+id, "sockshop", store.ProblemOpen)}); err != nil {
						return err
					}
					if _, err := tx.AppendEvents(c, store.EventRecord{ID: id, Source: "storetest", Type: "t", Project: "sockshop"}); err != nil {
						return err
					}
					if fail {
						return errBoom
					}
					return nil
				})
				if fail != errors.Is(err, errBoom) || (!fail && err != nil) {
					errs <- fmt.Errorf("transaction %s (fail %v): %v", id, fail, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		for i := range each {
			id := fmt.Sprintf("w%02d-%02d", w, i)
			fail := (w*each+i)%3 == 0
			_, err := s.GetProblem(c, id)
			page, lerr := s.ListEvents(c, store.EventFilter{ID: id})
			must(t, lerr)
			switch {
			case fail && (err == nil || len(page.Events) != 0):
				t.Errorf("failed transaction %s left its problem (%v) or its event (%d)", id, err, len(page.Events))
			case !fail && (err != nil || len(page.Events) != 1):
				t.Errorf("committed transaction %s lost its problem (%v) or its event (%d)", id, err, len(page.Events))
			}
		}
	}
}
