package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/util/retry"

	kube "github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/testenv"
)

// deployment returns a carts Deployment as a blue/green deployer leaves
// it: named name, its Pods labelled app: name, running image, with ready
// ready replicas (status as the controllers would report it).
func deployment(ns, name, image string, replicas, ready int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "carts", Image: image}}},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: ready, ReadyReplicas: ready},
	}
}

// service returns Service carts selecting app: target.
func service(ns, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "carts", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": target}},
	}
}

func TestImageTag(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"docker.io/keptnexamples/carts:0.11.1", "0.11.1"},
		{"keptnexamples/carts", "latest"},
		{"registry.local:5000/carts", "latest"},
		{"registry.local:5000/carts:0.11.2", "0.11.2"},
		{"carts:0.11.2@sha256:0123abcd", "0.11.2"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := ImageTag(tt.ref); got != tt.want {
				t.Errorf("ImageTag(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestServing(t *testing.T) {
	const ns = "sockshop-staging"
	primary := deployment(ns, "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 1, 1)
	canary := deployment(ns, "carts", "docker.io/keptnexamples/carts:0.11.2", 1, 1)
	scaledDown := deployment(ns, "carts", "docker.io/keptnexamples/carts:0.11.2", 0, 0)
	both := service(ns, "carts-primary")
	both.Spec.Selector = map[string]string{}
	shared := func(d *appsv1.Deployment) *appsv1.Deployment {
		d = d.DeepCopy()
		d.Spec.Template.Labels["tier"] = "carts"
		return d
	}
	split := service(ns, "")
	split.Spec.Selector = map[string]string{"tier": "carts"}
	tests := []struct {
		name string
		svc  *corev1.Service
		deps []*appsv1.Deployment
		want Release
	}{
		{"no Service yet", nil, []*appsv1.Deployment{primary}, Release{Reason: "no Service"}},
		{"traffic on the primary", service(ns, "carts-primary"), []*appsv1.Deployment{canary, primary},
			Release{Deployments: []string{"carts-primary"}, Image: "docker.io/keptnexamples/carts:0.11.1", Version: "0.11.1", Ready: 1}},
		{"traffic on the canary", service(ns, "carts"), []*appsv1.Deployment{canary, primary},
			Release{Deployments: []string{"carts"}, Image: "docker.io/keptnexamples/carts:0.11.2", Version: "0.11.2", Ready: 1}},
		{"selected but scaled to zero", service(ns, "carts"), []*appsv1.Deployment{scaledDown, primary},
			Release{Deployments: []string{"carts"}, Image: "docker.io/keptnexamples/carts:0.11.2", Version: "0.11.2", Reason: "no ready replicas"}},
		{"selector matches nothing", service(ns, "carts-old"), []*appsv1.Deployment{canary, primary},
			Release{Reason: "no Deployment matches the selector of Service carts"}},
		{"empty selector", both, []*appsv1.Deployment{primary}, Release{Reason: "Service carts selects nothing"}},
		{"split traffic adds up, the larger one's version", split,
			[]*appsv1.Deployment{shared(canary), shared(deployment(ns, "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 2, 2))},
			Release{Deployments: []string{"carts", "carts-primary"}, Image: "docker.io/keptnexamples/carts:0.11.1", Version: "0.11.1", Ready: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Serving(tt.svc, tt.deps, "carts")
			if !sameRelease(got, tt.want) {
				t.Errorf("Serving = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDeploymentRelease(t *testing.T) {
	d := deployment("shop", "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 3, 2)
	want := Release{Deployments: []string{"carts-primary"}, Image: "docker.io/keptnexamples/carts:0.11.1", Version: "0.11.1", Ready: 2}
	if got := DeploymentRelease(d, "carts"); !sameRelease(got, want) {
		t.Errorf("DeploymentRelease = %+v, want %+v", got, want)
	}
	if got := DeploymentRelease(nil, "carts"); got.Serves() || got.Reason != "no Deployment" {
		t.Errorf("DeploymentRelease(nil) = %+v, want nothing serving", got)
	}
}

// releases records what a Follower reports.
type releases struct {
	mu   sync.Mutex
	seen []Release
}

func (r *releases) set(rel Release) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, rel)
}

func (r *releases) last() (Release, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return Release{}, false
	}
	return r.seen[len(r.seen)-1], true
}

// TestFollowerFollowsABlueGreenDelivery plays a blue/green delivery on the
// fake clientset (as the deployer writes it) and checks each state the
// follower reports: nothing, the canary, the primary after the release,
// and the primary scaled up.
func TestFollowerFollowsABlueGreenDelivery(t *testing.T) {
	const ns = "sockshop-production"
	cs := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{Client: cs, Namespace: ns, Service: "carts", Container: "carts"}
	if err := f.Check(ctx); err != nil {
		t.Fatal(err)
	}
	var got releases
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, got.set) }()
	t.Cleanup(func() { cancel(); <-done })

	await := func(what string, want Release) {
		t.Helper()
		waitFor(t, 10*time.Second, what, func() bool {
			r, ok := got.last()
			return ok && sameRelease(r, want)
		})
	}
	await("nothing deployed", Release{Reason: "no Service"})

	deps := cs.AppsV1().Deployments(ns)
	canary := deployment(ns, "carts", "docker.io/keptnexamples/carts:0.11.1", 1, 1)
	mustCreate(t, func() error { _, err := deps.Create(ctx, canary, metav1.CreateOptions{}); return err })
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Services(ns).Create(ctx, service(ns, "carts"), metav1.CreateOptions{})
		return err
	})
	await("the canary", Release{Deployments: []string{"carts"}, Image: canary.Spec.Template.Spec.Containers[0].Image, Version: "0.11.1", Ready: 1})

	// Release: the primary gets the version, traffic goes to it, the
	// canary scales to 0.
	primary := deployment(ns, "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 1, 1)
	mustCreate(t, func() error { _, err := deps.Create(ctx, primary, metav1.CreateOptions{}); return err })
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Services(ns).Update(ctx, service(ns, "carts-primary"), metav1.UpdateOptions{})
		return err
	})
	scaled := deployment(ns, "carts", "docker.io/keptnexamples/carts:0.11.1", 0, 0)
	mustCreate(t, func() error { _, err := deps.Update(ctx, scaled, metav1.UpdateOptions{}); return err })
	await("the primary", Release{Deployments: []string{"carts-primary"}, Image: primary.Spec.Template.Spec.Containers[0].Image, Version: "0.11.1", Ready: 1})

	// Scaling up carts-primary raises the capacity once the replica is
	// ready.
	up := deployment(ns, "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 2, 2)
	mustCreate(t, func() error { _, err := deps.Update(ctx, up, metav1.UpdateOptions{}); return err })
	await("2 ready replicas", Release{Deployments: []string{"carts-primary"}, Image: up.Spec.Template.Spec.Containers[0].Image, Version: "0.11.1", Ready: 2})
}

func mustCreate(t testing.TB, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
}

// TestServiceFollowsTheRelease checks what the carts service does with a
// release: a slow version adds SlowLatency, no ready replica answers 503,
// the ready replicas are the model's, and GET /release shows it.
func TestServiceFollowsTheRelease(t *testing.T) {
	m := Model{BaseLatency: 100 * time.Millisecond, CapacityPerReplica: 1000}
	svc, srv, reg := newTestService(t, Options{Model: &m, SlowLatency: 3 * time.Second})
	svc.Follow("Kubernetes Service sockshop-staging/carts")
	if status, body := call(t, "GET", srv.URL+"/carts/1", ""); status != 503 || !strings.Contains(body, "not been read yet") {
		t.Errorf("before the first release: %d %s, want 503", status, body)
	}
	p90 := func() float64 {
		t.Helper()
		fam := findFamily(t, reg, "http_response_time_milliseconds")
		var worst float64
		for _, mt := range fam.GetMetric() {
			if labels(mt)["status"] == "200" && mt.GetHistogram().GetSampleCount() > 0 {
				worst = max(worst, mt.GetHistogram().GetSampleSum()/float64(mt.GetHistogram().GetSampleCount()))
			}
		}
		return worst
	}

	svc.SetRelease(Release{Deployments: []string{"carts-primary"}, Image: "carts:0.11.1", Version: "0.11.1", Ready: 2})
	if status, body := call(t, "GET", srv.URL+"/carts/1", ""); status != 200 {
		t.Fatalf("0.11.1: %d %s", status, body)
	}
	if got := p90(); got >= 1000 {
		t.Errorf("0.11.1 recorded a mean of %.0f ms, want about 100", got)
	}
	if got := svc.Replicas(); got != 2 {
		t.Errorf("replicas %d, want the release's 2 ready", got)
	}
	status, body := call(t, "GET", srv.URL+"/release", "")
	var rel Release
	if err := json.Unmarshal([]byte(body), &rel); status != 200 || err != nil || rel.Version != "0.11.1" || rel.Ready != 2 || !slices.Equal(rel.Deployments, []string{"carts-primary"}) {
		t.Errorf("GET /release = %d %s (%v)", status, body, err)
	}

	svc.SetRelease(Release{Deployments: []string{"carts"}, Image: "carts:0.11.2", Version: "0.11.2", Ready: 1})
	if status, body := call(t, "GET", srv.URL+"/carts/2/items", ""); status != 200 {
		t.Fatalf("0.11.2: %d %s", status, body)
	}
	if got := p90(); got < 3000 {
		t.Errorf("0.11.2 recorded at most %.0f ms, want at least the slow version's 3000", got)
	}
	if v := findFamily(t, reg, "carts_slow_version").GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("carts_slow_version = %v, want 1", v)
	}

	svc.SetRelease(Release{Deployments: []string{"carts"}, Image: "carts:0.11.2", Version: "0.11.2", Reason: "no ready replicas"})
	if status, body := call(t, "GET", srv.URL+"/carts/1", ""); status != 503 || !strings.Contains(body, "0 ready") {
		t.Errorf("no ready replicas: %d %s, want 503 saying so", status, body)
	}
	if status, body := call(t, "PUT", srv.URL+"/scale", `{"replicas": 3}`); status != 409 || !strings.Contains(body, "sockshop-staging/carts") {
		t.Errorf("PUT /scale while following = %d %s, want 409 naming the Service", status, body)
	}
}

// TestRunCartsFollowsARealCluster runs the service as `tend demo carts
// --kubeconfig --namespace` does against the test cluster: it creates the
// carts chart's shape (Service carts selecting carts-primary), waits for
// the controllers and kwok to make the replica ready, scales carts-primary
// through its scale subresource (as tend's scaling action does) and
// checks that the service follows its version and ready replicas.
func TestRunCartsFollowsARealCluster(t *testing.T) {
	path := testenv.KubeconfigPath(t)
	cs, err := kube.NewClientset(path)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "sockshop-" + hex.EncodeToString(b) + "-production"
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	base := startCarts(t, CartsConfig{Kubeconfig: path, Namespace: ns})
	release := func() Release {
		t.Helper()
		_, body := call(t, "GET", base+"/release", "")
		var r Release
		_ = json.Unmarshal([]byte(body), &r)
		return r
	}
	if status, _ := call(t, "GET", base+"/carts/1", ""); status != 503 {
		t.Errorf("before anything is deployed: status %d, want 503", status)
	}

	d := deployment(ns, "carts-primary", "docker.io/keptnexamples/carts:0.11.1", 1, 0)
	d.Status = appsv1.DeploymentStatus{}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	svc := service(ns, "carts-primary")
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	waitFor(t, 60*time.Second, "carts to serve 0.11.1 with 1 ready replica", func() bool {
		r := release()
		return r.Version == "0.11.1" && r.Ready == 1
	})
	if status, body := call(t, "GET", base+"/carts/1", ""); status != 200 {
		t.Errorf("GET /carts/1 once deployed = %d %s, want 200", status, body)
	}
	scale(t, cs, ns, "carts-primary", 2)
	waitFor(t, 60*time.Second, "carts to see 2 ready replicas", func() bool { return release().Ready == 2 })
	if status, body := call(t, "GET", base+"/scale", ""); status != 200 || !strings.Contains(body, `{"replicas":2}`) {
		t.Errorf("GET /scale = %d %s, want the 2 ready replicas", status, body)
	}
}

// scale sets the Deployment's replicas through the scale subresource,
// reading it again when the controllers wrote the Deployment in between.
func scale(t testing.TB, cs kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec = autoscalingv1.ScaleSpec{Replicas: n}
		_, err = cs.AppsV1().Deployments(ns).UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scale deployment %s/%s to %d: %v", ns, name, n, err)
	}
}
