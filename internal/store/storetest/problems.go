package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// inTx runs fn in a transaction of s and returns its error.
func inTx(ctx context.Context, s store.Store, fn func(tx store.Tx) error) error {
	return s.WithTx(ctx, fn)
}

func problem(id, key, project, state string) store.ProblemRecord {
	return store.ProblemRecord{
		ID: id, Key: key, Source: "alertmanager", Project: project, Stage: "production", Service: "carts",
		State: state, Title: "response time " + id, KeptnContext: "ctx-" + id,
		OpenedAt: time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC), Doc: []byte(`{"id":"` + id + `"}`),
	}
}

func testProblems(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)

	var stored store.ProblemRecord
	must(t, inTx(c, s, func(tx store.Tx) error {
		var err error
		stored, err = tx.InsertProblem(c, problem("p1", "alertmanager/fp1/t1", "sockshop", store.ProblemOpen))
		if err != nil {
			return err
		}
		// The transaction sees its own insert.
		got, err := tx.GetProblemByKey(c, "alertmanager/fp1/t1")
		if err != nil || got.ID != "p1" {
			return fmt.Errorf("in-transaction read: %+v, %v", got, err)
		}
		return nil
	}))
	if stored.Version != 1 || stored.Seq == 0 || !stored.CreatedAt.Equal(clk.Now()) {
		t.Errorf("inserted problem %+v: want version 1, a sequence number and the store clock's time", stored)
	}
	got, err := s.GetProblem(c, "p1")
	must(t, err)
	if got.Key != "alertmanager/fp1/t1" || got.State != store.ProblemOpen || string(got.Doc) != `{"id":"p1"}` ||
		!got.OpenedAt.Equal(time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)) || !got.ClosedAt.IsZero() {
		t.Errorf("GetProblem = %+v", got)
	}
	if byKey, err := s.GetProblemByKey(c, got.Key); err != nil || byKey.ID != "p1" {
		t.Errorf("GetProblemByKey = %+v, %v", byKey, err)
	}
	if byKeys, err := s.GetProblemsByKeys(c, []string{got.Key, "nope", got.Key}); err != nil || len(byKeys) != 1 || byKeys[got.Key].ID != "p1" {
		t.Errorf("GetProblemsByKeys = %+v, %v; want only p1", byKeys, err)
	}
	if none, err := s.GetProblemsByKeys(c, nil); err != nil || len(none) != 0 {
		t.Errorf("GetProblemsByKeys(nil) = %+v, %v", none, err)
	}
	_, err = s.GetProblem(c, "nope")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetProblemByKey(c, "nope")
	mustErr(t, err, store.ErrNotFound)

	// The key is unique: a second problem with it is refused, and the
	// refusal leaves the transaction usable.
	must(t, inTx(c, s, func(tx store.Tx) error {
		_, err := tx.InsertProblem(c, problem("p2", "alertmanager/fp1/t1", "sockshop", store.ProblemOpen))
		if !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("duplicate key: error %v, want ErrExists", err)
		}
		_, err = tx.InsertProblem(c, problem("p2", "alertmanager/fp2/t1", "sockshop", store.ProblemOpen))
		return err
	}))
	err = inTx(c, s, func(tx store.Tx) error {
		_, err := tx.InsertProblem(c, store.ProblemRecord{ID: "p9"})
		return err
	})
	mustErr(t, err, store.ErrInvalid)

	// Compare-and-set: an update at a stale version loses.
	clk.Advance(time.Minute)
	closed := got
	closed.State, closed.ClosedAt, closed.RemediationID = store.ProblemClosed, clk.Now(), "r1"
	var updated store.ProblemRecord
	must(t, inTx(c, s, func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateProblem(c, closed)
		return err
	}))
	if updated.Version != 2 || updated.State != store.ProblemClosed || !updated.ClosedAt.Equal(clk.Now()) || updated.RemediationID != "r1" {
		t.Errorf("updated problem %+v", updated)
	}
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.UpdateProblem(c, closed); return err })
	mustErr(t, err, store.ErrConflict)
	err = inTx(c, s, func(tx store.Tx) error {
		_, err := tx.UpdateProblem(c, problem("ghost", "k", "sockshop", store.ProblemOpen))
		return err
	})
	mustErr(t, err, store.ErrNotFound)

	// A failed transaction keeps nothing.
	boom := errors.New("boom")
	err = inTx(c, s, func(tx store.Tx) error {
		if _, err := tx.InsertProblem(c, problem("p3", "alertmanager/fp3/t1", "sockshop", store.ProblemOpen)); err != nil {
			return err
		}
		return boom
	})
	mustErr(t, err, boom)
	_, err = s.GetProblem(c, "p3")
	mustErr(t, err, store.ErrNotFound)
}

