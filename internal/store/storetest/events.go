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

// ev builds an event record; n makes the id unique.
func ev(n int, project, stage, service, typ, kctx string) store.EventRecord {
	id := fmt.Sprintf("id-%d", n)
	return store.EventRecord{
		ID: id, Source: "storetest", Type: typ, SpecVersion: "1.0",
		Time:         time.Date(2025, 3, 1, 12, 0, n, 123456000, time.UTC),
		KeptnContext: kctx, Project: project, Stage: stage, Service: service,
		JSON: []byte(fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ)),
	}
}

func testEvents(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)

	in := ev(1, "sockshop", "dev", "carts", "sh.keptn.event.evaluation.triggered", "ctx-1")
	in.TriggeredID = "trig-0"
	seqs, err := s.AppendEvents(c, in, ev(2, "sockshop", "dev", "carts", "sh.keptn.event.evaluation.started", "ctx-1"))
	must(t, err)
	if len(seqs) != 2 || seqs[0] <= 0 || seqs[1] <= seqs[0] {
		t.Fatalf("sequence numbers %v, want two increasing positive ones", seqs)
	}

	page, err := s.ListEvents(c, store.EventFilter{ID: "id-1"})
	must(t, err)
	if len(page.Events) != 1 {
		t.Fatalf("ListEvents by id found %d events", len(page.Events))
	}
	got := page.Events[0]
	in.Seq = seqs[0]
	if got.Seq != in.Seq || got.ID != in.ID || got.Source != in.Source || got.Type != in.Type || !got.Time.Equal(in.Time) ||
		got.SpecVersion != in.SpecVersion || got.KeptnContext != in.KeptnContext || got.TriggeredID != in.TriggeredID ||
		got.Project != in.Project || got.Stage != in.Stage || got.Service != in.Service || string(got.JSON) != string(in.JSON) {
		t.Errorf("stored event\n %+v\nwant\n %+v", got, in)
	}

	// A duplicate (source, id) is idempotent: same sequence number, no
	// second row, no error, even in a batch with a new event.
	again, err := s.AppendEvents(c, ev(1, "other", "x", "y", "changed", "ctx-9"), ev(3, "sockshop", "dev", "carts", "t", "ctx-1"))
	must(t, err)
	if again[0] != seqs[0] || again[1] <= seqs[1] {
		t.Errorf("append of a duplicate and a new event = %v, want [%d, >%d]", again, seqs[0], seqs[1])
	}
	dup := ev(1, "", "", "", "t", "")
	dup.Source = "elsewhere"
	other, err := s.AppendEvents(c, dup)
	must(t, err)
	if other[0] == seqs[0] {
		t.Error("the same id from another source was taken for a duplicate")
	}
	page, err = s.ListEvents(c, store.EventFilter{CountTotal: true})
	must(t, err)
	if page.TotalCount != 4 || len(page.Events) != 4 {
		t.Errorf("log holds %d events (total %d), want 4", len(page.Events), page.TotalCount)
	}

	// One call with many events numbers them in order, and a repeat
	// within the call gets the first one's number.
	batch := []store.EventRecord{ev(10, "batch", "dev", "carts", "t", "ctx-2")}
	for i := range 8 {
		batch = append(batch, ev(11+i, "batch", "dev", "carts", "t", "ctx-2"))
	}
	batch = append(batch, ev(10, "batch", "dev", "carts", "t", "ctx-2"))
	many, err := s.AppendEvents(c, batch...)
	must(t, err)
	for i := 1; i < len(many)-1; i++ {
		if many[i] <= many[i-1] {
			t.Fatalf("sequence numbers of one call %v are not increasing", many)
		}
	}
	if last := many[len(many)-1]; last != many[0] {
		t.Errorf("a repeat within one call got %d, want the first one's %d", last, many[0])
	}
	page, err = s.ListEvents(c, store.EventFilter{Project: "batch", CountTotal: true, PageSize: 100})
	must(t, err)
	if page.TotalCount != 9 {
		t.Errorf("the batch stored %d events, want 9", page.TotalCount)
	}
	for _, e := range page.Events {
		if e.Seq == many[0] && e.ID != batch[0].ID {
			t.Errorf("sequence number %d holds %q, want %q", e.Seq, e.ID, batch[0].ID)
		}
	}

	for _, bad := range []store.EventRecord{{Source: "s", Type: "t"}, {ID: "i", Type: "t"}, {ID: "i", Source: "s"}} {
		_, err := s.AppendEvents(c, bad)
		mustErr(t, err, store.ErrInvalid)
	}

	// EventsSince is oldest first, per project.
	since, err := s.EventsSince(c, "sockshop", seqs[0], 10)
	must(t, err)
	if len(since) != 2 || since[0].Seq != seqs[1] || since[1].Seq != again[1] {
		t.Errorf("EventsSince = %v, want [%d %d]", seqOf(since), seqs[1], again[1])
	}
	all, err := s.EventsSince(c, "", 0, 2)
	must(t, err)
	if len(all) != 2 || all[0].Seq != seqs[0] {
		t.Errorf("EventsSince all, limit 2 = %v", seqOf(all))
	}
}

