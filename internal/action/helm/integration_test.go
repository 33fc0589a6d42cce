package helm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/testenv"
)

// These tests run against the test cluster of scripts/kube-cluster.sh,
// which all tests share: each uses namespaces of its own, named
// <random>-<stage>, and deletes them at its end. Pods run nothing (kwok
// makes them Ready), so images are only names.

const (
	carts0111 = "docker.io/keptnexamples/carts:0.11.1"
	carts0112 = "docker.io/keptnexamples/carts:0.11.2"
	carts0113 = "docker.io/keptnexamples/carts:0.11.3"
)

// testCluster returns a Deployer on the test cluster and an admin client.
func testCluster(t testing.TB) (*Deployer, kubernetes.Interface) {
	t.Helper()
	cfg := restConfig(t)
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})), PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, cs
}

func restConfig(t testing.TB) *rest.Config {
	t.Helper()
	path := testenv.KubeconfigPath(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", path, err)
	}
	cfg.Timeout = 30 * time.Second
	return cfg
}

// testWriter sends Helm's and the Deployer's logs to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// namespace returns a fresh namespace name <random>-<stage> (the Deployer
// creates it) and deletes it when the test ends.
func namespace(t testing.TB, cs kubernetes.Interface, stage string) (project, ns string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	project = "s" + hex.EncodeToString(b)
	ns = delivery.Namespace(project, stage)
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return project, ns
}

// values are what the deliverer sets over a chart's values.
func values(project, stage, service, deployment, image string) map[string]any {
	return map[string]any{
		"image": image,
		"keptn": map[string]any{"project": project, "stage": stage, "service": service, "deployment": deployment},
	}
}

// storedChart returns a chart as tend stores it: archives of Keptn's
// examples as they are, folders packed with chart.Archive.
func storedChart(t testing.TB, path string) []byte {
	t.Helper()
	if strings.HasSuffix(path, ".tgz") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ch, err := chart.LoadPath(path)
	if err != nil {
		t.Fatalf("load chart %s: %v", path, err)
	}
	b, err := chart.Archive(ch)
	if err != nil {
		t.Fatalf("archive chart %s: %v", path, err)
	}
	return b
}

func keptnChart(t testing.TB, rel string) []byte {
	t.Helper()
	return storedChart(t, filepath.Join(testenv.KeptnExamples(t), "examples", rel))
}

func getDeployment(t testing.TB, cs kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, name, err)
	}
	return d
}

// deploymentState is what a test checks of a Deployment, read back from
// the API server.
type deploymentState struct {
	Image    string
	Replicas int32
	Ready    int32
	Selector string
}

func state(t testing.TB, cs kubernetes.Interface, ns, name string) deploymentState {
	t.Helper()
	d := getDeployment(t, cs, ns, name)
	s := deploymentState{Ready: d.Status.ReadyReplicas}
	if d.Spec.Replicas != nil {
		s.Replicas = *d.Spec.Replicas
	}
	if len(d.Spec.Template.Spec.Containers) > 0 {
		s.Image = d.Spec.Template.Spec.Containers[0].Image
	}
	if d.Spec.Selector != nil {
		s.Selector = labelString(d.Spec.Selector.MatchLabels)
	}
	return s
}

func serviceSelector(t testing.TB, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	s, err := cs.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get service %s/%s: %v", ns, name, err)
	}
	return labelString(s.Spec.Selector)
}

func labelString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// releaseStatus reads a Helm release's newest revision from its Secrets.
func releaseStatus(t testing.TB, cs kubernetes.Interface, ns, name string) (rcommon.Status, int) {
	t.Helper()
	r, err := releases(cs, ns).Last(name)
	if err != nil {
		t.Fatalf("release %s in %s: %v", name, ns, err)
	}
	rel := r.(*release.Release)
	return rel.Info.Status, rel.Version
}

func releases(cs kubernetes.Interface, ns string) *storage.Storage {
	return storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(ns)))
}

