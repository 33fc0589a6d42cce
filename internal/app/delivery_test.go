package app

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

const deliveryShipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: sockshop}
spec:
  stages:
    - name: staging
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties: {deploymentstrategy: blue_green_service}
            - name: test
              properties: {teststrategy: functional}
            - name: evaluation
            - name: release
    - name: production
      sequences:
        - name: delivery
          triggeredOn:
            - event: staging.delivery.finished
          tasks:
            - name: deployment
              properties: {deploymentstrategy: blue_green_service}
            - name: release
`

// appDeployer is a fake cluster: each stage's service answers on the URL of
// the httptest server it was given.
type appDeployer struct {
	url     string
	mu      sync.Mutex
	calls   []string
	images  map[string]string
	primary map[string]string
}

func (d *appDeployer) Deploy(_ context.Context, req delivery.DeployRequest) (delivery.Deployed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	img, _ := req.Values["image"].(string)
	d.calls = append(d.calls, "deploy "+req.Namespace+" "+img)
	d.images[req.Namespace] = img
	return delivery.Deployed{Strategy: req.Strategy, Kind: delivery.KindCanary, Deployments: []string{req.Service, req.Service + "-primary"},
		URIsLocal: []string{d.url}, Image: img, Revision: 1}, nil
}

func (d *appDeployer) Release(_ context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "release "+req.Namespace)
	d.primary[req.Namespace] = d.images[req.Namespace]
	return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindPrimary, Deployments: []string{req.Service + "-primary"},
		URIsLocal: []string{d.url}, Image: d.primary[req.Namespace]}, nil
}

func (d *appDeployer) Rollback(_ context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "rollback "+req.Namespace)
	return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindPrimary, Image: d.primary[req.Namespace]}, nil
}

// sliSpy answers 500ms for every SLI and records each request's window and
// deployment.
type sliSpy struct {
	mu   sync.Mutex
	reqs []sli.Request
}

func (s *sliSpy) GetSLIs(_ context.Context, req sli.Request) ([]slo.SLIResult, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	return latency{func() float64 { return 500 }}.GetSLIs(context.Background(), req)
}

func appChart(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range [][2]string{
		{"carts/Chart.yaml", "apiVersion: v2\nname: carts\nversion: 0.1.0\n"},
		{"carts/values.yaml", "image: docker.io/keptnexamples/carts:0.11.0\n"},
		{"carts/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: carts\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
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

// A two-stage delivery carried out by tend alone: deployment (a fake
// cluster), the built-in functional test against the deployed URL (an
// httptest server), the evaluation over the test's window with $DEPLOYMENT
// filled, release, then the same in production.
func TestBuiltInDeliveryTwoStages(t *testing.T) {
	var hits sync.Map
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(int))
		*(n.(*int))++
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(svc.Close)
	dep := &appDeployer{url: svc.URL, images: map[string]string{}, primary: map[string]string{}}
	spy := &sliSpy{}
	cfg := config.Default()
	cfg.Worker.PollInterval = 10 * time.Millisecond
	ta := startTestApp(t, Options{Config: &cfg, Delivery: DeliveryOptions{Deployer: dep},
		SLIProviders: func(settings.Selection) (sli.Provider, error) { return spy, nil }})
	ctx := context.Background()
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: deliveryShipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"staging", "production"} {
		ref := client.ResourceRef{Project: "sockshop", Stage: st, Service: "carts"}
		if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(healSLO)}, {URI: "helm/carts.tgz", Content: appChart(t)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://prometheus.invalid:9090"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ta.c.Raw(ctx, http.MethodPut, "/api/v1/project/sockshop/config/tests", nil, []byte(`{"paths":"/,/health","requests":2}`)); err != nil {
		t.Fatal(err)
	}

	kctx := ta.triggerSequence(t, "staging", "delivery", `"configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.11.1"}}`)
	stages := ta.waitStages(t, kctx, map[string]string{"staging": "finished", "production": "finished"})
	for name, st := range stages {
		if st.Result != "pass" {
			t.Errorf("stage %s ended %s (%s)", name, st.Result, st.Status)
		}
	}
	wantStaging := []string{"staging.delivery.triggered",
		"deployment.triggered", "deployment.started", "deployment.finished",
		"test.triggered", "test.started", "test.finished",
		"evaluation.triggered", "evaluation.started", "evaluation.finished",
		"release.triggered", "release.started", "release.finished", "staging.delivery.finished"}
	if got := ta.stageStory(t, kctx, "staging"); !slices.Equal(got, wantStaging) {
		t.Errorf("staging story\n%v\nwant\n%v", got, wantStaging)
	}
	wantProd := []string{"production.delivery.triggered",
		"deployment.triggered", "deployment.started", "deployment.finished",
		"release.triggered", "release.started", "release.finished", "production.delivery.finished"}
	if got := ta.stageStory(t, kctx, "production"); !slices.Equal(got, wantProd) {
		t.Errorf("production story\n%v\nwant\n%v", got, wantProd)
	}
	wantCalls := []string{"deploy sockshop-staging docker.io/keptnexamples/carts:0.11.1", "release sockshop-staging",
		"deploy sockshop-production docker.io/keptnexamples/carts:0.11.1", "release sockshop-production"}
	if !slices.Equal(dep.calls, wantCalls) {
		t.Errorf("cluster calls %v, want %v", dep.calls, wantCalls)
	}
	for _, p := range []string{"/", "/health"} {
		if n, ok := hits.Load(p); !ok || *(n.(*int)) != 2 {
			t.Errorf("the test requested %s %v times, want 2", p, n)
		}
	}

	// The evaluation's window is the test's, and $DEPLOYMENT the kind the
	// deployment reported.
	var testData struct {
		Data struct {
			Test struct{ Start, End string }
		}
	}
	for _, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: kctx, Stage: "staging"}) {
		if strings.Contains(string(raw), `"type":"sh.keptn.event.test.finished"`) {
			_ = json.Unmarshal(raw, &testData)
		}
	}
	start, err1 := time.Parse(time.RFC3339Nano, testData.Data.Test.Start)
	end, err2 := time.Parse(time.RFC3339Nano, testData.Data.Test.End)
	if err1 != nil || err2 != nil {
		t.Fatalf("test.finished window %+v", testData.Data.Test)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.reqs) != 1 {
		t.Fatalf("%d SLI requests, want 1", len(spy.reqs))
	}
	if r := spy.reqs[0]; !r.Start.Equal(start) || !r.End.Equal(end) || r.Deployment != "canary" {
		t.Errorf("evaluation window %s..%s deployment %q, want the test's %s..%s and canary", r.Start, r.End, r.Deployment, start, end)
	}
}

// A Keptn 0.6 shipyard's blue/green stage whose quality gate fails rolls
// back: the delivery finishes fail and its rollback sequence puts traffic
// back on the primary through the Deployer.
func TestLegacyBlueGreenFailedGateRollsBack(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(svc.Close)
	dep := &appDeployer{url: svc.URL, images: map[string]string{}, primary: map[string]string{}}
	cfg := config.Default()
	cfg.Worker.PollInterval = 10 * time.Millisecond
	slow := func(settings.Selection) (sli.Provider, error) { return latency{func() float64 { return 5000 }}, nil }
	ta := startTestApp(t, Options{Config: &cfg, Delivery: DeliveryOptions{Deployer: dep}, SLIProviders: slow})
	ctx := context.Background()
	const legacy = "stages:\n  - name: production\n    deployment_strategy: blue_green_service\n    test_strategy: functional\n"
	if _, err := ta.c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: legacy}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.CreateService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	if _, err := ta.c.PutResources(ctx, ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(healSLO)}, {URI: "helm/carts.tgz", Content: appChart(t)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.c.PutMonitoring(ctx, "sockshop", apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://prometheus.invalid:9090"}); err != nil {
		t.Fatal(err)
	}
	kctx := ta.triggerSequence(t, "production", "delivery", `"image":"docker.io/keptnexamples/carts","tag":"0.11.2"`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var names []string
		for _, s := range ta.sequences(t, map[string][]string{"keptnContext": {kctx}}).States {
			for _, st := range s.Stages {
				if st.State == "finished" {
					names = append(names, st.Sequence+"/"+st.Result)
				}
			}
		}
		if slices.Contains(names, "rollback/pass") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("finished sequences %v, want a passed rollback; logs:\n%s", names, tail(ta.logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []string{"deploy sockshop-production docker.io/keptnexamples/carts:0.11.2", "rollback sockshop-production"}
	if !slices.Equal(dep.calls, want) {
		t.Errorf("cluster calls %v, want %v", dep.calls, want)
	}
}