func seqOf(evs []store.EventRecord) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func testEventPaging(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	const n = 45
	var want []int64
	for i := range n {
		seqs, err := s.AppendEvents(c, ev(i, "p", "s", "svc", "t", "k"))
		must(t, err)
		want = append([]int64{seqs[0]}, want...) // newest first
	}
	// Another project's events must not show up in the pages.
	_, err := s.AppendEvents(c, ev(1000, "q", "s", "svc", "t", "k"))
	must(t, err)

	var got []int64
	key := ""
	pages := 0
	for {
		page, err := s.ListEvents(c, store.EventFilter{Project: "p", PageSize: 20, PageKey: key})
		must(t, err)
		pages++
		got = append(got, seqOf(page.Events)...)
		if page.NextPageKey == "" {
			break
		}
		key = page.NextPageKey
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged %d pages:\n got %v\nwant %v", pages, got, want)
	}

	// An exact multiple of the page size ends without an empty page.
	page, err := s.ListEvents(c, store.EventFilter{Project: "p", PageSize: 45})
	must(t, err)
	if len(page.Events) != 45 || page.NextPageKey != "" {
		t.Errorf("one full page: %d events, next key %q", len(page.Events), page.NextPageKey)
	}
	page, err = s.ListEvents(c, store.EventFilter{Project: "p"})
	must(t, err)
	if len(page.Events) != store.DefaultPageSize {
		t.Errorf("default page size gave %d events", len(page.Events))
	}

	for _, bad := range []string{"garbage!", "czEyMw", "eDE"} {
		_, err := s.ListEvents(c, store.EventFilter{PageKey: bad})
		if bad == "czEyMw" { // "s123": well-formed
			must(t, err)
			continue
		}
		mustErr(t, err, store.ErrInvalid)
	}
}

