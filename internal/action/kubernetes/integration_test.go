package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/testenv"
)

// These tests run against the test cluster of scripts/kube-cluster.sh,
// which all tests share, so each test uses a project name of its own:
// "sockshop-<random>", stage "production", service "carts", which puts
// Deployment carts-primary in namespace sockshop-<random>-production.

// realCluster returns an admin client of the test cluster, built by
// NewClientset from the test kubeconfig.
func realCluster(t testing.TB) (kubernetes.Interface, string) {
	t.Helper()
	path := testenv.KubeconfigPath(t)
	cs, err := NewClientset(path)
	if err != nil {
		t.Fatalf("NewClientset(%s): %v", path, err)
	}
	return cs, path
}

// sockshop creates the namespace of a fresh project's production stage and
// returns the request that scales its service carts.
func sockshop(t testing.TB, cs kubernetes.Interface, value any) (action.Request, string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	req := action.Request{Key: "test/" + t.Name(), Project: "sockshop-" + hex.EncodeToString(b), Stage: "production", Service: "carts", Action: "scaling", Value: value}
	ns := req.Project + "-" + req.Stage
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	return req, ns
}

// createDeployment creates a Deployment with replicas; its pods (kwok's,
// running nothing) do not matter to the scale subresource.
func createDeployment(t testing.TB, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
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
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
}

func getDeployment(t testing.TB, cs kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, name, err)
	}
	return d
}

func TestIntegrationScaleDeployment(t *testing.T) {
	cs, _ := realCluster(t)
	ctx := context.Background()
	req, ns := sockshop(t, cs, "+1")
	createDeployment(t, cs, ns, "carts-primary", 1)
	createDeployment(t, cs, ns, "carts", 1)
	e := New(cs, Options{})

	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := action.Change{Target: "deployment/" + ns + "/carts-primary replicas", From: "1", To: "2"}
	if len(plan.Changes) != 1 || plan.Changes[0] != want {
		t.Fatalf("changes = %+v, want %+v", plan.Changes, want)
	}
	if _, err := e.Apply(ctx, req, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	after := getDeployment(t, cs, ns, "carts-primary")
	if *after.Spec.Replicas != 2 {
		t.Fatalf("spec.replicas after Apply = %d, want 2", *after.Spec.Replicas)
	}

	// The replay reads 2, writes nothing, and leaves the object as it was.
	res, err := e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	again := getDeployment(t, cs, ns, "carts-primary")
	// The generation, not the resourceVersion: the controllers keep
	// writing the Deployment's status.
	if *again.Spec.Replicas != 2 || again.Generation != after.Generation {
		t.Errorf("second Apply: replicas %d, generation %d -> %d; want 2 and no write", *again.Spec.Replicas, after.Generation, again.Generation)
	}
	if !strings.Contains(res.Message, "already done") {
		t.Errorf("second Apply message = %q", res.Message)
	}
	if r := *getDeployment(t, cs, ns, "carts").Spec.Replicas; r != 1 {
		t.Errorf("the canary deployment carts changed to %d replicas", r)
	}

	// A new action starts from the new state: 2 -> 3.
	plan, err = e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare again: %v", err)
	}
	if c := plan.Changes[0]; c.From != "2" || c.To != "3" {
		t.Errorf("second action plans %s -> %s, want 2 -> 3", c.From, c.To)
	}
}

func TestIntegrationFallbackAndLimit(t *testing.T) {
	cs, _ := realCluster(t)
	ctx := context.Background()
	req, ns := sockshop(t, cs, "+5")
	createDeployment(t, cs, ns, "carts", 2)
	e := New(cs, Options{Target: func(context.Context, action.Request) (Target, error) { return Target{MaxReplicas: 4}, nil }})

	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if _, err := e.Apply(ctx, req, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if r := *getDeployment(t, cs, ns, "carts").Spec.Replicas; r != 4 {
		t.Fatalf("replicas = %d, want 4 (2 + 5 clamped to the limit)", r)
	}
	_, err = e.Prepare(ctx, req)
	if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "already at the limit of 4 replicas") {
		t.Fatalf("Prepare at the limit = %v", err)
	}
}