func mustDeploy(t testing.TB, d *Deployer, req delivery.DeployRequest) delivery.Deployed {
	t.Helper()
	res, err := d.Deploy(context.Background(), req)
	if err != nil {
		t.Fatalf("Deploy %s/%s: %v", req.Namespace, req.Service, err)
	}
	return res
}

func checkDeployed(t testing.TB, what string, got, want delivery.Deployed) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s answered\n%+v\nwant\n%+v", what, got, want)
	}
}

func checkState(t testing.TB, cs kubernetes.Interface, ns, name string, want deploymentState) {
	t.Helper()
	if got := state(t, cs, ns, name); got != want {
		t.Errorf("deployment %s in %s is %+v, want %+v", name, ns, got, want)
	}
}

// persistentVolume gives the claim ns/claim a volume to bind to: the test
// cluster has no storage provisioner.
func persistentVolume(t testing.TB, cs kubernetes.Interface, ns, claim string) {
	t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create persistent volume: %v", err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
}

// TestKeptnChartsInstall installs Keptn's carts and carts-db charts of
// both tutorial versions as they are, direct: the 0.11 archives (entries
// starting with "./") and the 0.6.1 folders, whose carts-db Deployment is
// extensions/v1beta1.
func TestKeptnChartsInstall(t *testing.T) {
	d, cs := testCluster(t)
	tests := []struct {
		name, path, service, image string
		claim                      string
	}{
		{"0.11.0 carts.tgz", "0.11.0/onboarding-carts/carts.tgz", "carts", carts0111, ""},
		{"0.11.0 carts-db.tgz", "0.11.0/onboarding-carts/carts-db.tgz", "carts-db", "docker.io/mongo:4.2.2", "carts-db-mongodata"},
		{"0.6.1 carts", "0.6.1/onboarding-carts/carts", "carts", carts0111, ""},
		{"0.6.1 carts-db", "0.6.1/onboarding-carts/carts-db", "carts-db", "mongo", "carts-db-mongodata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			project, ns := namespace(t, cs, "dev")
			if tc.claim != "" {
				persistentVolume(t, cs, ns, tc.claim)
			}
			res := mustDeploy(t, d, delivery.DeployRequest{
				Target:   delivery.Target{Namespace: ns, Service: tc.service},
				Chart:    keptnChart(t, tc.path),
				Strategy: delivery.Direct,
				Values:   values(project, "dev", tc.service, delivery.KindDirect, tc.image),
				Timeout:  time.Minute,
			})
			want := delivery.Deployed{Strategy: delivery.Direct, Kind: delivery.KindDirect, Deployments: []string{tc.service}, URIsLocal: []string{fmt.Sprintf("http://%s.%s:%d", tc.service, ns, map[string]int{"carts": 80, "carts-db": 27017}[tc.service])}, Image: tc.image, Revision: 1}
			checkDeployed(t, "Deploy", res, want)
			checkState(t, cs, ns, tc.service, deploymentState{Image: tc.image, Replicas: 1, Ready: 1, Selector: "app=" + tc.service})
			if st, rev := releaseStatus(t, cs, ns, delivery.ReleaseName(ns, tc.service)); st != rcommon.StatusDeployed || rev != 1 {
				t.Errorf("release is %s at revision %d, want deployed at 1", st, rev)
			}
			// The templates read .Values.keptn.*.
			dep := getDeployment(t, cs, ns, tc.service)
			if strings.HasPrefix(tc.name, "0.11") && dep.Spec.Template.Labels["app.kubernetes.io/part-of"] != project {
				t.Errorf("template labels %v lack app.kubernetes.io/part-of=%s", dep.Spec.Template.Labels, project)
			}
		})
	}
}

