package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

func testSettings(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	scopes := []store.Scope{
		{},
		{Project: "p"},
		{Project: "p", Stage: "dev"},
		{Project: "p", Stage: "dev", Service: "carts"},
		{Project: "p", Service: "carts"},
		{Project: "q"},
	}
	// The same key at every scope keeps a value of its own.
	for i, sc := range scopes {
		must(t, s.PutSetting(c, store.Setting{Scope: sc, Key: "monitoring", Value: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}))
	}
	for i, sc := range scopes {
		got, err := s.GetSetting(c, sc, "monitoring")
		must(t, err)
		var v struct{ N int }
		must(t, json.Unmarshal(got.Value, &v))
		if v.N != i || got.Scope != sc || got.Key != "monitoring" {
			t.Errorf("scope %+v: got %+v (n=%d), want n=%d", sc, got, v.N, i)
		}
	}
	// Put replaces.
	must(t, s.PutSetting(c, store.Setting{Scope: scopes[1], Key: "monitoring", Value: json.RawMessage(`"prometheus"`)}))
	got, err := s.GetSetting(c, scopes[1], "monitoring")
	must(t, err)
	if string(got.Value) != `"prometheus"` {
		t.Errorf("after replace: %s", got.Value)
	}

	list, err := s.ListSettings(c, "p")
	must(t, err)
	var keys []string
	for _, st := range list {
		keys = append(keys, st.Stage+"/"+st.Service)
	}
	if fmt.Sprint(keys) != "[/ /carts dev/ dev/carts]" {
		t.Errorf("ListSettings(p) scopes %v", keys)
	}
	global, err := s.ListSettings(c, "")
	must(t, err)
	if len(global) != 1 || global[0].Scope != (store.Scope{}) {
		t.Errorf("server-wide settings %+v", global)
	}

	must(t, s.DeleteSetting(c, scopes[2], "monitoring"))
	mustErr(t, s.DeleteSetting(c, scopes[2], "monitoring"), store.ErrNotFound)
	_, err = s.GetSetting(c, scopes[2], "monitoring")
	mustErr(t, err, store.ErrNotFound)
	if _, err := s.GetSetting(c, scopes[3], "monitoring"); err != nil {
		t.Errorf("deleting a stage setting removed the service one: %v", err)
	}

	bad := []struct {
		name string
		s    store.Setting
	}{
		{"invalid JSON", store.Setting{Scope: scopes[1], Key: "k", Value: json.RawMessage(`{`)}},
		{"empty value", store.Setting{Scope: scopes[1], Key: "k"}},
		{"no key", store.Setting{Scope: scopes[1], Value: json.RawMessage(`1`)}},
		{"stage without project", store.Setting{Scope: store.Scope{Stage: "dev"}, Key: "k", Value: json.RawMessage(`1`)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			mustErr(t, s.PutSetting(c, tt.s), store.ErrInvalid)
		})
	}
}

// testReopen writes one of everything, closes the store and opens the
// database again: everything committed is still there.
func testReopen(t *testing.T, h Harness) {
	clk := NewClock()
	openDB := h.Fresh(t)
	s := openDB(t, clk.Now)
	c := ctx(t)
	_, err := s.CreateProject(c, store.NewProject{Name: "p", Shipyard: []byte(shipyard), UpstreamToken: "tok"})
	must(t, err)
	_, err = s.CreateService(c, "p", "carts")
	must(t, err)
	_, err = s.CreateToken(c, store.NewToken{Name: "admin", Scope: "admin", Hash: hash("a")})
	must(t, err)
	seqs, err := s.AppendEvents(c, ev(1, "p", "s", "carts", "t", "k"))
	must(t, err)
	ids, err := s.EnqueueJobs(c, store.JobSpec{Kind: "k", UniqueKey: "u"}, store.JobSpec{Kind: "running"})
	must(t, err)
	running, ok := claimOne(t, s, store.Claim{Kinds: []string{"running"}, Lease: time.Minute})
	if !ok {
		t.Fatal("nothing claimed")
	}
	must(t, s.PutSetting(c, store.Setting{Scope: store.Scope{Project: "p"}, Key: "k", Value: json.RawMessage(`1`)}))
	must(t, s.Close())
	must(t, s.Close()) // twice is harmless

	s = openDB(t, clk.Now)
	if p, err := s.GetProject(c, "p"); err != nil || string(p.Shipyard) != shipyard {
		t.Errorf("project after reopen: %+v, %v", p, err)
	}
	if tok, err := s.ProjectUpstreamToken(c, "p"); err != nil || tok != "tok" {
		t.Errorf("upstream token after reopen: %q, %v", tok, err)
	}
	if _, err := s.GetService(c, "p", "carts"); err != nil {
		t.Errorf("service after reopen: %v", err)
	}
	if _, err := s.TokenByHash(c, hash("a")); err != nil {
		t.Errorf("token after reopen: %v", err)
	}
	if evs, err := s.EventsSince(c, "", 0, 10); err != nil || len(evs) != 1 || evs[0].Seq != seqs[0] {
		t.Errorf("events after reopen: %v, %v", seqOf(evs), err)
	}
	if _, err := s.GetSetting(c, store.Scope{Project: "p"}, "k"); err != nil {
		t.Errorf("setting after reopen: %v", err)
	}
	again, err := s.EnqueueJobs(c, store.JobSpec{Kind: "k", UniqueKey: "u"})
	must(t, err)
	if again[0] != ids[0] {
		t.Error("unique key forgotten after reopen")
	}
	// The job of the process that "died" is claimed again after its lease.
	clk.Advance(time.Minute)
	j, ok := claimOne(t, s, store.Claim{Kinds: []string{"running"}})
	if !ok || j.ID != running.ID || j.Attempt != 2 {
		t.Errorf("running job after reopen and lease expiry: %+v", j)
	}
	more, err := s.AppendEvents(c, ev(2, "p", "s", "carts", "t", "k"))
	must(t, err)
	if more[0] <= seqs[0] {
		t.Errorf("sequence after reopen %d, not above %d", more[0], seqs[0])
	}
}

func testClosed(t *testing.T, h Harness) {
	s, _ := open(t, h)
	must(t, s.Close())
	c := context.Background()
	if _, err := s.CreateProject(c, store.NewProject{Name: "p"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after Close = %v, want ErrClosed", err)
	}
	if err := s.WithTx(c, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("WithTx after Close = %v, want ErrClosed", err)
	}
}
