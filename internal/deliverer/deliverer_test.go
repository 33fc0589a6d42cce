package deliverer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/eventlog"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/postgres"
	"github.com/tendhq/tend/internal/testenv"
)

func TestDeploymentBlueGreen(t *testing.T) {
	e := newEnv(t)
	e.putSetting(t, store.Scope{Project: "sockshop", Stage: "staging"}, "delivery", `{"rolloutTimeout":"7m0s"}`)
	e.run(t, e.handler(t, nil), 0)
	ev := triggered(t, "deployment", "dep-1", `{"configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.11.1","replicas":2}},
		"deployment":{"deploymentstrategy":"blue_green_service"},"labels":{"buildId":"7"}}`)
	e.waitJob(t, e.enqueue(t, ev, "", nil, 0))

	got := e.answers(t, "dep-1")
	if !slices.Equal(phases(got), []string{"deployment.started", "deployment.finished"}) {
		t.Fatalf("answers %v", phases(got))
	}
	d := data(t, got[1])
	if d["result"] != "pass" || d["status"] != "succeeded" || d["project"] != "sockshop" || d["stage"] != "staging" || d["service"] != "carts" {
		t.Errorf("finished data %v", d)
	}
	dep, _ := d["deployment"].(map[string]any)
	if names, _ := dep["deploymentNames"].([]any); len(names) != 1 || names[0] != "canary" {
		t.Errorf("deploymentNames %v", dep["deploymentNames"])
	}
	if uris, _ := dep["deploymentURIsLocal"].([]any); len(uris) != 1 || uris[0] != "http://carts.sockshop-staging:80" {
		t.Errorf("deploymentURIsLocal %v", dep["deploymentURIsLocal"])
	}
	if dep["deploymentstrategy"] != "blue_green_service" || dep["gitCommit"] != e.res.commit || dep["image"] != "docker.io/keptnexamples/carts:0.11.1" {
		t.Errorf("deployment %v", dep)
	}
	if labels, _ := d["labels"].(map[string]any); labels["buildId"] != "7" {
		t.Errorf("labels %v", d["labels"])
	}
	if len(e.deployer.deploys) != 1 {
		t.Fatalf("%d deploys", len(e.deployer.deploys))
	}
	req := e.deployer.deploys[0]
	if req.Namespace != "sockshop-staging" || req.Service != "carts" || req.Project != "sockshop" || req.Strategy != delivery.BlueGreen || req.Timeout != 7*time.Minute || len(req.Chart) == 0 {
		t.Errorf("deploy request %+v", req)
	}
	keptn, _ := req.Values["keptn"].(map[string]any)
	if req.Values["image"] != "docker.io/keptnexamples/carts:0.11.1" || req.Values["replicas"] != float64(2) ||
		keptn["project"] != "sockshop" || keptn["stage"] != "staging" || keptn["service"] != "carts" || keptn["deployment"] != "canary" {
		t.Errorf("values %v", req.Values)
	}
	if n := e.answerJobs(t); n != 2 {
		t.Errorf("%d sequence answer jobs, want 2", n)
	}
}

func TestDeploymentLegacyImageAndDefaults(t *testing.T) {
	e := newEnv(t)
	e.run(t, e.handler(t, nil), 0)
	ev := triggered(t, "deployment", "dep-legacy", `{"image":"docker.io/keptnexamples/carts","tag":"0.11.1"}`)
	e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
	req := e.deployer.deploys[0]
	if req.Values["image"] != "docker.io/keptnexamples/carts:0.11.1" || req.Strategy != delivery.Direct || req.Timeout != DefaultRolloutTimeout {
		t.Errorf("deploy request %+v", req)
	}
	if k, _ := req.Values["keptn"].(map[string]any); k["deployment"] != "direct" {
		t.Errorf("keptn values %v", k)
	}
}