// TestDirect deploys twice, rolls back to the first version (twice: the
// second is a no-op), and releases (a no-op for a direct service).
func TestDirect(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	ctx := context.Background()
	project, ns := namespace(t, cs, "dev")
	ch := keptnChart(t, "0.11.0/onboarding-carts/carts.tgz")
	req := func(image string) delivery.DeployRequest {
		return delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: ch, Strategy: delivery.Direct, Values: values(project, "dev", "carts", delivery.KindDirect, image), Timeout: time.Minute}
	}
	direct := func(image string, rev int) delivery.Deployed {
		return delivery.Deployed{Strategy: delivery.Direct, Kind: delivery.KindDirect, Deployments: []string{"carts"}, URIsLocal: []string{"http://carts." + ns + ":80"}, Image: image, Revision: rev}
	}
	checkDeployed(t, "first Deploy", mustDeploy(t, d, req(carts0111)), direct(carts0111, 1))
	checkDeployed(t, "second Deploy", mustDeploy(t, d, req(carts0112)), direct(carts0112, 2))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0112, Replicas: 1, Ready: 1, Selector: "app=carts"})

	target := delivery.ReleaseRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Timeout: time.Minute}
	for i := range 2 {
		res, err := d.Rollback(ctx, target)
		if err != nil {
			t.Fatalf("Rollback #%d: %v", i+1, err)
		}
		checkDeployed(t, fmt.Sprintf("Rollback #%d", i+1), res, direct(carts0111, 3))
	}
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0111, Replicas: 1, Ready: 1, Selector: "app=carts"})

	res, err := d.Release(ctx, target)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	checkDeployed(t, "Release", res, direct(carts0111, 3))
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "carts-primary", metav1.GetOptions{}); err == nil {
		t.Error("a direct service got a primary")
	}
}

