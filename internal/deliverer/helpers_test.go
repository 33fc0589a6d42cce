package deliverer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/worker"
)

const kctx = "0b6f2a10-8c1e-4b55-9a0e-4e2f3a1b5c6d"

// chartArchive is a minimal chart as Keptn users package it.
func chartArchive(t testing.TB) []byte {
	t.Helper()
	files := map[string]string{
		"carts/Chart.yaml":               "apiVersion: v2\nname: carts\nversion: 0.1.0\n",
		"carts/values.yaml":              "image: docker.io/keptnexamples/carts:0.11.0\nreplicas: 1\n",
		"carts/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: carts\ndata:\n  image: {{ .Values.image }}\n",
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeResources holds resources by stage/service/uri at one commit.
type fakeResources struct {
	mu     sync.Mutex
	files  map[string][]byte
	commit string
}

func (f *fakeResources) Get(_ context.Context, ref resource.Ref, uri, version string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if version != "" && version != f.commit {
		return nil, "", resource.ErrVersionNotFound
	}
	b, ok := f.files[ref.Stage+"/"+ref.Service+"/"+uri]
	if !ok {
		return nil, "", fmt.Errorf("%s: %w", uri, resource.ErrResourceNotFound)
	}
	return b, f.commit, nil
}

// fakeDeployer records calls; errs are returned by the calls in turn (nil
// when they run out), and hold, when set, blocks each call until it is
// closed or the context ends.
type fakeDeployer struct {
	mu       sync.Mutex
	deploys  []delivery.DeployRequest
	releases []string
	errs     []error
	hold     chan struct{}
	running  int
	most     int
}

func (f *fakeDeployer) call(ctx context.Context) error {
	f.mu.Lock()
	f.running++
	f.most = max(f.most, f.running)
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	hold := f.hold
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running--; f.mu.Unlock() }()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return err
}

func (f *fakeDeployer) Deploy(ctx context.Context, req delivery.DeployRequest) (delivery.Deployed, error) {
	f.mu.Lock()
	f.deploys = append(f.deploys, req)
	f.mu.Unlock()
	if err := f.call(ctx); err != nil {
		return delivery.Deployed{}, err
	}
	img, _ := req.Values["image"].(string)
	return delivery.Deployed{Strategy: req.Strategy, Kind: delivery.DeployKind(req.Strategy),
		Deployments: []string{req.Service}, URIsLocal: []string{"http://" + req.Service + "." + req.Namespace + ":80"}, Image: img, Revision: 1}, nil
}

func (f *fakeDeployer) Release(ctx context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	return f.rel(ctx, "release", req)
}

func (f *fakeDeployer) Rollback(ctx context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	return f.rel(ctx, "rollback", req)
}

func (f *fakeDeployer) rel(ctx context.Context, what string, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	f.mu.Lock()
	f.releases = append(f.releases, what+" "+req.Namespace+"/"+req.Service)
	f.mu.Unlock()
	if err := f.call(ctx); err != nil {
		return delivery.Deployed{}, err
	}
	return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindPrimary, Deployments: []string{req.Service + "-primary"},
		URIsLocal: []string{"http://" + req.Service + "." + req.Namespace + ":80"}, Image: "img:released"}, nil
}

func (f *fakeDeployer) deployCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.deploys)
}

// fakeChecker answers every check with its report.
type fakeChecker struct {
	mu     sync.Mutex
	got    []delivery.CheckRequest
	report delivery.CheckReport
}

func (f *fakeChecker) Check(_ context.Context, req delivery.CheckRequest) (delivery.CheckReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, req)
	return f.report, nil
}

// env is a store, resources and fakes for one test.
type env struct {
	st       store.Store
	res      *fakeResources
	deployer *fakeDeployer
	checker  *fakeChecker
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOn(t, st)
}

// newEnvOn is newEnv on a store of the test's.
func newEnvOn(t *testing.T, st store.Store) *env {
	t.Helper()
	res := &fakeResources{files: map[string][]byte{}, commit: strings.Repeat("ab", 20)}
	res.files["staging/carts/helm/carts.tgz"] = chartArchive(t)
	now := time.Now()
	return &env{st: st, res: res, deployer: &fakeDeployer{}, checker: &fakeChecker{report: delivery.CheckReport{
		Start: now.Add(-time.Second), End: now, Requests: 3, P90: 20 * time.Millisecond, P95: 30 * time.Millisecond}}}
}

