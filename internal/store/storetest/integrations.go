package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

func testIntegrations(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)

	if _, err := s.GetIntegration(c, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIntegration(unknown) = %v, want ErrNotFound", err)
	}
	reg := clk.Now()
	in, err := s.UpdateIntegration(c, "i1", func(cur store.Integration, found bool) (store.Integration, error) {
		if found || cur.ID != "i1" {
			t.Errorf("new integration: found=%v cur=%+v", found, cur)
		}
		cur.Name, cur.Project, cur.Hostname, cur.IntegrationVersion = "hello-service", "p", "node-1", "1.0.0"
		cur.DistributorVersion, cur.Location, cur.Namespace = "0.15.0", "remote", "keptn"
		cur.PodName, cur.DeploymentName = "hello-0", "hello"
		cur.RegisteredAt, cur.LastSeen = reg, reg
		cur.Subscriptions = []store.Subscription{
			{ID: "s1", Event: "sh.keptn.event.hello.triggered", Projects: []string{"p"}},
			{ID: "s2", Event: "sh.keptn.event.bye.triggered", Stages: []string{"dev", "prod"}, Services: []string{"carts"}},
		}
		return cur, nil
	})
	must(t, err)
	got, err := s.GetIntegration(c, "i1")
	must(t, err)
	want := in
	want.Subscriptions[0].Stages, want.Subscriptions[0].Services = []string{}, []string{}
	want.Subscriptions[1].Projects = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetIntegration:\n got %+v\nwant %+v", got, want)
	}

	// A ping moves only the last seen time; the subscriptions stay.
	clk.Advance(time.Minute)
	_, err = s.UpdateIntegration(c, "i1", func(cur store.Integration, found bool) (store.Integration, error) {
		if !found {
			t.Error("existing integration not found")
		}
		cur.LastSeen = clk.Now()
		return cur, nil
	})
	must(t, err)
	got, err = s.GetIntegration(c, "i1")
	must(t, err)
	if !got.LastSeen.Equal(clk.Now()) || !got.RegisteredAt.Equal(reg) || len(got.Subscriptions) != 2 {
		t.Errorf("after ping: %+v", got)
	}

	// Replacing subscriptions keeps their new order; an error from fn
	// changes nothing.
	_, err = s.UpdateIntegration(c, "i1", func(cur store.Integration, _ bool) (store.Integration, error) {
		cur.Subscriptions = []store.Subscription{cur.Subscriptions[1], {ID: "s3", Event: "sh.keptn.event.test.triggered"}}
		return cur, nil
	})
	must(t, err)
	boom := errors.New("boom")
	if _, err := s.UpdateIntegration(c, "i1", func(cur store.Integration, _ bool) (store.Integration, error) {
		cur.Subscriptions = nil
		return cur, boom
	}); !errors.Is(err, boom) {
		t.Errorf("fn error = %v", err)
	}
	got, err = s.GetIntegration(c, "i1")
	must(t, err)
	if ids := subIDs(got.Subscriptions); ids != "[s2 s3]" {
		t.Errorf("subscriptions %s, want [s2 s3]", ids)
	}
	// A subscription id belongs to one integration.
	if _, err := s.UpdateIntegration(c, "i2", func(cur store.Integration, _ bool) (store.Integration, error) {
		cur.Name = "other"
		cur.Subscriptions = []store.Subscription{{ID: "s2", Event: "x"}}
		return cur, nil
	}); !errors.Is(err, store.ErrExists) {
		t.Errorf("reused subscription id: %v, want ErrExists", err)
	}
	if _, err := s.UpdateIntegration(c, "i2", func(cur store.Integration, _ bool) (store.Integration, error) {
		return cur, nil
	}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("nameless integration: %v, want ErrInvalid", err)
	}
	_, err = s.UpdateIntegration(c, "i0", func(cur store.Integration, _ bool) (store.Integration, error) {
		cur.Name = "approval-service"
		return cur, nil
	})
	must(t, err)
	list, err := s.ListIntegrations(c)
	must(t, err)
	if len(list) != 2 || list[0].ID != "i0" || list[1].ID != "i1" || len(list[1].Subscriptions) != 2 || len(list[0].Subscriptions) != 0 {
		t.Errorf("ListIntegrations: %+v", list)
	}

	must(t, s.DeleteIntegration(c, "i1"))
	if err := s.DeleteIntegration(c, "i1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// Its subscription ids are free again.
	_, err = s.UpdateIntegration(c, "i3", func(cur store.Integration, _ bool) (store.Integration, error) {
		cur.Name = "again"
		cur.Subscriptions = []store.Subscription{{ID: "s2", Event: "x"}}
		return cur, nil
	})
	must(t, err)
}