// TestBlueGreen plays a blue/green service's life: the first delivery
// creates the primary, a release moves traffic to it, a second delivery
// leaves it alone and moves traffic to the canary, a rollback moves it
// back, and a third delivery and release end with the new version on the
// primary. Helm upgrades the canary release after tend changed its
// Service's selector each time.
func TestBlueGreen(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	ctx := context.Background()
	project, ns := namespace(t, cs, "production")
	ch := keptnChart(t, "0.11.0/onboarding-carts/carts.tgz")
	deploy := func(image string) delivery.Deployed {
		t.Helper()
		return mustDeploy(t, d, delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: ch, Strategy: delivery.BlueGreen, Values: values(project, "production", "carts", delivery.KindCanary, image), Timeout: time.Minute})
	}
	target := delivery.ReleaseRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Timeout: time.Minute}
	canary := func(image string, rev int) delivery.Deployed {
		return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindCanary, Deployments: []string{"carts"}, URIsLocal: []string{"http://carts-canary." + ns + ":80"}, Image: image, Revision: rev}
	}
	primary := func(image string, rev int) delivery.Deployed {
		return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindPrimary, Deployments: []string{"carts-primary"}, URIsLocal: []string{"http://carts-primary." + ns + ":80"}, Image: image, Revision: rev}
	}
	onCanary, onPrimary := "app=carts", "app=carts-primary"
	traffic := func(want string) {
		t.Helper()
		if got := serviceSelector(t, cs, ns, "carts"); got != want {
			t.Errorf("service carts selects %s, want %s", got, want)
		}
		if got := serviceSelector(t, cs, ns, "carts-primary"); got != onPrimary {
			t.Errorf("service carts-primary selects %s, want %s", got, onPrimary)
		}
		if got := serviceSelector(t, cs, ns, "carts-canary"); got != onCanary {
			t.Errorf("service carts-canary selects %s, want %s", got, onCanary)
		}
	}

	// First delivery: the primary starts on the same version.
	checkDeployed(t, "first Deploy", deploy(carts0111), canary(carts0111, 1))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0111, Replicas: 1, Ready: 1, Selector: onCanary})
	checkState(t, cs, ns, "carts-primary", deploymentState{Image: carts0111, Replicas: 1, Ready: 1, Selector: onPrimary})
	if l := getDeployment(t, cs, ns, "carts-primary").Spec.Template.Labels; l["app"] != "carts-primary" || l["app.kubernetes.io/instance"] != "carts-primary" {
		t.Errorf("primary's template labels are %v, want app=carts-primary and the instance carts-primary (keptn.deployment primary)", l)
	}
	traffic(onCanary)

	release := func(what string, want delivery.Deployed) {
		t.Helper()
		res, err := d.Release(ctx, target)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkDeployed(t, what, res, want)
	}
	release("first Release", primary(carts0111, 2))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0111, Replicas: 0, Ready: 0, Selector: onCanary})
	checkState(t, cs, ns, "carts-primary", deploymentState{Image: carts0111, Replicas: 1, Ready: 1, Selector: onPrimary})
	traffic(onPrimary)
	checkWide(t, ns, map[string]string{"carts": "0/0 " + carts0111 + " " + onCanary, "carts-primary": "1/1 " + carts0111 + " " + onPrimary})

	// Self-healing scales the primary; a delivery leaves it alone.
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "carts-primary", &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "carts-primary", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 2}}, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale carts-primary: %v", err)
	}
	checkDeployed(t, "second Deploy", deploy(carts0112), canary(carts0112, 2))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0112, Replicas: 1, Ready: 1, Selector: onCanary})
	if s := state(t, cs, ns, "carts-primary"); s.Image != carts0111 || s.Replicas != 2 {
		t.Errorf("primary after the second deployment: %+v, want %s with the 2 replicas it was scaled to", s, carts0111)
	}
	traffic(onCanary)

	res, err := d.Rollback(ctx, target)
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	checkDeployed(t, "Rollback", res, primary(carts0111, 2))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0112, Replicas: 0, Ready: 0, Selector: onCanary})
	traffic(onPrimary)

	checkDeployed(t, "third Deploy", deploy(carts0113), canary(carts0113, 3))
	traffic(onCanary)
	release("second Release", primary(carts0113, 3))
	checkState(t, cs, ns, "carts", deploymentState{Image: carts0113, Replicas: 0, Ready: 0, Selector: onCanary})
	checkState(t, cs, ns, "carts-primary", deploymentState{Image: carts0113, Replicas: 1, Ready: 1, Selector: onPrimary})
	traffic(onPrimary)
	// Run again, as after a crash: the same state.
	release("repeated Release", primary(carts0113, 4))
	traffic(onPrimary)

	for _, name := range []string{delivery.ReleaseName(ns, "carts"), delivery.PrimaryReleaseName(ns, "carts")} {
		if st, _ := releaseStatus(t, cs, ns, name); st != rcommon.StatusDeployed {
			t.Errorf("release %s is %s, want deployed", name, st)
		}
	}
}

// checkWide runs kubectl get deployments -o wide and checks each named
// Deployment's READY, IMAGES and SELECTOR columns.
func checkWide(t testing.TB, ns string, want map[string]string) {
	t.Helper()
	kubectl := testenv.KubectlPath(t)
	out, err := exec.Command(kubectl, "--kubeconfig", testenv.KubeconfigPath(t), "get", "deployments", "-n", ns, "-o", "wide").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get deployments: %v\n%s", err, out)
	}
	t.Logf("kubectl get deployments -n %s -o wide\n%s", ns, out)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		// NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR
		f := strings.Fields(line)
		if len(f) == 8 {
			got[f[0]] = f[1] + " " + f[6] + " " + f[7]
		}
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("kubectl shows deployment %s as %q, want %q", name, got[name], w)
		}
	}
}

