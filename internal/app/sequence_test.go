package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/spec"
)

// The tests in this file run shipyard sequences through an in-process
// server: a sequence trigger in through POST /api/v1/event, every task that
// is not built in answered by a test executor that polls the open
// triggered events as Keptn's integrations do, the event log checked.

// keptnExamples is where Keptn's own files are (see internal/spec).
const keptnExamples = "../../../shared/keptn-examples"

// seqApp starts a server with a settable clock and sockshop/carts made from
// shipyard, with an SLO and an SLI provider that answer 500ms (a pass) in
// every stage, so the built-in evaluation passes.
func seqApp(t *testing.T, shipyard string, cfg config.Config) (*testApp, *clock) {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	cfg.Worker.PollInterval = 10 * time.Millisecond
	ta := startTestApp(t, Options{Config: &cfg, Now: clk.now, SLIProviders: func(settings.Selection) (sli.Provider, error) { return latency{func() float64 { return 500 }}, nil }})
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	sy, _ := spec.DecodeShipyard("shipyard.yaml", []byte(shipyard))
	for _, st := range sy.StageNames() {
		ref := client.ResourceRef{Project: "sockshop", Stage: st, Service: "carts"}
		if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(healSLO)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://prometheus.invalid:9090"}); err != nil {
		t.Fatal(err)
	}
	return ta, clk
}

// clock is a settable clock that otherwise follows real time, so leases
// and polling keep working while a test jumps over a timer.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// executor answers the open triggered events of its tasks: started, then
// finished with the result its function gives (pass when nil).
type executor struct {
	ta      *testApp
	tasks   []string
	result  func(task string) string
	mu      sync.Mutex
	answers map[string]int // triggered id -> answers sent
}

func runExecutor(t *testing.T, ta *testApp, tasks []string, result func(string) string) *executor {
	e := &executor{ta: ta, tasks: tasks, result: result, answers: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, task := range tasks {
				e.poll(ctx, t, task)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *executor) poll(ctx context.Context, t *testing.T, task string) {
	_, raw, err := e.ta.c.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/event/triggered/"+event.TaskType(task, event.PhaseTriggered),
		map[string][]string{"project": {"sockshop"}}, nil)
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
		seen := e.answers[tr.ID] > 0
		e.answers[tr.ID]++
		e.mu.Unlock()
		if seen {
			continue
		}
		res := event.ResultPass
		if e.result != nil {
			res = e.result(task + "/" + tr.Data.Stage)
		}
		for _, ph := range []string{"started", "finished"} {
			ev := fmt.Sprintf(`{"specversion":"1.0","source":"test-executor","type":"sh.keptn.event.%s.%s","shkeptncontext":%q,"triggeredid":%q,
				"data":{"project":%q,"stage":%q,"service":%q,"status":"succeeded","result":%q,"%s":{"by":"test-executor"}}}`,
				task, ph, tr.Shkeptncontext, tr.ID, tr.Data.Project, tr.Data.Stage, tr.Data.Service, res, task)
			if _, err := e.ta.c.SendEvent(ctx, []byte(ev)); err != nil && ctx.Err() == nil {
				t.Errorf("answer %s: %v", task, err)
			}
		}
	}
}