func testEventFilters(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	fixtures := []store.EventRecord{
		ev(1, "sockshop", "dev", "carts", "sh.keptn.event.evaluation.triggered", "c1"),
		ev(2, "sockshop", "dev", "carts", "sh.keptn.event.evaluation.finished", "c1"),
		ev(3, "sockshop", "prod", "carts", "sh.keptn.event.evaluation.finished", "c2"),
		ev(4, "sockshop", "prod", "orders", "sh.keptn.event.evaluation.finished", "c3"),
		ev(5, "podtato", "dev", "head", "sh.keptn.event.evaluation.finished", "c4"),
	}
	fixtures[1].TriggeredID = "id-1"
	seqs, err := s.AppendEvents(c, fixtures...)
	must(t, err)

	tests := []struct {
		name string
		f    store.EventFilter
		want []string // ids, newest first
	}{
		{"everything", store.EventFilter{}, []string{"id-5", "id-4", "id-3", "id-2", "id-1"}},
		{"project", store.EventFilter{Project: "sockshop"}, []string{"id-4", "id-3", "id-2", "id-1"}},
		{"project and stage", store.EventFilter{Project: "sockshop", Stage: "prod"}, []string{"id-4", "id-3"}},
		{"service in all stages", store.EventFilter{Project: "sockshop", Service: "carts"}, []string{"id-3", "id-2", "id-1"}},
		{"type", store.EventFilter{Type: "sh.keptn.event.evaluation.triggered"}, []string{"id-1"}},
		{"keptn context", store.EventFilter{KeptnContext: "c1"}, []string{"id-2", "id-1"}},
		{"triggered id", store.EventFilter{TriggeredID: "id-1"}, []string{"id-2"}},
		{"event id", store.EventFilter{ID: "id-4"}, []string{"id-4"}},
		{"after a sequence number", store.EventFilter{AfterSeq: seqs[2]}, []string{"id-5", "id-4"}},
		{"from a time, inclusive", store.EventFilter{FromTime: fixtures[3].Time}, []string{"id-5", "id-4"}},
		{"before a time, exclusive", store.EventFilter{BeforeTime: fixtures[1].Time}, []string{"id-1"}},
		{"time window", store.EventFilter{FromTime: fixtures[1].Time, BeforeTime: fixtures[3].Time}, []string{"id-3", "id-2"}},
		{"root events", store.EventFilter{Root: true}, []string{"id-5", "id-4", "id-3", "id-1"}},
		{"root events of a project", store.EventFilter{Root: true, Project: "sockshop", Stage: "prod"}, []string{"id-4", "id-3"}},
		{"no match", store.EventFilter{Project: "nope"}, nil},
		{"all fields", store.EventFilter{Project: "sockshop", Stage: "dev", Service: "carts", Type: "sh.keptn.event.evaluation.finished", KeptnContext: "c1"}, []string{"id-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.CountTotal = true
			page, err := s.ListEvents(c, tt.f)
			must(t, err)
			var ids []string
			for _, e := range page.Events {
				ids = append(ids, e.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) || page.TotalCount != len(tt.want) {
				t.Errorf("ids %v (total %d), want %v", ids, page.TotalCount, tt.want)
			}
		})
	}
}

// testConcurrentAppends checks group commit: many concurrent callers, each
// answered with its own sequence numbers, nothing lost or doubled.
func testConcurrentAppends(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	const workers, each = 8, 40
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := ev(w*1000+i, "p", "s", "svc", "t", "k")
				// Every worker also re-sends one shared event.
				shared := ev(999999, "p", "s", "svc", "t", "k")
				seqs, err := s.AppendEvents(c, e, shared)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, ok := seen[seqs[0]]; ok {
					errs <- fmt.Errorf("sequence %d given to %s and %s", seqs[0], prev, e.ID)
				}
				seen[seqs[0]] = e.ID
				if id, ok := seen[seqs[1]]; ok && id != "shared" {
					errs <- fmt.Errorf("shared event got sequence %d of %s", seqs[1], id)
				}
				seen[seqs[1]] = "shared"
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	page, err := s.ListEvents(c, store.EventFilter{CountTotal: true, PageSize: 1})
	must(t, err)
	if page.TotalCount != workers*each+1 {
		t.Errorf("log holds %d events, want %d", page.TotalCount, workers*each+1)
	}
	// EventsSince reads the log back in order without gaps in what it
	// returns.
	var last int64
	read := 0
	for {
		evs, err := s.EventsSince(c, "p", last, 100)
		must(t, err)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Seq <= last {
				t.Fatalf("EventsSince went back from %d to %d", last, e.Seq)
			}
			last = e.Seq
			read++
		}
	}
	if read != workers*each+1 {
		t.Errorf("EventsSince read %d events, want %d", read, workers*each+1)
	}
}

func waitSignal(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: subscription closed", what)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no signal", what)
	}
}

