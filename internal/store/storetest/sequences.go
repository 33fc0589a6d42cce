package storetest

import (
	"testing"

	"github.com/tendhq/tend/internal/store"
)

func sequenceRec(id, service, state string, active bool) store.SequenceRecord {
	return store.SequenceRecord{ID: id, KeptnContext: "ctx-" + id, Project: "sockshop", Stage: "dev", Service: service,
		Name: "delivery", State: state, Active: active, Doc: []byte(`{"id":"` + id + `"}`)}
}

// testSequences checks the one-active-sequence rule, the waiting queue's
// order, compare-and-set updates and the list filters.
func testSequences(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	create := func(r store.SequenceRecord) error {
		return inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateSequence(c, r); return err })
	}
	must(t, create(sequenceRec("s1", "carts", "started", true)))
	mustErr(t, create(sequenceRec("s2", "carts", "started", true)), store.ErrConflict)
	mustErr(t, create(sequenceRec("s1", "orders", "started", true)), store.ErrExists)
	must(t, create(sequenceRec("s2", "carts", "waiting", false)))
	must(t, create(sequenceRec("s3", "carts", "waiting", false)))
	must(t, create(sequenceRec("s4", "orders", "started", true)))

	must(t, inTx(c, s, func(tx store.Tx) error {
		a, err := tx.ActiveSequence(c, "sockshop", "dev", "carts")
		if err != nil || a.ID != "s1" {
			t.Errorf("ActiveSequence = %+v, %v; want s1", a, err)
		}
		w, err := tx.NextWaitingSequence(c, "sockshop", "dev", "carts", "waiting")
		if err != nil || w.ID != "s2" {
			t.Errorf("NextWaitingSequence = %+v, %v; want s2 (the oldest)", w, err)
		}
		_, err = tx.NextWaitingSequence(c, "sockshop", "dev", "orders", "waiting")
		mustErr(t, err, store.ErrNotFound)
		// s2 cannot become active while s1 is.
		w.State, w.Active = "started", true
		_, err = tx.UpdateSequence(c, w)
		mustErr(t, err, store.ErrConflict)
		return nil
	}))
	// s1 ends; s2 takes the slot; a stale version conflicts.
	must(t, inTx(c, s, func(tx store.Tx) error {
		a, err := tx.GetSequence(c, "s1")
		if err != nil {
			return err
		}
		a.State, a.Active = "finished", false
		if a, err = tx.UpdateSequence(c, a); err != nil {
			return err
		}
		if a.Version != 2 {
			t.Errorf("version after update = %d, want 2", a.Version)
		}
		w, err := tx.GetSequence(c, "s2")
		if err != nil {
			return err
		}
		w.State, w.Active = "started", true
		_, err = tx.UpdateSequence(c, w)
		return err
	}))
	stale := sequenceRec("s1", "carts", "aborted", false)
	stale.Version = 1
	mustErr(t, inTx(c, s, func(tx store.Tx) error { _, err := tx.UpdateSequence(c, stale); return err }), store.ErrConflict)

	got, err := s.GetSequence(c, "s2")
	must(t, err)
	if got.State != "started" || !got.Active || got.Name != "delivery" || got.KeptnContext != "ctx-s2" || string(got.Doc) != `{"id":"s2"}` {
		t.Errorf("GetSequence = %+v", got)
	}
	_, err = s.GetSequence(c, "nope")
	mustErr(t, err, store.ErrNotFound)

	pg, err := s.ListSequences(c, store.SequenceFilter{Project: "sockshop", Service: "carts", PageSize: 2})
	must(t, err)
	if len(pg.Sequences) != 2 || pg.Sequences[0].ID != "s3" || pg.NextPageKey == "" {
		t.Fatalf("first page = %+v", pg)
	}
	pg, err = s.ListSequences(c, store.SequenceFilter{Project: "sockshop", Service: "carts", PageSize: 2, PageKey: pg.NextPageKey})
	must(t, err)
	if len(pg.Sequences) != 1 || pg.Sequences[0].ID != "s1" || pg.NextPageKey != "" {
		t.Errorf("second page = %+v", pg)
	}
	for _, tc := range []struct {
		name string
		f    store.SequenceFilter
		want int
	}{
		{"by state", store.SequenceFilter{State: "waiting"}, 1},
		{"by context", store.SequenceFilter{KeptnContext: "ctx-s4"}, 1},
		{"by name", store.SequenceFilter{Name: "delivery"}, 4},
		{"other project", store.SequenceFilter{Project: "other"}, 0},
	} {
		pg, err := s.ListSequences(c, tc.f)
		must(t, err)
		if len(pg.Sequences) != tc.want {
			t.Errorf("%s: %d sequences, want %d", tc.name, len(pg.Sequences), tc.want)
		}
	}

	// A deleted project's sequences go with it: a later project of the
	// same name starts with none running.
	if _, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("stages: [{name: dev}]")}); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteProject(c, "sockshop"))
	pg, err = s.ListSequences(c, store.SequenceFilter{Project: "sockshop"})
	must(t, err)
	if len(pg.Sequences) != 0 {
		t.Errorf("%d sequences outlived their project", len(pg.Sequences))
	}
}