// triggerSequence posts <stage>.<name>.triggered for carts and returns its context.
func (ta *testApp) triggerSequence(t testing.TB, stage, name, data string) string {
	t.Helper()
	if data == "" {
		data = `"configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.13.1"}}`
	}
	body := fmt.Sprintf(`{"specversion":"1.0","source":"test","type":"sh.keptn.event.%s.%s.triggered",
		"data":{"project":"sockshop","stage":%q,"service":"carts",%s}}`, stage, name, stage, data)
	kctx, err := ta.c.SendEvent(context.Background(), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return kctx
}

// sequences returns the sequence states of a context.
func (ta *testApp) sequences(t testing.TB, query map[string][]string) apitypes.KeptnSequenceStates {
	t.Helper()
	_, raw, err := ta.c.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/sequence/sockshop", query, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out apitypes.KeptnSequenceStates
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return out
}

// waitStages waits until the context's sequence has run in every stage of
// want (stage -> state) and returns the stages.
func (ta *testApp) waitStages(t testing.TB, kctx string, want map[string]string) map[string]apitypes.KeptnSequenceStateStage {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]apitypes.KeptnSequenceStateStage{}
		states := ta.sequences(t, map[string][]string{"keptnContext": {kctx}})
		for _, s := range states.States {
			for _, st := range s.Stages {
				got[st.Name] = st
			}
		}
		ok := len(got) == len(want)
		for name, state := range want {
			ok = ok && got[name].State == state
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("stages %+v, want states %v; logs:\n%s", got, want, tail(ta.logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return s[len(s)-6000:]
	}
	return s
}

// stageStory returns the short types of a stage's events in a context,
// oldest first, leaving out get-sli (the evaluation's own step).
func (ta *testApp) stageStory(t testing.TB, kctx, stage string) []string {
	t.Helper()
	var out []string
	for _, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: kctx, Stage: stage}) {
		var e struct{ Type string }
		_ = json.Unmarshal(raw, &e)
		ty := strings.TrimPrefix(e.Type, event.Prefix)
		if !strings.HasPrefix(ty, "get-sli.") {
			out = append(out, ty)
		}
	}
	return out
}

// keptnOrder is the story Keptn told for a stage's sequence run: the
// trigger, each task triggered, started and finished, the sequence finished.
func keptnOrder(stage, name string, tasks []spec.Task) []string {
	out := []string{stage + "." + name + ".triggered"}
	for _, tk := range tasks {
		out = append(out, tk.Name+".triggered", tk.Name+".started", tk.Name+".finished")
	}
	return append(out, stage+"."+name+".finished")
}

