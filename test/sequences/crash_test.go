// Package sequences tests that the real tend binary's sequence engine
// survives crashes: `tend serve` is killed with SIGKILL at random points
// while deliveries of many services run through two stages (on SQLite), or
// one of two replicas on one PostgreSQL is killed mid-sequence. Afterwards
// every sequence has finished exactly once and no task's triggered event
// was emitted twice, counted in the event log.
package sequences

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "sequences", &tendBin)) }

const project = "crash"

// shipyard: a delivery in dev (with an automatic approval, which tend
// answers itself) followed by one in staging.
const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: crash}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
            - name: test
            - name: approval
              properties: {pass: automatic, warning: automatic}
            - name: release
    - name: staging
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deployment
            - name: release
`

// tasksPerStage are the tasks each stage's delivery triggers.
var tasksPerStage = map[string][]string{"dev": {"deployment", "test", "approval", "release"}, "staging": {"deployment", "release"}}

func writeConfig(t testing.TB, dir string) string {
	t.Helper()
	return tendproc.WriteConfig(t, dir, "worker:\n  lease: 2s\n  pollInterval: 100ms\n  concurrency: 8\n")
}

func service(i int) string { return fmt.Sprintf("svc-%03d", i) }

// executor answers open deployment, test and release tasks through
// whichever server the test points it at, as a Keptn integration polling
// the control plane does; failed answers are tried again.
type executor struct {
	c        atomic.Pointer[client.Client]
	mu       sync.Mutex
	answered map[string]bool
}

func (e *executor) run(ctx context.Context) {
	for ctx.Err() == nil {
		for _, task := range []string{"deployment", "test", "release"} {
			e.poll(ctx, task)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *executor) poll(ctx context.Context, task string) {
	c := e.c.Load()
	_, raw, err := c.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/event/triggered/sh.keptn.event."+task+".triggered",
		map[string][]string{"project": {project}}, nil)
	if err != nil {
		return
	}
	var list struct{ Events []json.RawMessage }
	_ = json.Unmarshal(raw, &list)
	for _, r := range list.Events {
		var tr struct {
			ID             string `json:"id"`
			Shkeptncontext string `json:"shkeptncontext"`
			Data           struct{ Project, Stage, Service string }
		}
		_ = json.Unmarshal(r, &tr)
		e.mu.Lock()
		done := e.answered[tr.ID]
		e.mu.Unlock()
		if done {
			continue
		}
		ok := true
		for _, ph := range []string{"started", "finished"} {
			// The answer's id is fixed, so an answer sent again is
			// stored once.
			ev := fmt.Sprintf(`{"specversion":"1.0","id":"%s-%s","source":"crash-executor","type":"sh.keptn.event.%s.%s","shkeptncontext":%q,"triggeredid":%q,
				"data":{"project":%q,"stage":%q,"service":%q,"status":"succeeded","result":"pass"}}`,
				tr.ID, ph, task, ph, tr.Shkeptncontext, tr.ID, tr.Data.Project, tr.Data.Stage, tr.Data.Service)
			if _, err := c.SendEvent(ctx, []byte(ev)); err != nil {
				ok = false
				break
			}
		}
		if ok {
			e.mu.Lock()
			e.answered[tr.ID] = true
			e.mu.Unlock()
		}
	}
}

func setup(t testing.TB, c *client.Client, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := c.CreateService(ctx, project, service(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// trigger starts service i's delivery; the event's id is fixed, so a
// trigger sent again after a crash starts nothing twice.
func trigger(c *client.Client, i int) bool {
	ev := fmt.Sprintf(`{"specversion":"1.0","id":"trigger-%d","source":"crash-test","type":"sh.keptn.event.dev.delivery.triggered",
		"data":{"project":%q,"stage":"dev","service":%q,"configurationChange":{"values":{"image":"carts:%d"}}}}`, i, project, service(i), i)
	_, err := c.SendEvent(context.Background(), []byte(ev))
	return err == nil
}

// finishedStages counts the stage sequences that ended.
func finishedStages(c *client.Client) (int, error) {
	_, raw, err := c.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/sequence/"+project, map[string][]string{"pageSize": {"500"}}, nil)
	if err != nil {
		return 0, err
	}
	var out apitypes.KeptnSequenceStates
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range out.States {
		for _, st := range s.Stages {
			if st.State == "finished" {
				n++
			}
		}
	}
	return n, nil
}

// verify reads the whole event log: every service's two stage sequences
// finished once with pass, and every task was triggered exactly once.
func verify(t *testing.T, c *client.Client, n int) {
	t.Helper()
	counts := map[string]int{}
	results := map[string]string{}
	for raw, err := range c.Events(context.Background(), client.EventFilter{Project: project, PageSize: 500}) {
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type string
			Data struct{ Stage, Service, Result string }
		}
		_ = json.Unmarshal(raw, &e)
		key := e.Data.Service + "/" + e.Data.Stage + "/" + e.Type
		counts[key]++
		if e.Type == "sh.keptn.event."+e.Data.Stage+".delivery.finished" {
			results[e.Data.Service+"/"+e.Data.Stage] = e.Data.Result
		}
	}
	for i := range n {
		svc := service(i)
		for stage, tasks := range tasksPerStage {
			if got := counts[svc+"/"+stage+"/sh.keptn.event."+stage+".delivery.finished"]; got != 1 || results[svc+"/"+stage] != "pass" {
				t.Errorf("%s %s: delivery finished %d times, result %q", svc, stage, got, results[svc+"/"+stage])
			}
			for _, task := range tasks {
				if got := counts[svc+"/"+stage+"/sh.keptn.event."+task+".triggered"]; got != 1 {
					t.Errorf("%s %s: %s.triggered emitted %d times", svc, stage, task, got)
				}
			}
		}
	}
}

func TestCrashDuringSequences(t *testing.T) {
	const n = 60
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfg := writeConfig(t, dir)
	srv := tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataDir, Config: cfg})
	c := tendproc.AdminClient(t, srv.URL, dataDir)
	setup(t, c, n)
	ex := &executor{answered: map[string]bool{}}
	ex.c.Store(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ex.run(ctx)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	triggered, kills := 0, 0
	deadline := time.Now().Add(6 * time.Minute)
	for {
		for triggered < n && trigger(c, triggered) {
			triggered++
		}
		done, err := finishedStages(c)
		if err == nil && triggered == n && done == 2*n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d stage sequences finished within 6 minutes (%d kills, last error %v); stderr:\n%s", done, 2*n, kills, err, srv.Stderr)
		}
		if kills < 8 {
			t.Logf("kill %d: %d triggered, %d stage sequences finished", kills+1, triggered, done)
			time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
			srv.Kill()
			kills++
			srv = tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataDir, Config: cfg})
			c = tendproc.AdminClient(t, srv.URL, dataDir)
			ex.c.Store(c)
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d kills", kills)
	verify(t, c, n)
}

// TestTwoReplicasOneKilled runs two replicas on one PostgreSQL; one is
// killed mid-sequence and never comes back; the other finishes every
// sequence once.
func TestTwoReplicasOneKilled(t *testing.T) {
	const n = 10
	database := testenv.PostgresURL(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a := tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataA, Database: database, Config: cfg})
	b := tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataB, Database: database, Config: cfg})
	ca := tendproc.AdminClient(t, a.URL, dataA)
	cb := tendproc.AdminClient(t, b.URL, dataA)
	setup(t, ca, n)
	ex := &executor{answered: map[string]bool{}}
	ex.c.Store(cb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		if !trigger(c, i) {
			t.Fatalf("trigger %d was refused", i)
		}
	}
	go ex.run(ctx)
	// Kill replica A once some stage sequences finished: it holds some of
	// the work in flight.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		done, _ := finishedStages(cb)
		if done >= n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no sequence finished within a minute")
		}
	}
	a.Kill()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		done, err := finishedStages(cb)
		if err == nil && done == 2*n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica B finished %d of %d stage sequences (%v); stderr:\n%s", done, 2*n, err, b.Stderr)
		}
	}
	verify(t, cb, n)
}
