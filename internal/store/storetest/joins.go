package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	rem "github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// testRemediationJoins checks joins recorded beside a remediation's
// document: every read folds them in, they move the version, and the next
// write of the document drops them.
func testRemediationJoins(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	p1 := rem.Problem{ID: "p1", Key: "k1", Project: "sockshop", Stage: "production", Service: "carts", State: rem.ProblemStateOpen}
	r := rem.New("r1", p1, nil, rem.Settings{}, t0)
	rec := store.RemediationRecord{ID: "r1", Project: "sockshop", Stage: "production", Service: "carts",
		State: string(r.State), Running: true, Doc: r.Encode(), Joinable: r.JoinsInPlace()}
	must(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateRemediation(c, rec); return err }))

	joins := []store.RemediationJoin{{ProblemID: "p2", At: t0.Add(time.Minute)}, {ProblemID: "p3", At: t0.Add(2 * time.Minute)}}
	must(t, inTx(c, s, func(tx store.Tx) error {
		v, err := tx.JoinRemediation(c, "r1", 1, joins)
		if err != nil || v != 2 {
			return fmt.Errorf("JoinRemediation = %d, %v; want version 2", v, err)
		}
		head, err := tx.RunningRemediationHead(c, "sockshop", "production", "carts")
		if err != nil || head.ID != "r1" || head.Version != 2 || !head.Joinable || head.Doc != nil || head.State != "waiting" {
			return fmt.Errorf("RunningRemediationHead = %+v, %v", head, err)
		}
		return nil
	}))
	// What applying the joins to the document would have written.
	want := *r
	for _, j := range joins {
		if _, err := want.Apply(rem.ProblemJoined{ProblemID: j.ProblemID}, j.At); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, got store.RemediationRecord, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := rem.Decode(got.ID, got.Doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Version != 2 || !reflect.DeepEqual(d.Problems, want.Problems) || !d.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("%s: version %d, problems %+v, updated %s; want version 2, %+v, %s", name, got.Version, d.Problems, d.UpdatedAt, want.Problems, want.UpdatedAt)
		}
	}
	got, err := s.GetRemediation(c, "r1")
	check("GetRemediation", got, err)
	got, err = s.RunningRemediation(c, "sockshop", "production", "carts")
	check("RunningRemediation", got, err)
	page, err := s.ListRemediations(c, store.RemediationFilter{Project: "sockshop"})
	if err != nil || len(page.Remediations) != 1 {
		t.Fatalf("ListRemediations = %+v, %v", page, err)
	}
	check("ListRemediations", page.Remediations[0], nil)
	must(t, inTx(c, s, func(tx store.Tx) error {
		all, err := tx.RunningRemediations(c, "sockshop")
		if err != nil || len(all) != 1 {
			return fmt.Errorf("RunningRemediations = %+v, %v", all, err)
		}
		check("RunningRemediations", all[0], nil)
		got, err := tx.GetRemediation(c, "r1")
		check("Tx.GetRemediation", got, err)
		return nil
	}))

	// A join at a version that moved, or of a remediation that is not
	// there, records nothing.
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.JoinRemediation(c, "r1", 1, joins[:1]); return err })
	mustErr(t, err, store.ErrConflict)
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.JoinRemediation(c, "nope", 1, joins[:1]); return err })
	mustErr(t, err, store.ErrNotFound)

	// Rewriting the document, read with the joins, drops them; a
	// remediation that is not joinable takes no join beside it.
	want.StopPending = "asked to stop"
	upd := rec
	upd.Doc, upd.Version, upd.Joinable = want.Encode(), 2, want.JoinsInPlace()
	must(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.UpdateRemediation(c, upd); return err }))
	got, err = s.GetRemediation(c, "r1")
	must(t, err)
	if got.Version != 3 || string(got.Doc) != string(upd.Doc) || got.Joinable {
		t.Errorf("after the rewrite: version %d, joinable %v, document %s; want version 3, not joinable, %s", got.Version, got.Joinable, got.Doc, upd.Doc)
	}
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.JoinRemediation(c, "r1", 3, joins[:1]); return err })
	mustErr(t, err, store.ErrConflict)
}