func TestIntegrationHPA(t *testing.T) {
	cs, _ := realCluster(t)
	ctx := context.Background()
	req, ns := sockshop(t, cs, "+1")
	createDeployment(t, cs, ns, "carts-primary", 1)
	one := int32(1)
	cpu := int32(80)
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "carts", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "carts-primary"},
			MinReplicas:    &one,
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &cpu},
				},
			}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, h, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create HPA: %v", err)
	}
	e := New(cs, Options{})
	minOf := func() int32 {
		t.Helper()
		got, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "carts", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get HPA: %v", err)
		}
		return *got.Spec.MinReplicas
	}

	for _, want := range []int32{2, 3} {
		plan, err := e.Prepare(ctx, req)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if d := planOf(t, plan); !d.ViaHPA || d.HPA != "carts" || d.To != want {
			t.Fatalf("plan = %+v, want minReplicas %d via HPA carts", d, want)
		}
		for i := 0; i < 2; i++ {
			if _, err := e.Apply(ctx, req, plan); err != nil {
				t.Fatalf("Apply: %v", err)
			}
		}
		if got := minOf(); got != want {
			t.Fatalf("HPA minReplicas = %d, want %d", got, want)
		}
	}
	if r := *getDeployment(t, cs, ns, "carts-primary").Spec.Replicas; r != 1 {
		t.Errorf("deployment scaled directly to %d; the HPA owns its replicas", r)
	}
	_, err := e.Prepare(ctx, req)
	if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "already at the maxReplicas of HPA "+ns+"/carts of 3 replicas") {
		t.Fatalf("Prepare beyond maxReplicas = %v", err)
	}
}

func TestIntegrationRBAC(t *testing.T) {
	cs, path := realCluster(t)
	ctx := context.Background()
	req, ns := sockshop(t, cs, "+1")
	createDeployment(t, cs, ns, "carts-primary", 1)

	// A service account that may read the scale and list HPAs, but not
	// change anything.
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tend"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account: %v", err)
	}
	expiry := int64(600)
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "tend", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service account token: %v", err)
	}
	cfg, err := RESTConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	saCfg := rest.AnonymousClientConfig(cfg)
	saCfg.BearerToken = tok.Status.Token
	sa, err := kubernetes.NewForConfig(saCfg)
	if err != nil {
		t.Fatal(err)
	}
	e := New(sa, Options{})

	_, err = e.Prepare(ctx, req)
	if !errors.Is(err, action.ErrInvalid) || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "kubernetes forbids get on deployments/scale ("+ns+"/carts-primary)") {
		t.Fatalf("Prepare without any role = %v, want a final Forbidden error naming get on deployments/scale", err)
	}

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "tend-read", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get"}},
			{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"list"}},
		},
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tend-read", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tend-read"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tend", Namespace: ns}},
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role binding: %v", err)
	}

	// RBAC changes reach the authorizer through an informer, so wait
	// until the role is in effect.
	var plan action.Plan
	deadline := time.Now().Add(30 * time.Second)
	for {
		plan, err = e.Prepare(ctx, req)
		if err == nil || !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Prepare with get on deployments/scale: %v", err)
	}
	_, err = e.Apply(ctx, req, plan)
	if !errors.Is(err, action.ErrInvalid) || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `grant tend's service account "update" on "deployments/scale"`) {
		t.Fatalf("Apply without update = %v, want a final Forbidden error naming update on deployments/scale", err)
	}
	if r := *getDeployment(t, cs, ns, "carts-primary").Spec.Replicas; r != 1 {
		t.Errorf("replicas = %d after a forbidden Apply", r)
	}
}

// TestIntegrationChangedSincePlan: a plan 1 -> 2 is recorded, someone
// scales the Deployment to 5, and the replayed Apply reports a conflict and
// leaves 5 alone.
func TestIntegrationChangedSincePlan(t *testing.T) {
	cs, _ := realCluster(t)
	ctx := context.Background()
	req, ns := sockshop(t, cs, "+1")
	createDeployment(t, cs, ns, "carts-primary", 1)
	e := New(cs, Options{})
	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	// The controllers write the Deployment's status meanwhile: read and
	// write again on a conflict, as kubectl does.
	five := int32(5)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := getDeployment(t, cs, ns, "carts-primary")
		d.Spec.Replicas = &five
		_, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatalf("scale to 5 by hand: %v", err)
	}
	before := getDeployment(t, cs, ns, "carts-primary")

	_, err = e.Apply(ctx, req, plan)
	var ce *action.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, action.ErrConflict) || ce.Found != "5" {
		t.Fatalf("Apply after a change = %v, want an *action.ConflictError finding 5", err)
	}
	after := getDeployment(t, cs, ns, "carts-primary")
	if *after.Spec.Replicas != 5 || after.Generation != before.Generation {
		t.Errorf("after the conflicting Apply: replicas %d, generation %d -> %d; want 5 and no write", *after.Spec.Replicas, before.Generation, after.Generation)
	}
}