func testProblemList(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	must(t, inTx(c, s, func(tx store.Tx) error {
		for i := range 7 {
			project, state := "sockshop", store.ProblemOpen
			if i%2 == 1 {
				state = store.ProblemClosed
			}
			if i == 6 {
				project, state = "other", store.ProblemUnmatched
			}
			p := problem(fmt.Sprintf("p%d", i), fmt.Sprintf("k%d", i), project, state)
			if i < 2 {
				p.RemediationID = "r1"
			}
			if _, err := tx.InsertProblem(c, p); err != nil {
				return err
			}
		}
		return nil
	}))
	ids := func(ps []store.ProblemRecord) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name string
		f    store.ProblemFilter
		want string
	}{
		{"all, newest first", store.ProblemFilter{}, "[p6 p5 p4 p3 p2 p1 p0]"},
		{"by project", store.ProblemFilter{Project: "sockshop"}, "[p5 p4 p3 p2 p1 p0]"},
		{"open", store.ProblemFilter{Project: "sockshop", State: store.ProblemOpen}, "[p4 p2 p0]"},
		{"closed", store.ProblemFilter{State: store.ProblemClosed}, "[p5 p3 p1]"},
		{"unmatched", store.ProblemFilter{State: store.ProblemUnmatched}, "[p6]"},
		{"by remediation", store.ProblemFilter{RemediationID: "r1"}, "[p1 p0]"},
		{"by service", store.ProblemFilter{Stage: "production", Service: "carts", State: store.ProblemClosed}, "[p5 p3 p1]"},
		{"no match", store.ProblemFilter{Service: "orders"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.ListProblems(c, tt.f)
			must(t, err)
			if got := ids(page.Problems); got != tt.want || page.NextPageKey != "" {
				t.Errorf("ListProblems(%+v) = %s (next %q), want %s", tt.f, got, page.NextPageKey, tt.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var all []store.ProblemRecord
		key := ""
		for range 10 {
			page, err := s.ListProblems(c, store.ProblemFilter{PageSize: 3, PageKey: key})
			must(t, err)
			all = append(all, page.Problems...)
			if key = page.NextPageKey; key == "" {
				break
			}
		}
		if got := ids(all); got != "[p6 p5 p4 p3 p2 p1 p0]" {
			t.Errorf("paged = %s", got)
		}
		_, err := s.ListProblems(c, store.ProblemFilter{PageKey: "bogus"})
		mustErr(t, err, store.ErrInvalid)
	})
}

func remediationRec(id, service string) store.RemediationRecord {
	return store.RemediationRecord{
		ID: id, Project: "sockshop", Stage: "production", Service: service,
		State: "waiting", Running: true, KeptnContext: "ctx-" + id, Doc: []byte(`{"ID":"` + id + `"}`),
	}
}

func testRemediations(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)

	var r1 store.RemediationRecord
	must(t, inTx(c, s, func(tx store.Tx) error {
		var err error
		if r1, err = tx.CreateRemediation(c, remediationRec("r1", "carts")); err != nil {
			return err
		}
		run, err := tx.RunningRemediation(c, "sockshop", "production", "carts")
		if err != nil || run.ID != "r1" {
			return fmt.Errorf("in-transaction running remediation %+v, %v", run, err)
		}
		return nil
	}))
	if r1.Version != 1 || !r1.Running || r1.Seq == 0 {
		t.Errorf("created %+v", r1)
	}
	// One running remediation per service: a second one conflicts, one for
	// another service or stage does not.
	err := inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateRemediation(c, remediationRec("r2", "carts")); return err })
	mustErr(t, err, store.ErrConflict)
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.CreateRemediation(c, remediationRec("r1", "orders")); return err })
	mustErr(t, err, store.ErrExists)
	must(t, inTx(c, s, func(tx store.Tx) error {
		if _, err := tx.CreateRemediation(c, remediationRec("r3", "orders")); err != nil {
			return err
		}
		dev := remediationRec("r4", "carts")
		dev.Stage = "dev"
		_, err := tx.CreateRemediation(c, dev)
		return err
	}))

	got, err := s.GetRemediation(c, "r1")
	must(t, err)
	if got.State != "waiting" || string(got.Doc) != `{"ID":"r1"}` || got.Project != "sockshop" || !got.Running {
		t.Errorf("GetRemediation = %+v", got)
	}
	_, err = s.GetRemediation(c, "nope")
	mustErr(t, err, store.ErrNotFound)
	run, err := s.RunningRemediation(c, "sockshop", "production", "carts")
	if err != nil || run.ID != "r1" {
		t.Errorf("RunningRemediation = %+v, %v", run, err)
	}

	// Compare-and-set on the version.
	clk.Advance(time.Second)
	next := got
	next.State, next.Doc = "preparing", []byte(`{"ID":"r1","State":"preparing"}`)
	var v2 store.RemediationRecord
	must(t, inTx(c, s, func(tx store.Tx) error {
		var err error
		v2, err = tx.UpdateRemediation(c, next)
		return err
	}))
	if v2.Version != 2 || v2.State != "preparing" || !v2.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("updated %+v", v2)
	}
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.UpdateRemediation(c, next); return err })
	mustErr(t, err, store.ErrConflict)
	err = inTx(c, s, func(tx store.Tx) error {
		_, err := tx.UpdateRemediation(c, remediationRec("ghost", "carts"))
		return err
	})
	mustErr(t, err, store.ErrNotFound)

	// Ending it frees the service for the next remediation.
	done := v2
	done.State, done.Running = "resolved", false
	must(t, inTx(c, s, func(tx store.Tx) error {
		if _, err := tx.UpdateRemediation(c, done); err != nil {
			return err
		}
		_, err := tx.CreateRemediation(c, remediationRec("r5", "carts"))
		return err
	}))
	_, err = s.RunningRemediation(c, "sockshop", "production", "payment")
	mustErr(t, err, store.ErrNotFound)
	// A terminal remediation cannot run again beside the new one.
	again, err := s.GetRemediation(c, "r1")
	must(t, err)
	again.Running = true
	err = inTx(c, s, func(tx store.Tx) error { _, err := tx.UpdateRemediation(c, again); return err })
	mustErr(t, err, store.ErrConflict)

	list := func(f store.RemediationFilter) string {
		t.Helper()
		page, err := s.ListRemediations(c, f)
		must(t, err)
		var out []string
		for _, r := range page.Remediations {
			out = append(out, r.ID)
		}
		return fmt.Sprint(out)
	}
	for _, tt := range []struct {
		name string
		f    store.RemediationFilter
		want string
	}{
		{"all", store.RemediationFilter{}, "[r5 r4 r3 r1]"},
		{"running", store.RemediationFilter{RunningOnly: true}, "[r5 r4 r3]"},
		{"by service", store.RemediationFilter{Project: "sockshop", Stage: "production", Service: "carts"}, "[r5 r1]"},
		{"by state", store.RemediationFilter{State: "resolved"}, "[r1]"},
		{"other project", store.RemediationFilter{Project: "other"}, "[]"},
		{"page", store.RemediationFilter{PageSize: 2}, "[r5 r4]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := list(tt.f); got != tt.want {
				t.Errorf("ListRemediations(%+v) = %s, want %s", tt.f, got, tt.want)
			}
		})
	}
}