// handler builds the runner over the env; change edits its options.
func (e *env) handler(t *testing.T, change func(*Options)) *Handler {
	t.Helper()
	o := Options{Store: e.st, Resources: e.res, Deployer: e.deployer, Checker: e.checker}
	if change != nil {
		change(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run starts a worker with h until the test ends (or stop is called).
func (e *env) run(t *testing.T, h *Handler, lease time.Duration) (stop func()) {
	t.Helper()
	return e.runOn(t, e.st, h, lease)
}

// runOn is run on another store (another replica's connection).
func (e *env) runOn(t *testing.T, st store.Store, h *Handler, lease time.Duration) (stop func()) {
	t.Helper()
	r, err := worker.New(st, worker.Options{PollInterval: 10 * time.Millisecond, Lease: lease, DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(delivery.JobKind, h.Handle)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// triggered builds a task's .triggered event as the engine emits it.
func triggered(t testing.TB, task, id, data string) *event.Event {
	t.Helper()
	if data == "" {
		data = `{}`
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"project": "sockshop", "stage": "staging", "service": "carts"} {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	b := event.Builder{Source: sequence.Source, NewID: func() string { return id }}
	ev, err := b.New(event.TaskType(task, event.PhaseTriggered), kctx, "", m)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// enqueue stores a triggered event with its delivery job, as the sequencer
// does; maxAttempts 0 keeps the default.
func (e *env) enqueue(t *testing.T, ev *event.Event, key string, payload []byte, maxAttempts int) int64 {
	t.Helper()
	raw, _ := json.Marshal(ev)
	j := delivery.TaskJob(ev)
	if key == "" {
		key = j.UniqueKey
	}
	if payload == nil {
		payload = j.Payload
	}
	if maxAttempts == 0 {
		maxAttempts = delivery.MaxAttempts
	}
	var id int64
	err := e.st.WithTx(context.Background(), func(tx store.Tx) error {
		c, _ := ev.Common()
		if _, err := tx.AppendEvents(context.Background(), store.EventRecord{ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time,
			SpecVersion: ev.SpecVersion, KeptnContext: ev.KeptnContext, TriggeredID: ev.TriggeredID, Project: c.Project, Stage: c.Stage, Service: c.Service, JSON: raw}); err != nil {
			return err
		}
		ids, err := tx.EnqueueJobs(context.Background(), store.JobSpec{Kind: j.Kind, Payload: payload, UniqueKey: key, MaxAttempts: maxAttempts})
		if err == nil {
			id = ids[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitJob waits until the job is done or failed and returns it.
func (e *env) waitJob(t *testing.T, id int64) store.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := e.st.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == store.JobDone || j.State == store.JobFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is still %s (last error %q)", id, j.State, j.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answers returns tend's answers to a triggered event, oldest first.
func (e *env) answers(t *testing.T, triggeredID string) []store.EventRecord {
	t.Helper()
	pg, err := e.st.ListEvents(context.Background(), store.EventFilter{KeptnContext: kctx, TriggeredID: triggeredID, PageSize: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	out := pg.Events
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// data returns an event record's data.
func data(t testing.TB, r store.EventRecord) map[string]any {
	t.Helper()
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(r.JSON, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Data
}

// phases returns the short types of records.
func phases(rs []store.EventRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, strings.TrimPrefix(r.Type, event.Prefix))
	}
	return out
}

func (e *env) putSetting(t *testing.T, sc store.Scope, key, value string) {
	t.Helper()
	if err := e.st.PutSetting(context.Background(), store.Setting{Scope: sc, Key: key, Value: json.RawMessage(value)}); err != nil {
		t.Fatal(err)
	}
}

// answerJobs counts the sequence answer jobs enqueued.
func (e *env) answerJobs(t *testing.T) int {
	t.Helper()
	jobs, err := e.st.ListJobs(context.Background(), store.JobFilter{KeyPrefix: sequence.JobAnswer + "/"})
	if err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}