func testEventNotify(t *testing.T, h Harness) {
	clk := NewClock()
	openDB := h.Fresh(t)
	s := openDB(t, clk.Now)
	c := ctx(t)

	sub := s.SubscribeEvents(c)
	_, err := s.AppendEvents(c, ev(1, "p", "s", "svc", "t", "k"))
	must(t, err)
	waitSignal(t, sub, "local append")

	jobs := s.SubscribeJobs(c)
	_, err = s.EnqueueJobs(c, store.JobSpec{Kind: "k"})
	must(t, err)
	waitSignal(t, jobs, "local enqueue")

	if h.SharedNotify {
		other := openDB(t, clk.Now)
		remote := other.SubscribeEvents(c)
		remoteJobs := other.SubscribeJobs(c)
		// Open returns after the replica listens, so one commit is enough.
		_, err := s.AppendEvents(c, ev(2, "p", "s", "svc", "t", "k"))
		must(t, err)
		waitSignal(t, remote, "append on another replica")
		_, err = s.EnqueueJobs(c, store.JobSpec{Kind: "k"})
		must(t, err)
		waitSignal(t, remoteJobs, "enqueue on another replica")
	}

	// A cancelled subscription's channel is closed.
	sc, cancel := context.WithCancel(c)
	ch := s.SubscribeEvents(sc)
	cancel()
	for range ch {
	}
	// Closing the store closes subscriptions too.
	ch = s.SubscribeEvents(c)
	must(t, s.Close())
	for range ch {
	}
	if _, err := s.AppendEvents(c, ev(99, "p", "s", "svc", "t", "k")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("append after Close = %v, want ErrClosed", err)
	}
}

func testOpenTriggered(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	const trig, fin = "sh.keptn.event.action.triggered", "sh.keptn.event.action.finished"
	answer := func(n int, of string, typ string) store.EventRecord {
		e := ev(n, "sockshop", "production", "carts", typ, "k")
		e.TriggeredID = of
		return e
	}
	_, err := s.AppendEvents(c,
		ev(1, "sockshop", "production", "carts", trig, "k"),  // answered below
		ev(2, "sockshop", "production", "carts", trig, "k"),  // only started
		ev(3, "sockshop", "production", "orders", trig, "k"), // open, other service
		ev(4, "sockshop", "dev", "carts", trig, "k"),         // open, other stage
		ev(5, "other", "production", "carts", trig, "k"),     // open, other project
		ev(6, "sockshop", "production", "carts", "sh.keptn.event.evaluation.triggered", "k"),
		answer(7, "id-1", fin),
		answer(8, "id-2", "sh.keptn.event.action.started"),
		answer(9, "id-4", "sh.keptn.event.evaluation.finished"), // answers another type
		ev(10, "sockshop", "production", "carts", trig, "k"),    // open, newest
	)
	must(t, err)
	ids := func(evs []store.EventRecord) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.TriggeredFilter
		want []string
	}{
		{"every project", store.TriggeredFilter{}, []string{"id-2", "id-3", "id-4", "id-5", "id-10"}},
		{"one project", store.TriggeredFilter{Project: "sockshop"}, []string{"id-2", "id-3", "id-4", "id-10"}},
		{"stage and service", store.TriggeredFilter{Project: "sockshop", Stage: "production", Service: "carts"}, []string{"id-2", "id-10"}},
		{"the newest within the limit, oldest first", store.TriggeredFilter{Limit: 2}, []string{"id-5", "id-10"}},
		{"nothing matches", store.TriggeredFilter{Project: "none"}, nil},
		{"one event", store.TriggeredFilter{ID: "id-3"}, []string{"id-3"}},
		{"an answered event", store.TriggeredFilter{ID: "id-1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Type, tt.f.Finished = trig, fin
			got, err := s.OpenTriggeredEvents(c, tt.f)
			must(t, err)
			if fmt.Sprint(ids(got)) != fmt.Sprint(tt.want) {
				t.Errorf("open triggered events = %v, want %v", ids(got), tt.want)
			}
		})
	}
	_, err = s.OpenTriggeredEvents(c, store.TriggeredFilter{Type: trig})
	mustErr(t, err, store.ErrInvalid)
}