// TestRolloutTimeout: a nodeSelector no node has leaves the Pod
// unschedulable, and the error says so.
func TestRolloutTimeout(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	for _, strategy := range []delivery.Strategy{delivery.Direct, delivery.BlueGreen} {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			project, ns := namespace(t, cs, "dev")
			vals := values(project, "dev", "carts", delivery.KindDirect, carts0111)
			vals["nodeSelector"] = map[string]any{"tend.test/nowhere": "true"}
			_, err := d.Deploy(context.Background(), delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: storedChart(t, "testdata/timeout"), Strategy: strategy, Values: vals, Timeout: 3 * time.Second})
			var re *delivery.RolloutError
			if !errors.As(err, &re) {
				t.Fatalf("Deploy = %v, want a *delivery.RolloutError", err)
			}
			for _, want := range []string{"deployment carts in " + ns + ": 0 of 1 replicas ready after 3s", "pod carts-", "Unschedulable", "node affinity/selector"} {
				if !strings.Contains(re.Reason, want) {
					t.Errorf("reason %q does not say %q", re.Reason, want)
				}
			}
		})
	}
}

// TestPendingRecovery: a release left pending by a process killed mid-way
// does not block the next deployment or release. A first install killed
// mid-way leaves revision 1 pending-install; an upgrade or a rollback
// leaves the deployed revision and a pending one above it.
func TestPendingRecovery(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	for _, pending := range []rcommon.Status{rcommon.StatusPendingInstall, rcommon.StatusPendingUpgrade, rcommon.StatusPendingRollback} {
		for _, strategy := range []delivery.Strategy{delivery.Direct, delivery.BlueGreen} {
			t.Run(string(pending)+"/"+string(strategy), func(t *testing.T) {
				t.Parallel()
				project, ns := namespace(t, cs, "staging")
				req := delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: keptnChart(t, "0.11.0/onboarding-carts/carts.tgz"), Strategy: strategy, Values: values(project, "staging", "carts", delivery.KindCanary, carts0111), Timeout: time.Minute}
				mustDeploy(t, d, req)
				name := delivery.ReleaseName(ns, "carts")
				interrupted := leavePending(t, cs, ns, name, pending)
				if strategy == delivery.BlueGreen {
					leavePending(t, cs, ns, delivery.PrimaryReleaseName(ns, "carts"), pending)
				}
				req.Values = values(project, "staging", "carts", delivery.KindCanary, carts0112)
				res := mustDeploy(t, d, req)
				if res.Image != carts0112 || res.Revision != interrupted+1 {
					t.Errorf("Deploy after a pending release answered %+v, want %s at revision %d", res, carts0112, interrupted+1)
				}
				if st, rev := releaseStatus(t, cs, ns, name); st != rcommon.StatusDeployed || rev != interrupted+1 {
					t.Errorf("release is %s at revision %d, want deployed at %d", st, rev, interrupted+1)
				}
				r, err := releases(cs, ns).Get(name, interrupted)
				if err != nil {
					t.Fatal(err)
				}
				// Recovered as failed; Helm supersedes a failed first
				// install when it upgrades from it.
				want := rcommon.StatusFailed
				if pending == rcommon.StatusPendingInstall {
					want = rcommon.StatusSuperseded
				}
				if st := r.(*release.Release).Info.Status; st != want {
					t.Errorf("the interrupted revision is %s, want %s", st, want)
				}
				checkState(t, cs, ns, "carts", deploymentState{Image: carts0112, Replicas: 1, Ready: 1, Selector: "app=carts"})
				if strategy == delivery.BlueGreen {
					if _, err := d.Release(context.Background(), delivery.ReleaseRequest{Target: req.Target, Timeout: time.Minute}); err != nil {
						t.Fatalf("Release after a pending primary: %v", err)
					}
					checkState(t, cs, ns, "carts-primary", deploymentState{Image: carts0112, Replicas: 1, Ready: 1, Selector: "app=carts-primary"})
					if st, _ := releaseStatus(t, cs, ns, delivery.PrimaryReleaseName(ns, "carts")); st != rcommon.StatusDeployed {
						t.Errorf("primary release is %s, want deployed", st)
					}
				}
			})
		}
	}
}

