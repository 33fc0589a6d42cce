package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/worker"
)

// target is a fake system that actions change: it holds one integer per
// name and counts every write that changed it (the real effects).
type target struct {
	mu      sync.Mutex
	state   map[string]int
	effects map[string]int // by idempotency key
	writes  int
}

func newTarget() *target { return &target{state: map[string]int{}, effects: map[string]int{}} }

func (t *target) get(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state[name]
}

// set makes name hold v; it is an effect only when the value changes.
func (t *target) set(key, name string, v int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writes++
	if t.state[name] == v {
		return false
	}
	t.state[name] = v
	t.effects[key]++
	return true
}

func (t *target) effectsOf(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.effects[key]
}

// fakeExec is a hand-written two-phase executor over a target: Prepare
// reads the value and plans value+delta, Apply sets the planned value.
type fakeExec struct {
	t     *target
	name  string // what it changes
	delta int

	mu       sync.Mutex
	prepares map[string]int
	applies  map[string]int
	// applyErr, when set, is returned by the nth Apply (1-based) of a key.
	applyErr func(key string, n int) error
	// block, when set, is waited on by every Apply.
	block chan struct{}
	// applied is signalled (non-blocking) after each Apply starts.
	started chan string
}

func newFakeExec(t *target, name string, delta int) *fakeExec {
	return &fakeExec{t: t, name: name, delta: delta, prepares: map[string]int{}, applies: map[string]int{}}
}

type fakePlan struct {
	From int `json:"from"`
	To   int `json:"to"`
}

func (f *fakeExec) Prepare(_ context.Context, req action.Request) (action.Plan, error) {
	f.mu.Lock()
	f.prepares[req.Key]++
	f.mu.Unlock()
	from := f.t.get(f.name)
	d, _ := json.Marshal(fakePlan{From: from, To: from + f.delta})
	ch := action.Change{Target: f.name, From: strconv.Itoa(from), To: strconv.Itoa(from + f.delta)}
	return action.Plan{Action: req.Action, Summary: fmt.Sprintf("set %s from %d to %d", f.name, from, from+f.delta), Changes: []action.Change{ch}, Data: d}, nil
}

func (f *fakeExec) Apply(ctx context.Context, req action.Request, plan action.Plan) (action.Result, error) {
	f.mu.Lock()
	f.applies[req.Key]++
	n := f.applies[req.Key]
	errf, block, started := f.applyErr, f.block, f.started
	f.mu.Unlock()
	if started != nil {
		select {
		case started <- req.Key:
		default:
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return action.Result{}, ctx.Err()
		}
	}
	if errf != nil {
		if err := errf(req.Key, n); err != nil {
			return action.Result{}, err
		}
	}
	var p fakePlan
	if err := json.Unmarshal(plan.Data, &p); err != nil {
		return action.Result{}, fmt.Errorf("%w: bad plan", action.ErrInvalid)
	}
	f.t.set(req.Key, f.name, p.To)
	return action.Result{Message: plan.Summary, Changes: plan.Changes}, nil
}

func (f *fakeExec) counts(key string) (prepares, applies int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prepares[key], f.applies[key]
}

// fakeEval answers evaluations from a list of results, the last one
// repeating.
type fakeEval struct {
	mu      sync.Mutex
	results []slo.Result
	calls   []EvaluationRequest
	err     error
}

func (f *fakeEval) Evaluate(_ context.Context, r EvaluationRequest) (slo.Evaluation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	if f.err != nil {
		return slo.Evaluation{}, f.err
	}
	res := slo.Fail
	if len(f.results) > 0 {
		res = f.results[0]
		if len(f.results) > 1 {
			f.results = f.results[1:]
		}
	}
	score := map[slo.Result]float64{slo.Pass: 100, slo.Warning: 60, slo.Fail: 0}[res]
	return slo.Evaluation{Result: res, Score: score, Message: "fake evaluation: " + string(res)}, nil
}

type fakeNotifier struct {
	mu   sync.Mutex
	sent []action.Escalation
	err  error
}