// testProblemRaces runs the read-decide-write pattern of the intake from
// many goroutines on two stores over one database (two replicas): however
// the transactions interleave, one problem key is stored once and one
// service gets one running remediation; the losers see ErrExists or
// ErrConflict and, on retry, what the winner wrote.
func testProblemRaces(t *testing.T, h Harness) {
	openDB := h.Fresh(t)
	clk := NewClock()
	replicas := []store.Store{openDB(t, clk.Now), openDB(t, clk.Now)}
	c := ctx(t)

	const workers = 24
	var (
		mu      sync.Mutex
		created = map[string]int{} // remediation id -> creations
		joined  int
		wg      sync.WaitGroup
	)
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := replicas[i%len(replicas)]
			// Every worker reports problem "k<i%4>" for the same service.
			key := fmt.Sprintf("k%d", i%4)
			for attempt := 0; ; attempt++ {
				if attempt > 50 {
					errs <- fmt.Errorf("worker %d: no progress after 50 attempts", i)
					return
				}
				var outcome string
				err := inTx(c, s, func(tx store.Tx) error {
					outcome = ""
					if _, err := tx.GetProblemByKey(c, key); err == nil {
						outcome = "duplicate"
						return nil
					} else if !errors.Is(err, store.ErrNotFound) {
						return err
					}
					p := problem(fmt.Sprintf("p%d", i), key, "sockshop", store.ProblemOpen)
					run, err := tx.RunningRemediation(c, "sockshop", "production", "carts")
					switch {
					case err == nil:
						p.RemediationID = run.ID
						if _, err := tx.UpdateRemediation(c, run); err != nil {
							return err
						}
						outcome = "join"
					case errors.Is(err, store.ErrNotFound):
						rid := fmt.Sprintf("r%d", i)
						p.RemediationID = rid
						if _, err := tx.CreateRemediation(c, remediationRec(rid, "carts")); err != nil {
							return err
						}
						outcome = "start " + rid
					default:
						return err
					}
					_, err = tx.InsertProblem(c, p)
					return err
				})
				if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d: %w", i, err)
					return
				}
				mu.Lock()
				switch {
				case outcome == "join":
					joined++
				case len(outcome) > 6 && outcome[:6] == "start ":
					created[outcome[6:]]++
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(created) != 1 {
		t.Errorf("remediations started: %v, want exactly one", created)
	}
	if joined != 3 {
		t.Errorf("problems joined: %d, want 3 (four keys, one started the remediation)", joined)
	}
	page, err := replicas[0].ListProblems(c, store.ProblemFilter{})
	must(t, err)
	if len(page.Problems) != 4 {
		t.Errorf("stored %d problems, want 4 (one per key)", len(page.Problems))
	}
	for _, p := range page.Problems {
		if _, ok := created[p.RemediationID]; !ok {
			t.Errorf("problem %s names remediation %q, not the one started (%v)", p.ID, p.RemediationID, created)
		}
	}
}

// testPlacement checks GetPlacement: the project, the services that exist
// and the problems of the current generation, as one read.
func testPlacement(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	proj, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("stages: [production]")})
	must(t, err)
	_, err = s.CreateService(c, "sockshop", "carts")
	must(t, err)
	open := problem("p1", "alertmanager/sockshop/fp1/t1", "sockshop", store.ProblemOpen)
	open.RemediationID = "r1"
	must(t, inTx(c, s, func(tx store.Tx) error {
		if _, err := tx.InsertProblem(c, open); err != nil {
			return err
		}
		_, err := tx.InsertProblem(c, problem("p2", "alertmanager/sockshop/fp2/t1", "sockshop", store.ProblemClosed))
		return err
	}))

	got, err := s.GetPlacement(c, store.PlacementQuery{Project: "sockshop", Services: []string{"carts", "orders"},
		Keys: []string{"alertmanager/sockshop/fp1/t1", "alertmanager/sockshop/fp2/t1", "nope"}})
	must(t, err)
	if got.Project.Name != "sockshop" || got.Project.UID != proj.UID || string(got.Project.Shipyard) != "stages: [production]" {
		t.Errorf("project %+v, want sockshop of uid %s with its shipyard", got.Project, proj.UID)
	}
	if len(got.Services) != 1 || !got.Services["carts"] {
		t.Errorf("services %v, want carts only", got.Services)
	}
	p1, p2 := got.Problems["alertmanager/sockshop/fp1/t1"], got.Problems["alertmanager/sockshop/fp2/t1"]
	if len(got.Problems) != 2 || p1.ID != "p1" || p1.State != store.ProblemOpen || p1.RemediationID != "r1" ||
		p2.ID != "p2" || p2.State != store.ProblemClosed || p2.Key != "alertmanager/sockshop/fp2/t1" {
		t.Errorf("problems %+v, want p1 open of r1 and p2 closed", got.Problems)
	}

	// Keys alone, and nothing at all.
	got, err = s.GetPlacement(c, store.PlacementQuery{Keys: []string{"alertmanager/sockshop/fp1/t1"}})
	must(t, err)
	if got.Project.Name != "" || len(got.Services) != 0 || got.Problems["alertmanager/sockshop/fp1/t1"].ID != "p1" {
		t.Errorf("keys only: %+v", got)
	}
	got, err = s.GetPlacement(c, store.PlacementQuery{})
	if err != nil || got.Project.Name != "" || len(got.Services) != 0 || len(got.Problems) != 0 {
		t.Errorf("empty query: %+v, %v", got, err)
	}

	// A project deleted and created again under its name has none of its
	// old services or problems.
	must(t, s.DeleteProject(c, "sockshop"))
	got, err = s.GetPlacement(c, store.PlacementQuery{Project: "sockshop", Services: []string{"carts"}, Keys: []string{"alertmanager/sockshop/fp1/t1"}})
	must(t, err)
	if got.Project.Name != "" || len(got.Services) != 0 || len(got.Problems) != 0 {
		t.Errorf("deleted project: %+v, want nothing", got)
	}
	again, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("x")})
	must(t, err)
	got, err = s.GetPlacement(c, store.PlacementQuery{Project: "sockshop", Services: []string{"carts"}, Keys: []string{"alertmanager/sockshop/fp1/t1"}})
	must(t, err)
	if got.Project.UID != again.UID || len(got.Services) != 0 || len(got.Problems) != 0 {
		t.Errorf("project made again: %+v, want the new generation without services or problems", got)
	}

	many := make([]string, store.MaxKeysPerLookup+1)
	if _, err := s.GetPlacement(c, store.PlacementQuery{Keys: many}); err == nil {
		t.Errorf("GetPlacement took %d keys, over the limit", len(many))
	}
}
