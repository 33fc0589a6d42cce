package tutorial

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/tendhq/tend/internal/spec"
)

// The story onboards examples/sockshop's carts chart and uses its
// shipyard (with the story's settling time): files/ holds copies, since an
// embed directive cannot reach examples/.
func TestFilesAreTheSockshopExample(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "sockshop", "carts")
	var n int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := File("carts/" + filepath.ToSlash(rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("files/carts/%s differs from examples/sockshop/carts/%s (%v); copy it again", rel, rel, err)
		}
		n++
		return nil
	})
	if err != nil || n < 4 {
		t.Fatalf("walk %s: %v (%d files)", root, err, n)
	}

	want, err := os.ReadFile(filepath.Join("..", "..", "examples", "sockshop", "shipyard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := File("shipyard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := func(b []byte) string {
		s := string(b[bytes.Index(b, []byte("apiVersion")):])
		return strings.NewReplacer(`"10m"`, `"1m"`).Replace(s)
	}
	if body(got) != body(want) {
		t.Errorf("files/shipyard.yaml differs from examples/sockshop/shipyard.yaml in more than the settling time; copy it again")
	}
	sy, diags := spec.DecodeShipyard("shipyard.yaml", got)
	if sy == nil || len(diags) > 0 {
		t.Fatalf("shipyard: %v", diags)
	}
	for _, st := range Stages {
		if _, ok := sy.Stage(st); !ok {
			t.Errorf("shipyard has no stage %s", st)
		}
	}
}

// TestCartsChartRenders renders the carts chart as a deployment task does
// (image and keptn.* values set) and checks the shape Keptn's carts chart
// has: a Deployment carts with the image and replicas, small resources,
// and a Service carts that selects its Pods.
func TestCartsChartRenders(t *testing.T) {
	ch, err := loader.LoadDir(filepath.Join("..", "..", "examples", "sockshop", "carts"))
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	vals := map[string]any{
		"image":        "docker.io/keptnexamples/carts:0.11.2",
		"replicaCount": 2,
		"keptn":        map[string]any{"project": "sockshop", "stage": "staging", "service": "carts", "deployment": "canary"},
	}
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "sockshop-staging-carts", Namespace: "sockshop-staging", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	var dep appsv1.Deployment
	var svc corev1.Service
	if err := yaml.UnmarshalStrict([]byte(out["carts/templates/deployment.yaml"]), &dep); err != nil {
		t.Fatalf("deployment.yaml: %v\n%s", err, out["carts/templates/deployment.yaml"])
	}
	if err := yaml.UnmarshalStrict([]byte(out["carts/templates/service.yaml"]), &svc); err != nil {
		t.Fatalf("service.yaml: %v\n%s", err, out["carts/templates/service.yaml"])
	}
	if dep.Kind != "Deployment" || dep.Name != "carts" || svc.Kind != "Service" || svc.Name != "carts" {
		t.Fatalf("rendered %s %s and %s %s, want Deployment carts and Service carts", dep.Kind, dep.Name, svc.Kind, svc.Name)
	}
	c := dep.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Image != "docker.io/keptnexamples/carts:0.11.2" || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("deployment runs %+v with replicas %v, want the image and 2", c, dep.Spec.Replicas)
	}
	if mem := c[0].Resources.Requests.Memory(); mem.Value() > 64<<20 {
		t.Errorf("memory request %s, want small", mem)
	}
	if got := dep.Labels["app.kubernetes.io/version"]; got != "0.11.2" {
		t.Errorf("version label %q, want 0.11.2", got)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not select the Pods %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	if !labels.SelectorFromSet(dep.Spec.Selector.MatchLabels).Matches(labels.Set(dep.Spec.Template.Labels)) {
		t.Errorf("Deployment selector %v does not select its Pods %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
	}
}