func TestDeclines(t *testing.T) {
	recent := time.Now()
	sub := func(stages ...string) store.Subscription {
		return store.Subscription{ID: "s1", Event: "sh.keptn.event.deployment.triggered", Projects: []string{"sockshop"}, Stages: stages}
	}
	for _, tc := range []struct {
		name     string
		task     string
		data     string
		change   func(*Options)
		setup    func(t *testing.T, e *env)
		declined bool
	}{
		{name: "a recent integration subscribes", task: "deployment", declined: true, setup: func(t *testing.T, e *env) {
			register(t, e, "helm-service", recent, sub())
		}},
		{name: "a recent integration subscribes to the stage", task: "deployment", declined: true, setup: func(t *testing.T, e *env) {
			register(t, e, "helm-service", recent, sub("staging"))
		}},
		{name: "an integration of another stage", task: "deployment", setup: func(t *testing.T, e *env) {
			register(t, e, "helm-service", recent, sub("production"))
		}},
		{name: "an integration not seen for long", task: "deployment", setup: func(t *testing.T, e *env) {
			register(t, e, "helm-service", recent.Add(-time.Hour), sub())
		}},
		{name: "an integration of another task", task: "deployment", setup: func(t *testing.T, e *env) {
			s := sub()
			s.Event = "sh.keptn.event.test.triggered"
			register(t, e, "jmeter", recent, s)
		}},
		{name: "no cluster", task: "deployment", declined: true, change: func(o *Options) { o.Deployer = nil }},
		{name: "no cluster for a release", task: "release", declined: true, change: func(o *Options) { o.Deployer = nil }},
		{name: "no chart in the stage", task: "deployment", declined: true, setup: func(t *testing.T, e *env) {
			delete(e.res.files, "staging/carts/helm/carts.tgz")
		}},
		{name: "a strategy tend does not know", task: "deployment", data: `{"deployment":{"deploymentstrategy":"canary_istio"}}`, declined: true},
		{name: "no service", task: "deployment", data: `{"service":""}`, declined: true},
		{name: "a test without strategy", task: "test", declined: true},
		{name: "a test of another strategy", task: "test", data: `{"test":{"teststrategy":"chaos"}}`, declined: true},
		{name: "a test without target", task: "test", data: `{"test":{"teststrategy":"functional"}}`, declined: true},
		{name: "a test without checker", task: "test", declined: true, change: func(o *Options) { o.Checker = nil },
			data: `{"test":{"teststrategy":"functional"},"deployment":{"deploymentURIsLocal":["http://carts.sockshop-staging:80"]}}`},
		{name: "a test with target", task: "test", data: `{"test":{"teststrategy":"functional"},"deployment":{"deploymentURIsLocal":["http://carts.sockshop-staging:80"]}}`},
		{name: "a task answered already", task: "deployment", declined: true, setup: func(t *testing.T, e *env) {
			fin := triggered(t, "deployment", "other-fin", `{}`)
			fin.Type, fin.TriggeredID, fin.Source = "sh.keptn.event.deployment.finished", "task-1", "helm-service"
			e.enqueueEventOnly(t, fin)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			e.run(t, e.handler(t, tc.change), 0)
			e.waitJob(t, e.enqueue(t, triggered(t, tc.task, "task-1", tc.data), "", nil, 0))
			var ours []string
			for _, r := range e.answers(t, "task-1") {
				if r.Source == "tend" {
					ours = append(ours, strings.TrimPrefix(r.Type, event.Prefix))
				}
			}
			if tc.declined && len(ours) > 0 {
				t.Errorf("declined task answered %v", ours)
			}
			if !tc.declined && len(ours) != 2 {
				t.Errorf("carried-out task answered %v", ours)
			}
			if tc.declined && (len(e.deployer.deploys) > 0 || len(e.checker.got) > 0) {
				t.Error("a declined task was carried out")
			}
		})
	}
}

