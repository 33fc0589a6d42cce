package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
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

// deployment returns a Deployment of the carts image with replicas (nil
// leaves spec.replicas unset).
func deployment(ns, name string, replicas *int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "carts", Image: "docker.io/keptnexamples/carts:0.13.1"}}},
			},
		},
	}
}

func TestDeploymentReplicasFetch(t *testing.T) {
	three := int32(3)
	tests := []struct {
		name    string
		objects []*appsv1.Deployment
		want    int
		wantErr string
	}{
		{"spec.replicas", []*appsv1.Deployment{deployment("shop", "carts-primary", &three)}, 3, ""},
		{"unset means one", []*appsv1.Deployment{deployment("shop", "carts-primary", nil)}, 1, ""},
		{"missing Deployment", nil, 0, "read replicas of Kubernetes Deployment shop/carts-primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, d := range tt.objects {
				if _, err := cs.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			src := &DeploymentReplicas{Client: cs, Namespace: "shop", Name: "carts-primary"}
			got, err := src.Fetch(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Fetch = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestRunCartsFollowsARealDeployment runs the service as `tend demo carts
// --kubeconfig --namespace --deployment` does against the real
// kube-apiserver, scales the Deployment through its scale subresource (as
// tend's scaling action does) and checks that the service follows.
func TestRunCartsFollowsARealDeployment(t *testing.T) {
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
	one := int32(1)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "carts-primary", &one), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	base := startCarts(t, CartsConfig{Kubeconfig: path, Namespace: ns, Deployment: "carts-primary", KubeInterval: 100 * time.Millisecond})
	if status, body := call(t, "GET", base+"/scale", ""); status != 200 || !strings.Contains(body, `{"replicas":1}`) {
		t.Fatalf("GET /scale = %d %s, want the Deployment's 1", status, body)
	}
	scale(t, cs, ns, "carts-primary", 2)
	waitFor(t, 30*time.Second, "the service seeing 2 replicas", func() bool {
		_, body := call(t, "GET", base+"/scale", "")
		return strings.Contains(body, `{"replicas":2}`)
	})
	if status, body := call(t, "PUT", base+"/scale", `{"replicas": 3}`); status != 409 || !strings.Contains(body, ns+"/carts-primary") {
		t.Errorf("PUT /scale with a Deployment as source = %d %s, want 409 naming it", status, body)
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
