// Package e2e plays Keptn's tutorial end to end, from onboarding and
// delivery to self-healing, the story of `make demo` (internal/tutorial),
// against the real components `make test` starts: tend onboards carts with
// its Helm chart and delivers it into the test cluster (0.11.1 through
// staging's quality gate to production, then the slow 0.11.2, which
// staging's gate stops and the rollback undoes); the carts demo processes
// play what each stage's Service selects; Prometheus scrapes them and
// evaluates the alerting rules tend generated, Alertmanager delivers the
// alert to tend's intake, Unleash holds the EnablePromotion flag, and tend
// scales Deployment carts-primary. The test asserts on tend's event log
// (the order of the remediation's events, the deliveries' results), on
// what the cluster runs (Deployments, images and replicas read from the
// API server), on the flag's state read from Unleash's admin API, and on
// the final result: the remediation resolved.
//
// It takes about six minutes: the story's test, settling time and windows
// are as short as its numbers allow (docs/demo.md, "Timing").
package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/cli"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/tutorial"
)

// storyLimit bounds the whole story, so that a broken setup fails with the
// story's reason instead of the test binary's timeout.
const storyLimit = 14 * time.Minute

func TestTutorialFromDeliveryToHealing(t *testing.T) {
	comp := components(t)
	unique := "e2e" + randomHex(t, 4)
	// The cluster is shared, so the project, and with it the namespaces
	// <project>-<stage> tend deploys into, is this run's own.
	project := tutorial.Project + "-" + unique
	cs, err := kubernetes.NewClientset(comp.Kubeconfig)
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	t.Cleanup(func() {
		for _, st := range tutorial.Stages {
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), project+"-"+st, metav1.DeleteOptions{})
		}
	})
	ns := project + "-" + tutorial.Stage
	const deployment = "carts-primary"

	work := t.TempDir()
	logPath := filepath.Join(work, "story.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	story, err := tutorial.New(tutorial.Options{
		Components: comp,
		Project:    project,
		WorkDir:    work,
		Unique:     unique,
		Out:        &lineLogger{t: t},
		Log:        logFile,
		CLI: func(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
			return cli.Run(ctx, args, in, out, errOut)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := story.Close(); err != nil {
			t.Errorf("clean up after the story: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), storyLimit)
	defer cancel()
	res, err := story.Run(ctx)
	if err != nil {
		t.Fatalf("the story failed: %v\n%s", err, tail(logPath, 60))
	}
	admin := story.Client()

	t.Run("the remediation resolved as the tutorial tells it", func(t *testing.T) {
		if err := tutorial.Verdict(res.Remediation); err != nil {
			t.Error(err)
		}
	})

	t.Run("the problem came from the alert", func(t *testing.T) {
		ps, err := admin.ListProblems(ctx, client.ProblemFilter{Project: project})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, p := range ps {
			if p.KeptnContext != res.KeptnContext {
				continue
			}
			found = true
			if p.Source != "alertmanager" || p.Stage != tutorial.Stage || p.Service != tutorial.Service || p.Title != "response_time_p90" {
				t.Errorf("problem from %q for %s/%s titled %q; want alertmanager, %s/%s, response_time_p90",
					p.Source, p.Stage, p.Service, p.Title, tutorial.Stage, tutorial.Service)
			}
		}
		if !found {
			t.Errorf("no problem in keptn context %s among %d problems", res.KeptnContext, len(ps))
		}
	})

	t.Run("0.11.1 passed staging and production", func(t *testing.T) {
		got := sequenceResults(t, ctx, admin, project, res.Deliveries[0])
		want := []string{
			"evaluation.finished (staging) succeeded/pass",
			"staging.delivery.finished succeeded/pass",
			"production.delivery.finished succeeded/pass",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("sequences of the delivery of 0.11.1:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("0.11.2 failed staging's gate and was rolled back", func(t *testing.T) {
		got := sequenceResults(t, ctx, admin, project, res.Deliveries[1])
		want := []string{
			"evaluation.finished (staging) succeeded/fail",
			"staging.delivery.finished succeeded/fail",
			"rollback.finished (staging) succeeded/pass",
			"staging.rollback.finished succeeded/pass",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("sequences of the delivery of 0.11.2:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("the cluster runs what the tutorial shows", func(t *testing.T) {
		good := tutorial.Image + ":" + tutorial.GoodVersion
		slow := tutorial.Image + ":" + tutorial.SlowVersion
		// Production: carts scaled to 0 and carts-primary serving
		// 0.11.1 (2 replicas once healed); staging: carts-primary
		// serving 0.11.1 after the rollback, the canary at 0 with 0.11.2.
		checkDeployment(t, cs, ns, "carts", good, 0)
		checkDeployment(t, cs, ns, "carts-primary", good, 2)
		checkDeployment(t, cs, project+"-"+tutorial.StagingStage, "carts", slow, 0)
		checkDeployment(t, cs, project+"-"+tutorial.StagingStage, "carts-primary", good, 1)
	})

	t.Run("the event log tells the story in order", func(t *testing.T) {
		raw, err := tutorial.ContextEvents(ctx, admin, project, res.KeptnContext)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, 0, len(raw))
		for _, r := range raw {
			got = append(got, describe(t, r))
		}
		want := []string{
			"production.remediation.triggered problem=response_time_p90",
			"production.remediation.started",
			"action.triggered problem=response_time_p90 scaling",
			"action.started scaling",
			"action.finished scaling succeeded/pass",
			"evaluation.triggered",
			"evaluation.started",
			"evaluation.finished succeeded/fail",
			"action.triggered problem=response_time_p90 toggle-feature",
			"action.started toggle-feature",
			"action.finished toggle-feature succeeded/pass",
			"evaluation.triggered",
			"evaluation.started",
			"evaluation.finished succeeded/pass",
			"production.remediation.finished succeeded/pass",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("events of keptn context %s:\n%s\n\nwant:\n%s", res.KeptnContext, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("scaling changed carts-primary from 1 to 2 replicas", func(t *testing.T) {
		assertChange(t, res.Remediation, 0, "deployment/"+ns+"/"+deployment+" replicas", "1", "2")
	})

	t.Run("the toggle switched EnablePromotion from on to off", func(t *testing.T) {
		on, err := tutorial.FlagState(ctx, comp.UnleashURL, comp.UnleashAdminToken, tutorial.UnleashProject, tutorial.Flag, tutorial.UnleashEnvironment)
		if err != nil {
			t.Fatal(err)
		}
		if on {
			t.Errorf("Unleash says %s is on in %s; want off", tutorial.Flag, tutorial.UnleashEnvironment)
		}
		assertChange(t, res.Remediation, 1, "feature "+tutorial.Flag+" ("+tutorial.UnleashEnvironment+")", "on", "off")
	})
}

// components are the test's Prometheus, Alertmanager and Unleash; each
// call skips the test without them (fails it with CI=true).
func components(t *testing.T) tutorial.Components {
	t.Helper()
	c := tutorial.Components{
		Kubeconfig:         testenv.KubeconfigPath(t),
		Kubectl:            testenv.KubectlPath(t),
		PrometheusURL:      testenv.PrometheusURL(t),
		AlertmanagerURL:    testenv.AlertmanagerURL(t),
		AlertmanagerConfig: testenv.AlertmanagerConfigPath(t),
		UnleashURL:         testenv.UnleashURL(t),
		UnleashAdminToken:  testenv.UnleashAdminToken(t),
	}
	for _, d := range []struct {
		dst *string
		env string
	}{
		{&c.PrometheusRulesDir, testenv.PrometheusRulesDirEnv},
		{&c.PrometheusTargetsDir, testenv.PrometheusSDDirEnv},
		{&c.PrometheusAlertmanagersDir, testenv.PrometheusAlertmanagerSDDirEnv},
	} {
		if *d.dst = os.Getenv(d.env); *d.dst == "" {
			t.Fatalf("%s is not set: start Prometheus with %s start and export all its lines", d.env, testenv.Prometheus.Script)
		}
	}
	return c
}

// describe reduces an event to what the story's order is about: its type
// (short form), the action, and status/result where the event has them.
func describe(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var e struct {
		Type string `json:"type"`
		Data struct {
			Status  string `json:"status"`
			Result  string `json:"result"`
			Problem *struct {
				ProblemTitle string `json:"problemTitle"`
			} `json:"problem"`
			Action *struct {
				Action string `json:"action"`
			} `json:"action"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("read event: %v\n%s", err, raw)
	}
	parts := []string{strings.TrimPrefix(e.Type, "sh.keptn.event.")}
	if e.Data.Problem != nil {
		parts = append(parts, "problem="+e.Data.Problem.ProblemTitle)
	}
	if e.Data.Action != nil {
		parts = append(parts, e.Data.Action.Action)
	}
	if strings.HasSuffix(e.Type, ".finished") {
		parts = append(parts, e.Data.Status+"/"+e.Data.Result)
	}
	return strings.Join(parts, " ")
}

// assertChange checks what tend recorded that action i changed.
func assertChange(t *testing.T, r apitypes.Remediation, i int, target, from, to string) {
	t.Helper()
	if i >= len(r.Actions) {
		t.Fatalf("remediation has %d actions, want at least %d", len(r.Actions), i+1)
	}
	want := apitypes.ActionChange{Target: target, From: from, To: to}
	for _, c := range r.Actions[i].Changes {
		if c == want {
			return
		}
	}
	t.Errorf("action %d (%s) recorded changes %+v, want %+v", i+1, r.Actions[i].Action, r.Actions[i].Changes, want)
}

// checkDeployment reads a Deployment from the API server and checks its
// image and its wanted and ready replicas.
func checkDeployment(t *testing.T, cs k8s.Interface, ns, name, image string, replicas int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Errorf("read deployment %s/%s: %v", ns, name, err)
		return
	}
	var images []string
	for _, c := range d.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	if len(images) != 1 || images[0] != image {
		t.Errorf("deployment %s/%s runs %v, want %s", ns, name, images, image)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas || d.Status.ReadyReplicas != replicas {
		t.Errorf("deployment %s/%s wants %v replicas, %d ready; want %d", ns, name, d.Spec.Replicas, d.Status.ReadyReplicas, replicas)
	}
}

// sequenceResults lists, oldest first, the sequence ends of a delivery's
// keptn context and the evaluation and rollback tasks' ends, as
// "<type> status/result".
func sequenceResults(t *testing.T, ctx context.Context, admin *client.Client, project, kctx string) []string {
	t.Helper()
	raw, err := tutorial.ContextEvents(ctx, admin, project, kctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range raw {
		var e struct {
			Type string `json:"type"`
			Data struct {
				Stage  string `json:"stage"`
				Status string `json:"status"`
				Result string `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r, &e); err != nil {
			t.Fatalf("read event: %v", err)
		}
		typ := strings.TrimPrefix(e.Type, "sh.keptn.event.")
		switch {
		case typ == "evaluation.finished" || typ == "rollback.finished":
			out = append(out, fmt.Sprintf("%s (%s) %s/%s", typ, e.Data.Stage, e.Data.Status, e.Data.Result))
		case strings.Count(typ, ".") == 2 && strings.HasSuffix(typ, ".finished"):
			out = append(out, fmt.Sprintf("%s %s/%s", typ, e.Data.Status, e.Data.Result))
		}
	}
	return out
}

// lineLogger writes the story's narration to the test log line by line.
type lineLogger struct {
	t       *testing.T
	partial string
}

func (l *lineLogger) Write(p []byte) (int, error) {
	s := l.partial + string(p)
	lines := strings.Split(s, "\n")
	l.partial = lines[len(lines)-1]
	for _, line := range lines[:len(lines)-1] {
		l.t.Log(line)
	}
	return len(p), nil
}

// tail returns the last n lines of the file at path, for a failure's
// message.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return fmt.Sprintf("last %d lines of the log %s:\n%s", len(lines), path, strings.Join(lines, "\n"))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
