package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
)

// The tests in this file drive whole remediations through an in-process
// server: an Alertmanager notification in, the loop's steps, the event log.

// healShipyard enables self-healing in production, verifying each action
// one second after it ran.
const healShipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: s}
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: action
            - name: evaluation
              triggeredAfter: "1s"
`

const healSLO = `spec_version: "1.0"
objectives:
  - sli: response_time_p90
    pass: [{criteria: ["<1000"]}]
    warning: [{criteria: ["<=1200"]}]
total_score: {pass: "90%", warning: "40%"}
`

func healRemediation(actions string) string {
	return "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata: {name: carts}\nspec:\n  remediations:\n    - problemType: response_time_p90\n      actionsOnOpen:\n" + actions
}

// latency is a fake SLI provider whose response_time_p90 the test (or a
// function of the world) decides.
type latency struct{ value func() float64 }

func (l latency) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	out := make([]slo.SLIResult, len(req.Indicators))
	for i, name := range req.Indicators {
		out[i] = slo.SLIResult{Metric: name, Value: l.value(), Success: true}
	}
	return out, nil
}

// healApp starts a server with project sockshop (service carts), its SLO
// and remediation file, and monitoring pointing at the fake provider.
func healApp(t *testing.T, opts Options, remediationFile string, value func() float64) *testApp {
	t.Helper()
	opts.SLIProviders = func(settings.Selection) (sli.Provider, error) { return latency{value}, nil }
	ta := startTestApp(t, opts)
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: healShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{
		{URI: "slo.yaml", Content: []byte(healSLO)},
		{URI: "remediation.yaml", Content: []byte(remediationFile)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://prometheus.invalid:9090"}); err != nil {
		t.Fatal(err)
	}
	return ta
}

// fire sends an Alertmanager notification of a firing response_time_p90
// alert for carts and returns the remediation it started.
func (ta *testApp) fire(t testing.TB, fingerprint string) string {
	t.Helper()
	body := fmt.Sprintf(`{"version":"4","status":"firing","receiver":"tend","groupKey":"{}:{}","alerts":[{"status":"firing",
		"labels":{"alertname":"response_time_p90","project":"sockshop","stage":"production","service":"carts"},
		"annotations":{"summary":"response_time_p90"},"startsAt":%q,"fingerprint":%q}]}`, time.Now().UTC().Format(time.RFC3339Nano), fingerprint)
	_, raw, err := ta.c.Raw(context.Background(), http.MethodPost, "/api/v1/integrations/alertmanager", nil, []byte(body))
	if err != nil {
		t.Fatalf("alertmanager webhook: %v", err)
	}
	var ans apitypes.AlertmanagerAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Results) != 1 || ans.Results[0].RemediationID == "" {
		t.Fatalf("alertmanager answer %s (%v) started no remediation", raw, err)
	}
	return ans.Results[0].RemediationID
}

func (ta *testApp) waitRemediation(t testing.TB, id string, done func(*apitypes.Remediation) bool) *apitypes.Remediation {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, err := ta.c.GetRemediation(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("remediation %s is still %s (%s) after 90s; logs:\n%s", id, r.State, r.Reason, ta.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ended(r *apitypes.Remediation) bool { return !r.Running }

// story returns the short types of a context's events, oldest first.
func (ta *testApp) story(t testing.TB, kctx string) []string {
	t.Helper()
	var out []string
	for _, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: kctx}) {
		var e struct{ Type string }
		_ = json.Unmarshal(raw, &e)
		out = append(out, strings.TrimPrefix(e.Type, event.Prefix))
	}
	return out
}

// TestRemediationTutorialOnRealComponents is the self-healing story on a
// real kube-apiserver and a real Unleash: a slow carts is scaled up (which
// does not help: the promotion is the cause), then the EnablePromotion flag
// goes off, the latency falls and the remediation ends resolved.
func TestRemediationTutorialOnRealComponents(t *testing.T) {
	kubeconfig := testenv.KubeconfigPath(t)
	unleashURL, unleashToken := testenv.UnleashURL(t), testenv.UnleashAdminToken(t)
	flag := testenv.UnleashFeature(t, "production")

	cs, err := kubernetes.NewClientset(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "tend-heal-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	labels := map[string]string{"app": "carts"}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "carts-primary", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "carts", Image: "docker.io/keptnexamples/carts:0.13.1"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The latency follows the real flag: promotion on means slow.
	flagOn := func() bool {
		req, _ := http.NewRequest(http.MethodGet, unleashURL+"/api/admin/projects/default/features/"+flag, nil)
		req.Header.Set("Authorization", unleashToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return true
		}
		defer resp.Body.Close()
		var f struct {
			Environments []struct {
				Name    string
				Enabled bool
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&f)
		for _, e := range f.Environments {
			if e.Name == "production" {
				return e.Enabled
			}
		}
		return true
	}
	value := func() float64 {
		if flagOn() {
			return 1500
		}
		return 600
	}
	cfg := config.Default()
	cfg.Kubernetes.Kubeconfig = kubeconfig
	ta := healApp(t, Options{Config: &cfg}, healRemediation(
		"        - {name: Scale up, action: scaling, value: \"1\"}\n"+
			"        - {name: Disable promotion, action: toggle-feature, value: {"+flag+": \"off\"}}\n"), value)
	if _, err := ta.c.PutSetting(ctx, "sockshop", "kubernetes", apitypes.KubernetesConfig{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "unleash", apitypes.UnleashConfig{URL: unleashURL, Token: unleashToken, Environment: "production"}); err != nil {
		t.Fatal(err)
	}

	id := ta.fire(t, "tutorial-"+hex.EncodeToString(b))
	r := ta.waitRemediation(t, id, ended)
	if r.State != "resolved" {
		t.Fatalf("remediation ended %s (%s); logs:\n%s", r.State, r.Reason, ta.logs.String())
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "carts-primary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("carts-primary has %d replicas, want 2", *d.Spec.Replicas)
	}
	if flagOn() {
		t.Errorf("flag %s is still on in production", flag)
	}
	want := "production.remediation.triggered production.remediation.started " +
		"action.triggered action.started action.finished evaluation.triggered evaluation.started evaluation.finished " +
		"action.triggered action.started action.finished evaluation.triggered evaluation.started evaluation.finished " +
		"production.remediation.finished"
	if got := strings.Join(ta.story(t, r.KeptnContext), " "); got != want {
		t.Errorf("story = %s\nwant    %s", got, want)
	}
	if len(r.Evaluations) != 2 || r.Evaluations[0].Result != "fail" || r.Evaluations[1].Result != "pass" {
		t.Errorf("evaluations = %+v, want fail then pass", r.Evaluations)
	}
	if len(r.Actions) != 2 || !strings.Contains(r.Actions[0].Plan, "from 1 to 2") {
		t.Fatalf("actions = %+v", r.Actions)
	}
	scaled, toggled := r.Actions[0].Changes, r.Actions[1].Changes
	if len(scaled) != 1 || scaled[0].From != "1" || scaled[0].To != "2" || !strings.Contains(scaled[0].Target, "carts-primary") {
		t.Errorf("scaling changes = %+v, want carts-primary replicas 1 -> 2", scaled)
	}
	if len(toggled) != 1 || toggled[0].From != "on" || toggled[0].To != "off" || !strings.Contains(toggled[0].Target, flag) {
		t.Errorf("toggle changes = %+v, want %s on -> off", toggled, flag)
	}
}

// TestExternalExecutorThroughTheAPI plays an external executor: it polls
// Keptn's triggered-events endpoint and answers through /api/v1/event. The
// timeout is an hour, so only the answer can move the remediation on.
func TestExternalExecutorThroughTheAPI(t *testing.T) {
	cfg := config.Default()
	cfg.Remediation.ExternalTimeout = time.Hour
	ta := healApp(t, Options{Config: &cfg}, healRemediation("        - {name: Restart, action: restart-pod, value: carts}\n"),
		func() float64 { return 500 })
	id := ta.fire(t, "external-1")
	ctx := context.Background()

	var trig struct {
		ID             string `json:"id"`
		Shkeptncontext string `json:"shkeptncontext"`
		Data           struct {
			Action struct{ Action string } `json:"action"`
		} `json:"data"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for trig.ID == "" {
		_, raw, err := ta.c.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered", map[string][]string{"project": {"sockshop"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Events []json.RawMessage }
		_ = json.Unmarshal(raw, &list)
		if len(list.Events) > 0 {
			_ = json.Unmarshal(list.Events[0], &trig)
		}
		if time.Now().After(deadline) {
			t.Fatal("no action.triggered was offered to external executors")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if trig.Data.Action.Action != "restart-pod" {
		t.Fatalf("offered action = %+v", trig.Data)
	}
	ta.waitRemediation(t, id, func(r *apitypes.Remediation) bool { return r.State == "applying" })
	for _, phase := range []string{"started", "finished"} {
		ev := fmt.Sprintf(`{"specversion":"1.0","source":"pod-restarter","type":"sh.keptn.event.action.%s","shkeptncontext":%q,"triggeredid":%q,
			"data":{"project":"sockshop","stage":"production","service":"carts","status":"succeeded","result":"pass","message":"restarted 3 pods"}}`, phase, trig.Shkeptncontext, trig.ID)
		if _, err := ta.c.SendEvent(ctx, []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	r := ta.waitRemediation(t, id, ended)
	if r.State != "resolved" || r.Actions[0].State != "finished" {
		t.Fatalf("remediation %s (%s), action %+v", r.State, r.Reason, r.Actions[0])
	}
	_, raw, err := ta.c.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered", map[string][]string{"project": {"sockshop"}}, nil)
	if err != nil || !bytes.Contains(raw, []byte(`"events":[]`)) {
		t.Errorf("the answered action is still offered: %s %v", raw, err)
	}
}

// TestSettingsPauseAndScaleTargetThroughTheAPI configures a service
// through the API (an HTTP scale target, limits), pauses and resumes it,
// and checks that get config masks the Unleash token.
func TestSettingsPauseAndScaleTargetThroughTheAPI(t *testing.T) {
	var replicas atomic.Int32
	replicas.Store(1)
	var puts atomic.Int32
	scale := newScaleTarget(t, &replicas, &puts)
	ta := healApp(t, Options{}, healRemediation("        - {name: Scale up, action: scaling, value: \"+1\"}\n"),
		func() float64 {
			if replicas.Load() >= 2 {
				return 500
			}
			return 1500
		})
	ctx := context.Background()
	if _, err := ta.c.PutSetting(ctx, "sockshop", "kubernetes", apitypes.KubernetesConfig{ScaleURL: scale, Service: "carts"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "unleash", apitypes.UnleashConfig{URL: "http://unleash.invalid", Token: "s3cr3t-token"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "remediation", apitypes.RemediationConfig{MaxReplicas: ptr(5), Cooldown: "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutSetting(ctx, "sockshop", "remediation", apitypes.RemediationConfig{Cooldown: "soon"}); err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
		t.Errorf("a bad cooldown was accepted: %v", err)
	}
	cfgs, err := ta.c.GetConfig(ctx, "sockshop")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfgs)
	if bytes.Contains(raw, []byte("s3cr3t-token")) || !bytes.Contains(raw, []byte(`"token":{"set":true}`)) {
		t.Errorf("get config shows or loses the Unleash token: %s", raw)
	}

	if _, err := ta.c.PauseRemediation(ctx, "sockshop", true, apitypes.PauseRequest{Service: "carts", Reason: "freeze"}); err != nil {
		t.Fatal(err)
	}
	id := ta.fire(t, "paused-1")
	r := ta.waitRemediation(t, id, func(r *apitypes.Remediation) bool { return r.State == "paused" })
	if !strings.Contains(r.Reason, "freeze") || puts.Load() != 0 {
		t.Fatalf("paused remediation: %s, %d scale calls", r.Reason, puts.Load())
	}
	ans, err := ta.c.PauseRemediation(ctx, "sockshop", false, apitypes.PauseRequest{Service: "carts"})
	if err != nil || len(ans.Remediations) != 1 || ans.Remediations[0] != id {
		t.Fatalf("resume = %+v, %v", ans, err)
	}
	r = ta.waitRemediation(t, id, ended)
	if r.State != "resolved" || replicas.Load() != 2 || puts.Load() != 1 {
		t.Errorf("after resume: %s (%s), replicas %d after %d PUTs", r.State, r.Reason, replicas.Load(), puts.Load())
	}
}

// newScaleTarget serves the HTTP scale target: GET and PUT {"replicas": N}.
func newScaleTarget(t testing.TB, replicas, puts *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			var body struct{ Replicas int32 }
			if err := json.Unmarshal(b, &body); err != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			replicas.Store(body.Replicas)
			puts.Add(1)
		}
		fmt.Fprintf(w, `{"replicas":%d}`, replicas.Load())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/scale"
}

func ptr[T any](v T) *T { return &v }