func subIDs(subs []store.Subscription) string {
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	return fmt.Sprint(ids)
}

func testIntegrationRaces(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	// Concurrent read-modify-writes of one integration lose nothing.
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateIntegration(c, "i", func(cur store.Integration, _ bool) (store.Integration, error) {
				cur.Name = "racer"
				cur.Subscriptions = append(cur.Subscriptions, store.Subscription{ID: fmt.Sprintf("s%d", i), Event: "e"})
				return cur, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetIntegration(c, "i")
	must(t, err)
	if len(got.Subscriptions) != n {
		t.Errorf("%d subscriptions after %d concurrent additions", len(got.Subscriptions), n)
	}
}

func testIntegrationLogs(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)
	t0 := clk.Now()
	var logs []store.IntegrationLog
	for i := range 5 {
		project := "a"
		if i%2 == 1 {
			project = "b"
		}
		logs = append(logs, store.IntegrationLog{IntegrationID: "i1", Project: project, KeptnContext: "ctx", TriggeredID: fmt.Sprint("t", i),
			Task: "hello", Message: fmt.Sprint("line ", i), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	must(t, s.AppendIntegrationLogs(c, logs...))
	must(t, s.AppendIntegrationLogs(c, store.IntegrationLog{IntegrationID: "i2", Message: "no time"}))
	if err := s.AppendIntegrationLogs(c, store.IntegrationLog{Message: "whose?"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("log without integration: %v", err)
	}

	msgs := func(pg store.IntegrationLogPage) string {
		var m []string
		for _, l := range pg.Logs {
			m = append(m, l.Message)
		}
		return fmt.Sprint(m)
	}
	tests := []struct {
		name      string
		f         store.IntegrationLogFilter
		want      string
		next, all int
	}{
		{"all newest first", store.IntegrationLogFilter{}, "[no time line 4 line 3 line 2 line 1 line 0]", 0, 6},
		{"one integration", store.IntegrationLogFilter{IntegrationID: "i1", PageSize: 2}, "[line 4 line 3]", 2, 5},
		{"second page", store.IntegrationLogFilter{IntegrationID: "i1", PageSize: 2, Offset: 2}, "[line 2 line 1]", 4, 5},
		{"last page", store.IntegrationLogFilter{IntegrationID: "i1", PageSize: 2, Offset: 4}, "[line 0]", 0, 5},
		{"one project", store.IntegrationLogFilter{Project: "b"}, "[line 3 line 1]", 0, 2},
		{"from time", store.IntegrationLogFilter{IntegrationID: "i1", FromTime: t0.Add(3 * time.Second)}, "[line 4 line 3]", 0, 2},
		{"before time", store.IntegrationLogFilter{IntegrationID: "i1", BeforeTime: t0.Add(time.Second)}, "[line 0]", 0, 1},
		{"context", store.IntegrationLogFilter{KeptnContext: "nope"}, "[]", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg, err := s.ListIntegrationLogs(c, tt.f)
			must(t, err)
			if got := msgs(pg); got != tt.want || pg.NextOffset != tt.next || pg.TotalCount != tt.all {
				t.Errorf("got %s next %d total %d, want %s next %d total %d", got, pg.NextOffset, pg.TotalCount, tt.want, tt.next, tt.all)
			}
		})
	}
	pg, err := s.ListIntegrationLogs(c, store.IntegrationLogFilter{IntegrationID: "i1", PageSize: 1})
	must(t, err)
	if l := pg.Logs[0]; l.Project != "a" || l.KeptnContext != "ctx" || l.TriggeredID != "t4" || l.Task != "hello" || !l.Time.Equal(t0.Add(4*time.Second)) || l.Seq == 0 {
		t.Errorf("stored line %+v", l)
	}
	if _, err := s.ListIntegrationLogs(c, store.IntegrationLogFilter{Offset: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative offset: %v", err)
	}
}
