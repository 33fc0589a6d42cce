// Package cluster checks the test cluster of scripts/kube-cluster.sh the
// way Keptn's tutorial sees a real one: a Deployment gets a ReplicaSet and
// Pods, the Pods are scheduled onto kwok's fake node and become Ready, the
// Deployment reports its ready replicas, and kubectl prints what the seed
// tutorial prints for namespace sockshop-production.
package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/tendhq/tend/internal/testenv"
)

const (
	namespace = "sockshop-production"
	image     = "docker.io/keptnexamples/carts:0.11.1"
)

func TestDeploymentsBecomeReady(t *testing.T) {
	kubeconfig := testenv.KubeconfigPath(t)
	kubectl := testenv.KubectlPath(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("read %s: %v", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client for %s: %v", cfg.Host, err)
	}
	freshNamespace(t, cs, namespace)

	createDeployment(t, cs, "carts-primary", 1)
	createDeployment(t, cs, "carts", 0)
	waitReady(t, cs, "carts-primary", 1)
	waitReady(t, cs, "carts", 0)
	checkPodsOnFakeNode(t, cs, "carts-primary", 1)
	checkKubectl(t, kubectl, kubeconfig, map[string]string{"carts": "0/0", "carts-primary": "1/1"})

	// As tend's scaling does: through the scale subresource, reading it
	// again when the controllers wrote the Deployment in between.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := cs.AppsV1().Deployments(namespace).GetScale(ctx, "carts-primary", metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 2
		_, err = cs.AppsV1().Deployments(namespace).UpdateScale(ctx, "carts-primary", scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scale carts-primary to 2: %v", err)
	}
	waitReady(t, cs, "carts-primary", 2)
	checkPodsOnFakeNode(t, cs, "carts-primary", 2)
	checkKubectl(t, kubectl, kubeconfig, map[string]string{"carts": "0/0", "carts-primary": "2/2"})
}

// freshNamespace creates namespace ns, first deleting one left by an
// earlier run against the same cluster, and deletes it when the test ends
// (the namespace controller empties and removes it).
func freshNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete namespace %s left by an earlier run: %v", ns, err)
	}
	if err == nil {
		testenv.WaitFor(t, 2*time.Minute, 250*time.Millisecond, "namespace "+ns+" of an earlier run to go", func() (bool, string) {
			_, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
}

func createDeployment(t *testing.T, cs kubernetes.Interface, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "carts",
					Image: image,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
}

// waitReady waits until Deployment name has observed its latest spec and
// reports want replicas, all of them ready and up to date.
func waitReady(t *testing.T, cs kubernetes.Interface, name string, want int32) {
	t.Helper()
	testenv.WaitFor(t, 2*time.Minute, 100*time.Millisecond, fmt.Sprintf("deployment %s to have %d ready replicas", name, want), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := d.Status
		ok := s.ObservedGeneration >= d.Generation && s.Replicas == want && s.ReadyReplicas == want && s.UpdatedReplicas == want
		return ok, fmt.Sprintf("generation %d observed %d, replicas %d, ready %d, updated %d", d.Generation, s.ObservedGeneration, s.Replicas, s.ReadyReplicas, s.UpdatedReplicas)
	})
}

// checkPodsOnFakeNode checks that Deployment name has want Pods, each
// scheduled onto kwok's node, Running and Ready.
func checkPodsOnFakeNode(t *testing.T, cs kubernetes.Interface, name string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatalf("list pods of %s: %v", name, err)
	}
	var running []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if p.Spec.NodeName != "kwok-node-0" || p.Status.Phase != corev1.PodRunning || !ready {
			t.Errorf("pod %s: node %q, phase %s, ready %v; want kwok-node-0, Running, ready", p.Name, p.Spec.NodeName, p.Status.Phase, ready)
		}
		running = append(running, p.Name)
	}
	if len(running) != want {
		t.Errorf("deployment %s has pods %v, want %d", name, running, want)
	}
}

// checkKubectl runs kubectl get deployments -o wide in the namespace and
// checks that each Deployment of want shows its READY column and the image.
func checkKubectl(t *testing.T, kubectl, kubeconfig string, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "deployments", "-n", namespace, "-o", "wide").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get deployments: %v\n%s", err, out)
	}
	t.Logf("kubectl get deployments -n %s -o wide:\n%s", namespace, out)
	for name, ready := range want {
		// NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(ready) + `\s.*\s` + regexp.QuoteMeta(image) + `\s`)
		if !re.Match(out) {
			t.Errorf("kubectl shows no line %q with READY %s and image %s", name, ready, image)
		}
	}
	if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != len(want) {
		t.Errorf("kubectl shows %d deployments, want %d", lines, len(want))
	}
}