func TestKeptnShipyardsRunTheirSequences(t *testing.T) {
	if _, err := os.Stat(keptnExamples); err != nil {
		t.Skipf("Keptn's examples are not at %s (../shared/keptn-examples relative to the module root): %v", keptnExamples, err)
	}
	for _, tc := range []struct {
		name, file string
		// stages the delivery reaches, in the order they run
		stages []string
	}{
		{"0.11.0 onboarding-carts", "examples/0.11.0/onboarding-carts/shipyard.yaml", []string{"dev", "staging", "production"}},
		{"0.8.3 onboard service, two production stages", "keptn/0.8.3/test/assets/shipyard_onboard_service.yaml", []string{"dev", "staging", "prod-a", "prod-b"}},
		{"0.7.3 legacy onboarding-carts", "examples/0.7.3/onboarding-carts/shipyard.yaml", []string{"dev", "staging", "production"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join(keptnExamples, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			ta, _ := seqApp(t, string(text), config.Default())
			ex := runExecutor(t, ta, []string{"deployment", "test", "release", "rollback"}, nil)
			kctx := ta.triggerSequence(t, tc.stages[0], "delivery", "")
			want := map[string]string{}
			for _, st := range tc.stages {
				want[st] = string(sequence.Finished)
			}
			got := ta.waitStages(t, kctx, want)
			sy, _ := spec.DecodeShipyard("shipyard.yaml", text)
			for _, st := range tc.stages {
				def, _ := sequence.Lookup(sy, st, "delivery")
				if story := ta.stageStory(t, kctx, st); !slices.Equal(story, keptnOrder(st, "delivery", def.Tasks)) {
					t.Errorf("stage %s:\n got %v\nwant %v", st, story, keptnOrder(st, "delivery", def.Tasks))
				}
				if got[st].Result != event.ResultPass || got[st].Image != "docker.io/keptnexamples/carts:0.13.1" {
					t.Errorf("stage %s: %+v", st, got[st])
				}
			}
			// Each stage starts after the sequence its triggeredOn names
			// finished.
			all := ta.story(t, kctx)
			for _, st := range tc.stages[1:] {
				def, _ := sequence.Lookup(sy, st, "delivery")
				prev := slices.Index(all, def.TriggeredOn[0].Event)
				next := slices.Index(all, st+".delivery.triggered")
				if prev < 0 || next < prev {
					t.Errorf("%s.delivery.triggered at %d, before %s at %d", st, next, def.TriggeredOn[0].Event, prev)
				}
			}
			ex.mu.Lock()
			defer ex.mu.Unlock()
			if len(ex.answers) == 0 {
				t.Error("the executor answered nothing")
			}
		})
	}
}

// TestFailedEvaluationStartsRollback: a delivery whose test fails in
// staging ends fail and starts the rollback sequence its selector names,
// not the next stage's delivery.
func TestFailedTaskStartsRollback(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(keptnExamples, "examples/0.11.0/onboarding-carts/shipyard.yaml"))
	if err != nil {
		t.Skipf("Keptn's examples are missing: %v", err)
	}
	ta, _ := seqApp(t, string(text), config.Default())
	runExecutor(t, ta, []string{"deployment", "test", "release", "rollback"}, func(task string) string {
		if task == "test/staging" {
			return event.ResultFail
		}
		return event.ResultPass
	})
	kctx := ta.triggerSequence(t, "dev", "delivery", "")
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(ta.story(t, kctx), "staging.rollback.finished") {
		if time.Now().After(deadline) {
			t.Fatalf("no rollback: %v", ta.story(t, kctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
	story := ta.story(t, kctx)
	if slices.Contains(story, "production.delivery.triggered") || slices.Contains(story, "staging.evaluation.triggered") {
		t.Errorf("the failed delivery went on: %v", story)
	}
	if got := ta.stageStory(t, kctx, "staging"); !slices.Contains(got, "rollback.finished") {
		t.Errorf("staging: %v", got)
	}
}

const queueShipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: q}
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
        - name: slow
          tasks:
            - name: hold
              triggeredAfter: 30m
            - name: echo
`

// TestQueueOnePerService: a second sequence of the same service waits
// until the first ends, then runs.
func TestQueueOnePerService(t *testing.T) {
	ta, _ := seqApp(t, queueShipyard, config.Default())
	first := ta.triggerSequence(t, "dev", "delivery", "")
	ta.waitStages(t, first, map[string]string{"dev": "started"})
	second := ta.triggerSequence(t, "dev", "delivery", "")
	ta.waitStages(t, second, map[string]string{"dev": "waiting"})
	if story := ta.story(t, second); slices.Contains(story, "deployment.triggered") {
		t.Fatalf("the waiting sequence triggered a task: %v", story)
	}
	if got := ta.sequences(t, map[string][]string{"state": {"waiting"}}); got.TotalCount != 1 || got.States[0].KeptnContext != second {
		t.Errorf("waiting sequences %+v", got)
	}
	runExecutor(t, ta, []string{"deployment"}, nil)
	ta.waitStages(t, first, map[string]string{"dev": "finished"})
	ta.waitStages(t, second, map[string]string{"dev": "finished"})
}

// TestTimersWithAClock: triggeredAfter holds a task until the clock passes
// it, and a task nobody starts times out with "no executor answered".
func TestTimersWithAClock(t *testing.T) {
	cfg := config.Default()
	cfg.Sequences.TaskTimeout = 5 * time.Minute
	ta, clk := seqApp(t, queueShipyard, cfg)
	kctx := ta.triggerSequence(t, "dev", "slow", "")
	ta.waitStages(t, kctx, map[string]string{"dev": "started"})
	time.Sleep(100 * time.Millisecond) // ten worker polls: the delay must hold
	if story := ta.story(t, kctx); slices.Contains(story, "hold.triggered") {
		t.Fatalf("triggeredAfter did not hold the task: %v", story)
	}
	clk.advance(30 * time.Minute)
	waitStory(t, ta, kctx, "hold.triggered")
	runExecutor(t, ta, []string{"hold"}, nil)
	waitStory(t, ta, kctx, "echo.triggered")
	clk.advance(5 * time.Minute)
	st := ta.waitStages(t, kctx, map[string]string{"dev": "timedOut"})
	if st["dev"].Status != event.StatusErrored || st["dev"].Result != event.ResultFail {
		t.Errorf("timed out stage %+v", st["dev"])
	}
	var fin struct {
		Data struct{ Message, Status string }
	}
	evs := ta.contextEvents(t, client.EventFilter{KeptnContext: kctx, Type: "sh.keptn.event.echo.finished"})
	if len(evs) != 1 || json.Unmarshal(evs[0], &fin) != nil || fin.Data.Message != sequence.NoExecutorMessage || fin.Data.Status != "errored" {
		t.Errorf("echo.finished %s", evs)
	}
}

func waitStory(t *testing.T, ta *testApp, kctx, typ string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(ta.story(t, kctx), typ) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s: %v", typ, ta.story(t, kctx))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ta *testApp) control(t *testing.T, kctx, state string) int {
	t.Helper()
	code, _, _ := ta.c.Raw(context.Background(), http.MethodPost, "/api/controlPlane/v1/sequence/sockshop/"+kctx+"/control", nil,
		[]byte(`{"state":"`+state+`","stage":"dev"}`))
	return code
}

// TestPauseResumeAbort controls a sequence through Keptn's route.
func TestPauseResumeAbort(t *testing.T) {
	ta, _ := seqApp(t, queueShipyard, config.Default())
	kctx := ta.triggerSequence(t, "dev", "delivery", "")
	waitStory(t, ta, kctx, "deployment.triggered")
	if code := ta.control(t, kctx, "pause"); code != http.StatusOK {
		t.Fatalf("pause: %d", code)
	}
	ta.waitStages(t, kctx, map[string]string{"dev": "paused"})
	// The paused sequence's task still takes its answer, and stays paused.
	runExecutor(t, ta, []string{"deployment"}, nil)
	waitStory(t, ta, kctx, "deployment.finished")
	time.Sleep(100 * time.Millisecond)
	ta.waitStages(t, kctx, map[string]string{"dev": "paused"})
	if code := ta.control(t, kctx, "resume"); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	ta.waitStages(t, kctx, map[string]string{"dev": "finished"})

	// Abort a sequence that waits for its task.
	other := ta.triggerSequence(t, "dev", "slow", "")
	ta.waitStages(t, other, map[string]string{"dev": "started"})
	if code := ta.control(t, other, "abort"); code != http.StatusOK {
		t.Fatalf("abort: %d", code)
	}
	st := ta.waitStages(t, other, map[string]string{"dev": "aborted"})
	if st["dev"].Status != event.StatusAborted {
		t.Errorf("aborted stage %+v", st["dev"])
	}
	if code := ta.control(t, other, "resume"); code != http.StatusConflict {
		t.Errorf("resume of an aborted sequence: %d, want 409", code)
	}
	if code := ta.control(t, "00000000-0000-4000-8000-000000000000", "pause"); code != http.StatusNotFound {
		t.Errorf("control of an unknown context: %d, want 404", code)
	}
}

// TestKeptnDelayedTasksShipyard runs Keptn's own triggeredAfter test
// shipyard: echo is triggered only once the clock passed 20s.
func TestKeptnDelayedTasksShipyard(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(keptnExamples, "keptn/0.8.3/test/assets/shipyard_delayed_tasks.yaml"))
	if err != nil {
		t.Skipf("Keptn's examples are missing: %v", err)
	}
	ta, clk := seqApp(t, string(text), config.Default())
	runExecutor(t, ta, []string{"echo"}, nil)
	kctx := ta.triggerSequence(t, "firststage", "echosequence", "")
	ta.waitStages(t, kctx, map[string]string{"firststage": "started"})
	time.Sleep(100 * time.Millisecond)
	if story := ta.story(t, kctx); slices.Contains(story, "echo.triggered") {
		t.Fatalf("echo was triggered before its 20s: %v", story)
	}
	clk.advance(20 * time.Second)
	ta.waitStages(t, kctx, map[string]string{"firststage": "finished"})
	want := []string{"firststage.echosequence.triggered", "echo.triggered", "echo.started", "echo.finished", "firststage.echosequence.finished"}
	if got := ta.story(t, kctx); !slices.Equal(got, want) {
		t.Errorf("story %v, want %v", got, want)
	}
}