// leavePending writes what a process killed mid-operation leaves in
// Helm's storage and returns the pending revision: the first revision
// itself for an install, a new revision above the deployed one for an
// upgrade or a rollback.
func leavePending(t testing.TB, cs kubernetes.Interface, ns, name string, st rcommon.Status) int {
	t.Helper()
	s := releases(cs, ns)
	r, err := s.Last(name)
	if err != nil {
		t.Fatalf("release %s: %v", name, err)
	}
	rel := r.(*release.Release)
	if st == rcommon.StatusPendingInstall {
		rel.SetStatus(st, "Initial install underway")
		if err := s.Update(rel); err != nil {
			t.Fatalf("update release %s: %v", name, err)
		}
		return rel.Version
	}
	next := *rel
	info := *rel.Info
	next.Info = &info
	next.Version++
	next.SetStatus(st, "interrupted by the test")
	if err := s.Create(&next); err != nil {
		t.Fatalf("create release %s revision %d: %v", name, next.Version, err)
	}
	return next.Version
}

// TestBadCharts: charts that cannot be rendered or applied fail the task
// with a reason; nothing is retried.
func TestBadCharts(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	tests := []struct {
		name     string
		chart    []byte
		strategy delivery.Strategy
		want     []string
	}{
		{"template error", storedChart(t, "testdata/badtemplate"), delivery.Direct, []string{"install release", "deployment.yaml", "scaling"}},
		{"invalid manifest", storedChart(t, "testdata/badmanifest"), delivery.Direct, []string{"install release", "replicas"}},
		{"dependency not vendored", storedChart(t, "testdata/needsdep"), delivery.Direct, []string{"mongodb", "missing in its charts/ folder", "tend downloads no dependencies"}},
		{"blue/green without a deployment", storedChart(t, "testdata/nodeploy"), delivery.BlueGreen, []string{"cannot be deployed blue/green", "renders no Deployment"}},
		{"not a chart", []byte("not a chart"), delivery.Direct, []string{"chart helm/carts.tgz", "not gzip-compressed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			project, ns := namespace(t, cs, "dev")
			_, err := d.Deploy(context.Background(), delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: tc.chart, Strategy: tc.strategy, Values: values(project, "dev", "carts", delivery.KindDirect, carts0111), Timeout: 30 * time.Second})
			var re *delivery.RolloutError
			if !errors.As(err, &re) {
				t.Fatalf("Deploy = %v, want a *delivery.RolloutError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(re.Reason, w) {
					t.Errorf("reason %q does not say %q", re.Reason, w)
				}
			}
		})
	}
}

// TestUnreachable: a cluster that does not answer is a passing trouble,
// not a failed task.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	d, err := New(&rest.Config{Host: "http://127.0.0.1:1", Timeout: 2 * time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := storedChart(t, "testdata/timeout")
	target := delivery.Target{Namespace: "sockshop-dev", Service: "carts"}
	_, err = d.Deploy(context.Background(), delivery.DeployRequest{Target: target, Chart: ch, Strategy: delivery.Direct, Timeout: time.Second})
	if err == nil || delivery.IsRolloutError(err) {
		t.Errorf("Deploy = %v, want a plain error", err)
	}
	_, err = d.Deploy(context.Background(), delivery.DeployRequest{Target: target, Chart: ch, Strategy: "canary"})
	if !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), `deploymentstrategy "canary"`) {
		t.Errorf("Deploy with an unknown strategy = %v, want a RolloutError naming it", err)
	}
	for name, f := range map[string]func(context.Context, delivery.ReleaseRequest) (delivery.Deployed, error){"Release": d.Release, "Rollback": d.Rollback} {
		if _, err := f(context.Background(), delivery.ReleaseRequest{Target: target}); err == nil || delivery.IsRolloutError(err) {
			t.Errorf("%s = %v, want a plain error", name, err)
		}
	}
}