// register stores an integration last seen at seen.
func register(t *testing.T, e *env, name string, seen time.Time, subs ...store.Subscription) {
	t.Helper()
	_, err := e.st.UpdateIntegration(context.Background(), name+"-id", func(in store.Integration, _ bool) (store.Integration, error) {
		in.Name, in.Subscriptions, in.RegisteredAt, in.LastSeen = name, subs, seen, seen
		return in, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) enqueueEventOnly(t *testing.T, ev *event.Event) {
	t.Helper()
	rec, err := eventlog.Record(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AppendEvents(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func TestNamespacePolicyFailsTheTask(t *testing.T) {
	e := newEnv(t)
	e.run(t, e.handler(t, func(o *Options) {
		o.Namespace = func(context.Context, string, string, string) (string, error) {
			return "", errors.Join(ErrNamespace, errors.New("namespace kube-system is outside project sockshop"))
		}
	}), 0)
	e.waitJob(t, e.enqueue(t, triggered(t, "deployment", "dep-ns", ""), "", nil, 0))
	got := e.answers(t, "dep-ns")
	if !slices.Equal(phases(got), []string{"deployment.started", "deployment.finished"}) {
		t.Fatalf("answers %v", phases(got))
	}
	if d := data(t, got[1]); d["result"] != "fail" || d["status"] != "errored" || !strings.Contains(d["message"].(string), "kube-system") {
		t.Errorf("finished %v", d)
	}
	if len(e.deployer.deploys) != 0 {
		t.Error("deployed into a namespace outside the policy")
	}
}

// TestLongMessageIsCut: a chart's template chooses the text of its
// errors (`fail`), which the finished event would carry whole.
func TestLongMessageIsCut(t *testing.T) {
	e := newEnv(t)
	e.deployer.errs = []error{&delivery.RolloutError{Reason: "template: " + strings.Repeat("é", 300<<10)}}
	e.run(t, e.handler(t, nil), 0)
	e.waitJob(t, e.enqueue(t, triggered(t, "deployment", "dep-long", ""), "", nil, 0))
	got := e.answers(t, "dep-long")
	if len(got) != 2 {
		t.Fatalf("answers %v", phases(got))
	}
	msg, _ := data(t, got[1])["message"].(string)
	if len(msg) > maxMessage+64 || !strings.HasPrefix(msg, "template: é") || !strings.HasSuffix(msg, "more bytes)") || !utf8.ValidString(msg) {
		t.Errorf("message of %d bytes: %.80q...%q", len(msg), msg, msg[max(0, len(msg)-40):])
	}
}

func TestRolloutErrorFailsWithoutRetry(t *testing.T) {
	e := newEnv(t)
	e.deployer.errs = []error{&delivery.RolloutError{Reason: "deployment carts-primary: 0 of 1 replicas ready after 5m0s"}}
	e.run(t, e.handler(t, nil), 0)
	e.waitJob(t, e.enqueue(t, triggered(t, "deployment", "dep-to", ""), "", nil, 0))
	got := e.answers(t, "dep-to")
	if len(got) != 2 {
		t.Fatalf("answers %v", phases(got))
	}
	d := data(t, got[1])
	if d["result"] != "fail" || d["status"] != "errored" || d["message"] != "deployment carts-primary: 0 of 1 replicas ready after 5m0s" {
		t.Errorf("finished %v", d)
	}
	if n := e.deployer.deployCount(); n != 1 {
		t.Errorf("%d deploys, want 1 (a rollout error is not retried)", n)
	}
}

func TestTransientErrorsRetry(t *testing.T) {
	t.Run("then succeed", func(t *testing.T) {
		e := newEnv(t)
		e.deployer.errs = []error{errors.New("connection refused")}
		e.run(t, e.handler(t, nil), 0)
		e.waitJob(t, e.enqueue(t, triggered(t, "deployment", "dep-retry", ""), "", nil, 0))
		got := e.answers(t, "dep-retry")
		if !slices.Equal(phases(got), []string{"deployment.started", "deployment.finished"}) || data(t, got[1])["result"] != "pass" {
			t.Errorf("answers %v", phases(got))
		}
		if n := e.deployer.deployCount(); n != 2 {
			t.Errorf("%d deploys, want 2", n)
		}
	})
	t.Run("until the last attempt", func(t *testing.T) {
		e := newEnv(t)
		e.deployer.errs = []error{errors.New("connection refused"), errors.New("connection refused")}
		e.run(t, e.handler(t, nil), 0)
		j := e.waitJob(t, e.enqueue(t, triggered(t, "deployment", "dep-gone", ""), "", nil, 2))
		if j.State != store.JobDone {
			t.Errorf("job %s", j.State)
		}
		got := e.answers(t, "dep-gone")
		if len(got) != 2 {
			t.Fatalf("answers %v", phases(got))
		}
		if d := data(t, got[1]); d["result"] != "fail" || d["status"] != "errored" || d["message"] != "connection refused" {
			t.Errorf("finished %v", d)
		}
	})
}

// A job that runs again, in either step, after the task was carried out
// emits nothing and deploys nothing.
func TestRerunEmitsNothingTwice(t *testing.T) {
	e := newEnv(t)
	e.run(t, e.handler(t, nil), 0)
	ev := triggered(t, "deployment", "dep-again", "")
	e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
	plan := delivery.Plan{Task: "deployment", Project: "sockshop", Stage: "staging", Service: "carts", Namespace: "sockshop-staging",
		Strategy: delivery.Direct, GitCommit: e.res.commit, Timeout: time.Minute}
	e.waitJob(t, e.enqueue(t, ev, "again/decide", delivery.Payload{Event: ev}.Encode(), 0))
	e.waitJob(t, e.enqueue(t, ev, "again/carry-out", delivery.Payload{Event: ev, Plan: &plan}.Encode(), 0))
	if got := e.answers(t, "dep-again"); len(got) != 2 {
		t.Errorf("answers %v", phases(got))
	}
	if n := e.deployer.deployCount(); n != 1 {
		t.Errorf("%d deploys, want 1", n)
	}
	if n := e.answerJobs(t); n != 2 {
		t.Errorf("%d answer jobs, want 2", n)
	}
}

// A runner that dies during Deploy (here: is stopped and abandons the
// handler) leaves the job to another, which deploys again (the Deployer is
// idempotent) and finishes the task once.
func TestRunnerDiesDuringDeploy(t *testing.T) {
	e := newEnv(t)
	e.deployer.hold = make(chan struct{})
	lease := 300 * time.Millisecond
	stopA := e.run(t, e.handler(t, nil), lease)
	id := e.enqueue(t, triggered(t, "deployment", "dep-kill", ""), "", nil, 0)
	for e.deployer.deployCount() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stopA() // cancels the held Deploy after the drain: nothing recorded
	e.deployer.mu.Lock()
	e.deployer.hold = nil
	e.deployer.mu.Unlock()
	e.run(t, e.handler(t, nil), lease)
	e.waitJob(t, id)
	got := e.answers(t, "dep-kill")
	if !slices.Equal(phases(got), []string{"deployment.started", "deployment.finished"}) || data(t, got[1])["result"] != "pass" {
		t.Errorf("answers %v", phases(got))
	}
}

// A Deploy that takes many leases keeps its lease: a second replica never
// runs the task at the same time, and the task is deployed once.
func TestLongDeployKeepsItsLease(t *testing.T) {
	e := newEnv(t)
	longDeploy(t, e, e.st, e.st)
}

// The same with two replicas on one PostgreSQL, each with its own pool.
func TestLongDeployKeepsItsLeasePostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	a, b := open(), open()
	longDeploy(t, newEnvOn(t, a), a, b)
}

func longDeploy(t *testing.T, e *env, a, b store.Store) {
	t.Helper()
	e.deployer.hold = make(chan struct{})
	lease := 150 * time.Millisecond
	e.runOn(t, a, e.handler(t, nil), lease)
	e.runOn(t, b, e.handler(t, nil), lease)
	id := e.enqueue(t, triggered(t, "deployment", "dep-long", ""), "", nil, 0)
	for e.deployer.deployCount() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	// Hold the rollout for many leases; either replica could claim an
	// expired lease meanwhile.
	for range 10 {
		time.Sleep(lease)
		if e.deployer.deployCount() > 1 {
			break
		}
	}
	close(e.deployer.hold)
	e.waitJob(t, id)
	if n := e.deployer.deployCount(); n != 1 {
		t.Errorf("%d deploys, want 1", n)
	}
	if e.deployer.most != 1 {
		t.Errorf("%d deploys ran at once", e.deployer.most)
	}
	if got := e.answers(t, "dep-long"); len(got) != 2 {
		t.Errorf("answers %v", phases(got))
	}
}

func TestReleaseAndRollback(t *testing.T) {
	for _, task := range []string{"release", "rollback"} {
		t.Run(task, func(t *testing.T) {
			e := newEnv(t)
			e.run(t, e.handler(t, nil), 0)
			ev := triggered(t, task, task+"-1", `{"deployment":{"deploymentstrategy":"blue_green_service","deploymentURIsLocal":["http://x"]}}`)
			e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
			got := e.answers(t, task+"-1")
			if len(got) != 2 {
				t.Fatalf("answers %v", phases(got))
			}
			dep, _ := data(t, got[1])["deployment"].(map[string]any)
			if dep["image"] != "img:released" || dep["deploymentstrategy"] != "blue_green_service" {
				t.Errorf("deployment %v", dep)
			}
			if !slices.Equal(e.deployer.releases, []string{task + " sockshop-staging/carts"}) {
				t.Errorf("calls %v", e.deployer.releases)
			}
		})
	}
}

func TestTest(t *testing.T) {
	t.Run("functional against the deployment's URI", func(t *testing.T) {
		e := newEnv(t)
		e.putSetting(t, store.Scope{Project: "sockshop", Service: "carts"}, "tests", `{"paths":"/,/health","requests":3,"expectedStatus":200}`)
		e.run(t, e.handler(t, nil), 0)
		ev := triggered(t, "test", "test-1", `{"test":{"teststrategy":"functional"},"deployment":{"deploymentURIsLocal":["http://carts.sockshop-staging:80"]}}`)
		e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
		got := e.answers(t, "test-1")
		if len(got) != 2 {
			t.Fatalf("answers %v", phases(got))
		}
		d := data(t, got[1])
		tst, _ := d["test"].(map[string]any)
		if d["result"] != "pass" || tst["start"] == nil || tst["end"] == nil || tst["requests"] != float64(3) {
			t.Errorf("finished %v", d)
		}
		req := e.checker.got[0]
		if req.Kind != delivery.Functional || req.URL != "http://carts.sockshop-staging:80" || !slices.Equal(req.Paths, []string{"/", "/health"}) || req.Requests != 3 || req.ExpectedStatus != 200 {
			t.Errorf("check %+v", req)
		}
	})
	t.Run("performance with failures fails", func(t *testing.T) {
		e := newEnv(t)
		e.checker.report.Failures = 1
		e.checker.report.Problems = []string{"GET http://override/ answered 500, want 2xx"}
		e.putSetting(t, store.Scope{Project: "sockshop"}, "tests", `{"url":"http://override","rate":5,"duration":"2s"}`)
		e.run(t, e.handler(t, nil), 0)
		ev := triggered(t, "test", "test-2", `{"test":{"teststrategy":"performance_peak"}}`)
		e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
		got := e.answers(t, "test-2")
		if len(got) != 2 {
			t.Fatalf("answers %v", phases(got))
		}
		d := data(t, got[1])
		if d["result"] != "fail" || d["status"] != "succeeded" || !strings.Contains(d["message"].(string), "1 of 3 requests") {
			t.Errorf("finished %v", d)
		}
		if tst, _ := d["test"].(map[string]any); tst["start"] == nil {
			t.Errorf("a failed test lost its window: %v", d)
		}
		if req := e.checker.got[0]; req.Kind != delivery.Performance || req.URL != "http://override" || req.Rate != 5 || req.Duration != 2*time.Second {
			t.Errorf("check %+v", req)
		}
	})
	t.Run("a target the outbound policy denies is not requested", func(t *testing.T) {
		// Any writer of the project's events can answer the deployment
		// task, and so choose deploymentURIsLocal.
		e := newEnv(t)
		e.run(t, e.handler(t, func(o *Options) { o.CheckURL = outbound.Default().CheckURL }), 0)
		ev := triggered(t, "test", "test-4", `{"test":{"teststrategy":"functional"},"deployment":{"deploymentURIsLocal":["http://169.254.169.254/latest/meta-data"]}}`)
		e.waitJob(t, e.enqueue(t, ev, "", nil, 0))
		got := e.answers(t, "test-4")
		if len(got) != 2 {
			t.Fatalf("answers %v", phases(got))
		}
		d := data(t, got[1])
		msg, _ := d["message"].(string)
		if d["result"] != "fail" || !strings.Contains(msg, "deploymentURIsLocal[0]") || !strings.Contains(msg, "denied by tend's outbound policy") {
			t.Errorf("finished %v, want a failure naming deploymentURIsLocal[0] and the policy", d)
		}
		if len(e.checker.got) != 0 {
			t.Errorf("checks %v, want none", e.checker.got)
		}
	})
	t.Run("real-user runs nothing", func(t *testing.T) {
		e := newEnv(t)
		e.run(t, e.handler(t, nil), 0)
		e.waitJob(t, e.enqueue(t, triggered(t, "test", "test-3", `{"test":{"teststrategy":"real-user"}}`), "", nil, 0))
		got := e.answers(t, "test-3")
		if len(got) != 2 || data(t, got[1])["result"] != "pass" || len(e.checker.got) != 0 {
			t.Errorf("answers %v, checks %v", phases(got), e.checker.got)
		}
	})
}
