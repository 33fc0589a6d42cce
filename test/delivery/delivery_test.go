// Package delivery tests tend's built-in delivery executors end to end: the
// real `tend serve` binary, the real test cluster (scripts/kube-cluster.sh),
// Keptn's carts chart stored as helm/carts.tgz, and a blue/green delivery
// during whose deployment task tend is killed with SIGKILL and started
// again. Afterwards the delivery has finished exactly once (one
// deployment.finished, one sequence finished) and the cluster holds what
// Keptn's helm-service left: carts-primary serving the new image, the canary
// carts scaled to 0.
package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "delivery", &tendBin)) }

const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata: {name: delivery}
spec:
  stages:
    - name: production
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties: {deploymentstrategy: blue_green_service}
            - name: release
`

const image = "docker.io/keptnexamples/carts:0.11.1"

func TestBlueGreenDeliverySurvivesKill(t *testing.T) {
	kubeconfig := testenv.KubeconfigPath(t)
	chartArchive, err := os.ReadFile(filepath.Join(testenv.KeptnExamples(t), "examples/0.11.0/onboarding-carts/carts.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewClientset(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// A project of this run's own, so its namespace is new.
	project := fmt.Sprintf("dlv%d", time.Now().UnixNano()%1_000_000)
	ns := project + "-production"
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := tendproc.WriteConfig(t, dir, fmt.Sprintf("worker:\n  lease: 3s\n  pollInterval: 100ms\nkubernetes:\n  kubeconfig: %s\n", kubeconfig))
	p := tendproc.Start(t, tendBin, tendproc.Options{DataDir: data, Config: cfg})
	c := tendproc.AdminClient(t, p.URL, data)
	ctx := context.Background()
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(ctx, project, "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: project, Stage: "production", Service: "carts"}
	if _, err := c.PutResources(ctx, ref, []client.ResourceFile{{URI: "helm/carts.tgz", Content: chartArchive}}); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"specversion":"1.0","source":"test","type":"sh.keptn.event.production.delivery.triggered",
		"data":{"project":%q,"stage":"production","service":"carts","configurationChange":{"values":{"image":%q}}}}`, project, image)
	kctx, err := c.SendEvent(ctx, []byte(body))
	if err != nil {
		t.Fatal(err)
	}

	// Kill tend once it has started the deployment: the rollout is then
	// under way (or done, but its deployment.finished not recorded).
	waitFor(t, "deployment.started", func() bool { return count(t, c, kctx, "sh.keptn.event.deployment.started") > 0 })
	p.Kill()
	p = tendproc.Start(t, tendBin, tendproc.Options{DataDir: data, Config: cfg})
	c = tendproc.AdminClient(t, p.URL, data)
	// The killed replica's lease holds the job for a few seconds more, so
	// what the log holds now was recorded before the kill.
	killedAfterFinish := count(t, c, kctx, "sh.keptn.event.deployment.finished") > 0
	t.Logf("killed during the deployment task (its finished recorded before the kill: %v)", killedAfterFinish)

	waitFor(t, "production.delivery.finished", func() bool {
		return count(t, c, kctx, "sh.keptn.event.production.delivery.finished") > 0
	})
	for typ, want := range map[string]int{
		"sh.keptn.event.deployment.triggered": 1, "sh.keptn.event.deployment.started": 1, "sh.keptn.event.deployment.finished": 1,
		"sh.keptn.event.release.finished": 1, "sh.keptn.event.production.delivery.finished": 1,
	} {
		if n := count(t, c, kctx, typ); n != want {
			t.Errorf("%d %s, want %d", n, typ, want)
		}
	}
	fin := last(t, c, kctx, "sh.keptn.event.production.delivery.finished")
	if fin["result"] != "pass" || fin["status"] != "succeeded" {
		t.Errorf("delivery finished %v", fin)
	}
	dep := last(t, c, kctx, "sh.keptn.event.deployment.finished")
	if d, _ := dep["deployment"].(map[string]any); d == nil || d["gitCommit"] == "" || d["image"] != image {
		t.Errorf("deployment.finished %v", dep)
	}
	checkCluster(t, cs, ns)
}

// checkCluster checks the Deployments a released blue/green service has.
func checkCluster(t *testing.T, cs k8s.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	primary, err := cs.AppsV1().Deployments(ns).Get(ctx, "carts-primary", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("carts-primary: %v", err)
	}
	canary, err := cs.AppsV1().Deployments(ns).Get(ctx, "carts", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("carts: %v", err)
	}
	if img := primary.Spec.Template.Spec.Containers[0].Image; img != image {
		t.Errorf("carts-primary runs %s, want %s", img, image)
	}
	if primary.Status.ReadyReplicas < 1 {
		t.Errorf("carts-primary has %d ready replicas", primary.Status.ReadyReplicas)
	}
	if canary.Spec.Replicas == nil || *canary.Spec.Replicas != 0 {
		t.Errorf("the canary carts has %v replicas, want 0", canary.Spec.Replicas)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5 minutes", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// events returns the context's events of a type, newest first.
func events(t *testing.T, c *client.Client, kctx, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for raw, err := range c.Events(context.Background(), client.EventFilter{KeptnContext: kctx}) {
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Type string
			Data map[string]any
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if strings.EqualFold(ev.Type, typ) {
			out = append(out, ev.Data)
		}
	}
	return out
}

func count(t *testing.T, c *client.Client, kctx, typ string) int { return len(events(t, c, kctx, typ)) }

func last(t *testing.T, c *client.Client, kctx, typ string) map[string]any {
	t.Helper()
	evs := events(t, c, kctx, typ)
	if len(evs) == 0 {
		t.Fatalf("no %s", typ)
	}
	return evs[0]
}
