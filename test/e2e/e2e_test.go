// Package e2e plays Keptn's self-healing tutorial end to end, the story of
// `make demo` (internal/tutorial), against the real components `make test`
// starts: Prometheus scrapes the carts demo service and evaluates the
// alerting rules tend generated, Alertmanager delivers the alert to tend's
// intake, Unleash holds the EnablePromotion flag, and a real kube-apiserver
// holds Deployment carts-primary, which tend scales and carts follows. The
// test asserts on tend's event log (the order of the remediation's events),
// on the actions' effects at their targets (the Deployment's replicas read
// from the API server, the flag's state read from Unleash's admin API), and
// on the final result: the remediation resolved.
//
// It takes about four minutes: the story's settling time and windows are
// as short as its numbers allow (docs/demo.md, "Timing").
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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
const storyLimit = 9 * time.Minute

func TestSelfHealingTutorial(t *testing.T) {
	comp := components(t)
	kubeconfig := testenv.KubeconfigPath(t)
	unique := "e2e" + randomHex(t, 4)

	// The scaling target: the components are shared and a namespace is
	// never deleted without a controller manager, so it is one of this
	// run's own; tend is told with `tend configure kubernetes`.
	cs, err := kubernetes.NewClientset(kubeconfig)
	if err != nil {
		t.Fatalf("kubernetes client: %v", err)
	}
	ns := tutorial.Project + "-" + tutorial.Stage + "-" + unique
	const deployment = "carts-primary"
	createDeployment(t, cs, ns, deployment, 1)

	work := t.TempDir()
	logPath := filepath.Join(work, "story.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	story, err := tutorial.New(tutorial.Options{
		Components: comp,
		Kube:       &tutorial.Kube{Kubeconfig: kubeconfig, Namespace: ns, Deployment: deployment},
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
		ps, err := admin.ListProblems(ctx, client.ProblemFilter{Project: tutorial.Project})
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

	t.Run("the event log tells the story in order", func(t *testing.T) {
		raw, err := tutorial.ContextEvents(ctx, admin, res.KeptnContext)
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

	t.Run("scaling changed the Deployment from 1 to 2 replicas", func(t *testing.T) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("read deployment %s/%s: %v", ns, deployment, err)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
			t.Errorf("deployment %s/%s has spec.replicas %v, want 2", ns, deployment, d.Spec.Replicas)
		}
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

// createDeployment creates namespace ns and a Deployment with replicas;
// its pods (kwok's, running nothing) matter to neither tend's scaling nor
// carts's replica count.
func createDeployment(t *testing.T, cs k8s.Interface, ns, name string, replicas int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "carts", Image: "docker.io/keptnexamples/carts:0.13.1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
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