func (f *fakeNotifier) Notify(_ context.Context, esc action.Escalation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, esc)
	return f.err
}

func (f *fakeNotifier) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// harness runs the loop on a SQLite store with a worker.
type harness struct {
	st     store.Store
	loop   *Loop
	target *target
	scale  *fakeExec
	toggle *fakeExec
	eval   *fakeEval
	notify *fakeNotifier
	failTx atomic.Int32
	// failSettings makes every settings read fail while set.
	failSettings atomic.Bool
	cancel       context.CancelFunc
	stopped      chan struct{}
}

type harnessOpts struct {
	limits          remediation.Limits
	externalTimeout time.Duration
	lease           time.Duration
	outage          OutageRetry
	stepAttempts    int
	burn            BurnReader
}

// faultStore fails the commit of a job's outcome when asked, as a crash
// between an executor call and its recording would lose it.
type faultStore struct {
	store.Store
	h *harness
}

func (f faultStore) GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error) {
	if f.h.failSettings.Load() {
		return store.Setting{}, errors.New("injected: settings unreadable")
	}
	return f.Store.GetSetting(ctx, sc, key)
}

func (f faultStore) WithTx(ctx context.Context, fn func(tx store.Tx) error) error {
	if f.h.failTx.Load() > 0 && f.h.failTx.Add(-1) >= 0 {
		return errors.New("injected crash before commit")
	}
	return f.Store.WithTx(ctx, fn)
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := &harness{st: st, target: newTarget(), eval: &fakeEval{}, notify: &fakeNotifier{}}
	h.scale = newFakeExec(h.target, "replicas", 1)
	h.toggle = newFakeExec(h.target, "EnablePromotion", -1)
	h.target.state["replicas"] = 1
	h.target.state["EnablePromotion"] = 1
	limits := o.limits
	if limits == (remediation.Limits{}) {
		limits = remediation.Limits{MaxReplicas: 10}
	}
	h.loop, err = New(Options{
		Store:           faultStore{st, h},
		Executors:       map[string]action.Executor{"scaling": h.scale, "toggle-feature": h.toggle},
		Evaluator:       h.eval,
		Burn:            o.burn,
		Notifier:        h.notify,
		Defaults:        settings.Defaults{Limits: limits, Settling: 20 * time.Millisecond},
		ExternalTimeout: o.externalTimeout,
		OutageRetry:     o.outage,
		StepAttempts:    o.stepAttempts,
	})
	if err != nil {
		t.Fatal(err)
	}
	lease := o.lease
	if lease == 0 {
		lease = 5 * time.Second
	}
	r, err := worker.New(faultStore{st, h}, worker.Options{PollInterval: 10 * time.Millisecond, Lease: lease, Concurrency: 4, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(remediation.JobKind, h.loop.Handle)
	rctx, cancel := context.WithCancel(ctx)
	h.cancel, h.stopped = cancel, make(chan struct{})
	go func() {
		defer close(h.stopped)
		_ = r.Run(rctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-h.stopped
	})
	return h
}

// tutorialActions are the self-healing tutorial's remediation: scale up,
// then switch EnablePromotion off.
func tutorialActions() []action.Request {
	return []action.Request{
		{Action: "scaling", Name: "Scale up", Value: "1"},
		{Action: "toggle-feature", Name: "Disable promotion", Value: map[string]any{"EnablePromotion": "off"}},
	}
}

var seq atomic.Int64

// create stores a new remediation of service svc in project sockshop,
// stage production, as the intake does: waiting, with its start job.
func (h *harness) create(t testing.TB, svc string, actions []action.Request, settling time.Duration) *remediation.Remediation {
	t.Helper()
	return h.createWithLabels(t, svc, actions, settling, nil)
}

// createWithLabels is create for a problem whose alert had labels.
func (h *harness) createWithLabels(t testing.TB, svc string, actions []action.Request, settling time.Duration, labels map[string]string) *remediation.Remediation {
	t.Helper()
	n := seq.Add(1)
	pid := event.NewUUID()
	p := remediation.Problem{
		ID: pid, Key: "test/" + pid, Source: "alertmanager", Project: "sockshop", Stage: "production", Service: svc,
		Title: "response_time_p90", State: remediation.ProblemStateOpen, KeptnContext: event.ContextFor("problem-" + pid),
		Labels: labels,
	}
	rem := remediation.New(fmt.Sprintf("rem-%d-%s", n, pid[:8]), p, actions, remediation.Settings{Settling: settling}, time.Now())
	err := h.st.WithTx(context.Background(), func(tx store.Tx) error {
		if _, err := tx.CreateRemediation(context.Background(), remediationRecord(rem, 0)); err != nil {
			return err
		}
		_, err := tx.EnqueueJobs(context.Background(), jobSpec(remediation.StartJob(rem.ID)))
		return err
	})
	if err != nil {
		t.Fatalf("create remediation: %v", err)
	}
	return rem
}

func (h *harness) enqueue(t testing.TB, jobs ...store.JobSpec) {
	t.Helper()
	if _, err := h.st.EnqueueJobs(context.Background(), jobs...); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

func (h *harness) load(t testing.TB, id string) *remediation.Remediation {
	t.Helper()
	rec, err := h.st.GetRemediation(context.Background(), id)
	if err != nil {
		t.Fatalf("get remediation %s: %v", id, err)
	}
	r, err := decodeRemediation(rec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wait polls the remediation until cond holds; it fails after a generous
// deadline, which only a broken loop reaches.
func (h *harness) wait(t testing.TB, id string, what string, cond func(*remediation.Remediation) bool) *remediation.Remediation {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := h.load(t, id)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("remediation %s never got %s; it is %s (%s), actions %+v", id, what, r.State, r.Reason, r.Actions)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) waitState(t testing.TB, id string, s remediation.State) *remediation.Remediation {
	t.Helper()
	return h.wait(t, id, "state "+string(s), func(r *remediation.Remediation) bool { return r.State == s })
}

func (h *harness) waitEnded(t testing.TB, id string) *remediation.Remediation {
	t.Helper()
	return h.wait(t, id, "a terminal state", func(r *remediation.Remediation) bool { return r.State.Terminal() })
}

// storyEvents returns the types of the events in a keptn context, oldest
// first.
func storyEvents(t testing.TB, st store.Store, kctx string) []store.EventRecord {
	t.Helper()
	var out []store.EventRecord
	f := store.EventFilter{KeptnContext: kctx, PageSize: store.MaxPageSize}
	for {
		pg, err := st.ListEvents(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pg.Events...)
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	slices.SortFunc(out, func(a, b store.EventRecord) int { return int(a.Seq - b.Seq) })
	return out
}

func types(evs []store.EventRecord) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func putSetting(t testing.TB, st store.Store, sc store.Scope, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutSetting(context.Background(), store.Setting{Scope: sc, Key: key, Value: b}); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// createWithStartAttempts is create with a start job of maxAttempts.
func (h *harness) createWithStartAttempts(t testing.TB, svc string, actions []action.Request, maxAttempts int) *remediation.Remediation {
	t.Helper()
	pid := event.NewUUID()
	p := remediation.Problem{
		ID: pid, Key: "test/" + pid, Source: "alertmanager", Project: "sockshop", Stage: "production", Service: svc,
		Title: "response_time_p90", State: remediation.ProblemStateOpen, KeptnContext: event.ContextFor("problem-" + pid),
	}
	rem := remediation.New("rem-"+pid[:8], p, actions, remediation.Settings{Settling: time.Millisecond}, time.Now())
	start := jobSpec(remediation.StartJob(rem.ID))
	start.MaxAttempts = maxAttempts
	err := h.st.WithTx(context.Background(), func(tx store.Tx) error {
		if _, err := tx.CreateRemediation(context.Background(), remediationRecord(rem, 0)); err != nil {
			return err
		}
		_, err := tx.EnqueueJobs(context.Background(), start)
		return err
	})
	if err != nil {
		t.Fatalf("create remediation: %v", err)
	}
	return rem
}
