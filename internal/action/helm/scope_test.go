package helm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	release "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/delivery"
)

// fakeScope knows a few kinds, as a cluster's discovery would.
func fakeScope(apiVersion, kind string) (bool, error) {
	switch kind {
	case "Deployment", "Service", "ConfigMap", "Secret", "Job":
		return true, nil
	case "ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition":
		return false, nil
	}
	return false, errUnknownKind
}

func TestCheckScope(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		want []string // "" for no error
	}{
		{"own namespace and none", []string{cartsDeployment, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: sockshop-dev}\n"}, nil},
		{"another namespace", []string{"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: kube-system}\n"},
			[]string{`Secret s (v1) sets metadata.namespace "kube-system"`, "deploys into sockshop-dev only", ".Release.Namespace"}},
		{"cluster-scoped", []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: mine}\n"},
			[]string{"ClusterRoleBinding mine (rbac.authorization.k8s.io/v1) is cluster-scoped", "namespace sockshop-dev"}},
		{"a List smuggles items", []string{"apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems: []\n"},
			[]string{"List l (v1): the cluster serves no kind List in v1"}},
		{"every problem", []string{"apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n"},
			[]string{"Namespace n (v1) is cluster-scoped", `ConfigMap c (v1) sets metadata.namespace "other"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkScope(mustParse(t, tc.docs...), "sockshop-dev", fakeScope)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("checkScope = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkScope = nil, want an error saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("checkScope = %q, does not say %q", err, w)
				}
			}
		})
	}
	discovery := errors.New("discovery down")
	err := checkScope(mustParse(t, cartsDeployment), "ns", func(string, string) (bool, error) { return false, discovery })
	if !errors.Is(err, discovery) {
		t.Errorf("checkScope with discovery failing = %v, want that error", err)
	}
}

// TestPostRenderRefusesOtherNamespaces: the post-renderer sees hooks and
// templates in one stream and refuses the whole of it.
func TestPostRenderRefusesOtherNamespaces(t *testing.T) {
	in := cartsDeployment + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hook\n  namespace: tend\n  annotations: {helm.sh/hook: pre-install}\n"
	for _, blueGreen := range []bool{false, true} {
		pr := &postRender{blueGreen: blueGreen, namespace: "sockshop-dev", scope: fakeScope}
		if _, err := pr.Run(bytes.NewBufferString(in)); err == nil || !strings.Contains(err.Error(), `ConfigMap hook (v1) sets metadata.namespace "tend"`) {
			t.Errorf("blue/green %v: Run = %v, want the hook refused", blueGreen, err)
		}
	}
}

func TestScopedLookup(t *testing.T) {
	var asked []string
	lookup := scopedLookup("sockshop-dev", fakeScope, func(apiVersion, kind, namespace, name string) (map[string]any, error) {
		asked = append(asked, kind+" "+namespace+"/"+name)
		return map[string]any{}, nil
	})
	tests := []struct {
		kind, namespace, want string
	}{
		{"Secret", "sockshop-dev", ""},
		{"Secret", "kube-system", `lookup v1 Secret in namespace "kube-system": a chart may look up objects of its namespace sockshop-dev only`},
		{"Secret", "", `in namespace "": a chart may look up objects of its namespace sockshop-dev only`},
		{"Namespace", "sockshop-dev", "Namespace is cluster-scoped"},
	}
	for _, tc := range tests {
		_, err := lookup("v1", tc.kind, tc.namespace, "x")
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("lookup %s in %q = %v, want %q", tc.kind, tc.namespace, err, tc.want)
		}
	}
	if len(asked) != 1 || asked[0] != "Secret sockshop-dev/x" {
		t.Errorf("the cluster was asked %v, want only Secret sockshop-dev/x", asked)
	}
}

// chartOf packs a chart of templates (and crds) as tend stores it.
func chartOf(t testing.TB, templates, crds map[string]string) []byte {
	t.Helper()
	ch := &chartv2.Chart{Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "carts", Version: "0.1.0"}, Values: map[string]any{}}
	for name, text := range templates {
		ch.Templates = append(ch.Templates, &common.File{Name: "templates/" + name, Data: []byte(text)})
	}
	for name, text := range crds {
		ch.Files = append(ch.Files, &common.File{Name: "crds/" + name, Data: []byte(text)})
	}
	b, err := chart.Archive(ch)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChartScope: on the real cluster, a chart cannot write outside its
// namespace, create cluster-wide objects, or read another namespace.
func TestChartScope(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	ctx := context.Background()
	_, victim := namespace(t, cs, "victim")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: victim}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const secretValue = "s3cr3t-of-another-project"
	if _, err := cs.CoreV1().Secrets(victim).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": secretValue}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployment := strings.ReplaceAll(cartsDeployment, "replicas: 3", "replicas: 1")
	service := strings.Replace(cartsService, "  type: NodePort\n  clusterIP: 10.0.0.12\n", "", 1)
	service = strings.Replace(service, "    nodePort: 30080\n", "", 1)
	crName := "tend-test-" + victim
	tests := []struct {
		name     string
		strategy delivery.Strategy
		chart    []byte
		want     []string
	}{
		{"object in another namespace", delivery.Direct, chartOf(t, map[string]string{
			"deployment.yaml": deployment,
			"cm.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted, namespace: " + victim + "}\n",
		}, nil), []string{`ConfigMap planted (v1) sets metadata.namespace "` + victim + `"`}},
		{"hook in another namespace", delivery.Direct, chartOf(t, map[string]string{
			"deployment.yaml": deployment,
			"hook.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planted\n  namespace: " + victim + "\n  annotations: {helm.sh/hook: pre-install}\n",
		}, nil), []string{`ConfigMap planted (v1) sets metadata.namespace "` + victim + `"`}},
		{"cluster-scoped object", delivery.Direct, chartOf(t, map[string]string{
			"deployment.yaml": deployment,
			"role.yaml":       "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + crName + "}\nrules: []\n",
		}, nil), []string{"ClusterRole " + crName + " (rbac.authorization.k8s.io/v1) is cluster-scoped"}},
		{"crds folder", delivery.Direct, chartOf(t, map[string]string{"deployment.yaml": deployment},
			map[string]string{"crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\n"}),
			[]string{"holds CustomResourceDefinitions (carts/crds/crd.yaml)", "install the CRDs yourself"}},
		{"lookup in another namespace", delivery.Direct, chartOf(t, map[string]string{
			"deployment.yaml": deployment,
			"cm.yaml":         `{{ $s := lookup "v1" "Secret" "` + victim + `" "db" }}{{ fail (toJson $s) }}`,
		}, nil), []string{`lookup v1 Secret in namespace "` + victim + `"`}},
		{"primary in another namespace", delivery.BlueGreen, chartOf(t, map[string]string{
			"deployment.yaml": strings.Replace(deployment, "  name: carts\n", "  name: carts\n{{- if eq .Values.keptn.deployment \"primary\" }}\n  namespace: "+victim+"\n{{- end }}\n", 1),
			"service.yaml":    service,
		}, nil), []string{`Deployment carts (apps/v1) sets metadata.namespace "` + victim + `"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			project, ns := namespace(t, cs, "dev")
			_, err := d.Deploy(ctx, delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: tc.chart, Strategy: tc.strategy,
				Values: values(project, "dev", "carts", delivery.DeployKind(tc.strategy), carts0111), Timeout: 30 * time.Second})
			var re *delivery.RolloutError
			if !errors.As(err, &re) {
				t.Fatalf("Deploy = %v, want a *delivery.RolloutError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(re.Reason, w) {
					t.Errorf("reason %q does not say %q", re.Reason, w)
				}
			}
			if strings.Contains(re.Reason, secretValue) || strings.Contains(re.Reason, "czNjcjN0") {
				t.Errorf("reason %q holds the other namespace's secret", re.Reason)
			}
		})
	}
	cms, err := cs.CoreV1().ConfigMaps(victim).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name == "planted" {
			t.Errorf("configmap planted was created in %s", victim)
		}
	}
	deps, err := cs.AppsV1().Deployments(victim).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) > 0 {
		t.Errorf("deployments in %s: %d, %v; want none", victim, len(deps.Items), err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, crName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		_ = cs.RbacV1().ClusterRoles().Delete(ctx, crName, metav1.DeleteOptions{})
		t.Errorf("clusterrole %s: %v, want not found", crName, err)
	}
}

// TestLookupOwnNamespace: a chart may still look up its own namespace.
func TestLookupOwnNamespace(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	project, ns := namespace(t, cs, "dev")
	deployment := strings.ReplaceAll(cartsDeployment, "replicas: 3", "replicas: 1")
	ch := chartOf(t, map[string]string{
		"deployment.yaml": deployment,
		"cm.yaml":         "{{ $old := lookup \"v1\" \"ConfigMap\" .Release.Namespace \"kept\" }}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {seen: {{ if $old }}\"again\"{{ else }}\"first\"{{ end }}}\n",
	}, nil)
	for _, want := range []string{"first", "again"} {
		mustDeploy(t, d, delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts"}, Chart: ch, Strategy: delivery.Direct,
			Values: values(project, "dev", "carts", delivery.KindDirect, carts0111), Timeout: time.Minute})
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "kept", metav1.GetOptions{})
		if err != nil || cm.Data["seen"] != want {
			t.Errorf("configmap kept: %v, %v; want seen=%s", cm.Data, err, want)
		}
	}
}

// TestNamespaceOwner: <project>-<stage> is not unique (project a, stage
// b-c and project a-b, stage c), so a namespace tend created for one
// project is refused to another.
func TestNamespaceOwner(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	ctx := context.Background()
	owner, ns := namespace(t, cs, "b-c")
	ch := storedChart(t, "testdata/timeout")
	mustDeploy(t, d, delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts", Project: owner}, Chart: ch, Strategy: delivery.Direct,
		Values: values(owner, "b-c", "carts", delivery.KindDirect, carts0111), Timeout: time.Minute})
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || n.Labels[delivery.ProjectLabel] != owner {
		t.Fatalf("namespace %s: labels %v, %v; want %s=%s", ns, n.Labels, err, delivery.ProjectLabel, owner)
	}
	other := owner + "-b"
	target := delivery.Target{Namespace: ns, Service: "orders", Project: other}
	want := "namespace " + ns + " belongs to project " + owner
	_, err = d.Deploy(ctx, delivery.DeployRequest{Target: target, Chart: ch, Strategy: delivery.Direct, Values: values(other, "c", "orders", delivery.KindDirect, carts0111), Timeout: 30 * time.Second})
	if !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("Deploy by project %s = %v, want a RolloutError saying %q", other, err, want)
	}
	for name, f := range map[string]func(context.Context, delivery.ReleaseRequest) (delivery.Deployed, error){"Release": d.Release, "Rollback": d.Rollback} {
		if _, err := f(ctx, delivery.ReleaseRequest{Target: delivery.Target{Namespace: ns, Service: "carts", Project: other}}); !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s by project %s = %v, want a RolloutError saying %q", name, other, err, want)
		}
	}
	if _, err := releases(cs, ns).History(delivery.ReleaseName(ns, "orders")); err == nil {
		t.Errorf("release %s exists", delivery.ReleaseName(ns, "orders"))
	}
}

// TestPrivilegedPodsRefused: a namespace tend creates enforces the
// baseline Pod Security Standard, so a chart cannot run a Pod that
// mounts the node's file system.
func TestHostPathPodsRefused(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	project, ns := namespace(t, cs, "dev")
	privileged := strings.Replace(strings.ReplaceAll(cartsDeployment, "replicas: 3", "replicas: 1"),
		"        image: docker.io/keptnexamples/carts:0.11.1\n",
		"        image: docker.io/keptnexamples/carts:0.11.1\n        volumeMounts: [{name: node, mountPath: /node}]\n      volumes: [{name: node, hostPath: {path: /}}]\n", 1)
	_, err := d.Deploy(context.Background(), delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts", Project: project},
		Chart: chartOf(t, map[string]string{"deployment.yaml": privileged}, nil), Strategy: delivery.Direct,
		Values: values(project, "dev", "carts", delivery.KindDirect, carts0111), Timeout: 10 * time.Second})
	if !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("Deploy of a pod mounting / of the node = %v, want a RolloutError naming PodSecurity", err)
	}
	n, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil || n.Labels["pod-security.kubernetes.io/enforce"] != "baseline" {
		t.Errorf("namespace labels %v, %v; want pod-security enforce=baseline", n.Labels, err)
	}
}

// TestKindOfNewCRD: objects of a CRD created after tend read the
// cluster's kinds are namespaced objects like any other, not unknown.
func TestKindOfNewCRD(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	ctx := context.Background()
	project, ns := namespace(t, cs, "dev")
	deployment := strings.ReplaceAll(cartsDeployment, "replicas: 3", "replicas: 1")
	req := delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts", Project: project}, Strategy: delivery.Direct,
		Values: values(project, "dev", "carts", delivery.KindDirect, carts0111), Timeout: time.Minute}
	req.Chart = chartOf(t, map[string]string{"deployment.yaml": deployment}, nil)
	mustDeploy(t, d, req) // the Deployer has read the cluster's kinds

	group := project + ".example.com"
	dyn, err := dynamic.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + group},
		"spec": map[string]any{"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
	}}
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = crds.Delete(context.Background(), "widgets."+group, metav1.DeleteOptions{}) })
	widgets := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"})
	for i := 0; ; i++ { // until the API server serves the new kind
		if _, err := widgets.Namespace(ns).List(ctx, metav1.ListOptions{}); err == nil {
			break
		} else if i == 300 {
			t.Fatalf("widgets are not served: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	req.Chart = chartOf(t, map[string]string{"deployment.yaml": deployment, "widget.yaml": "apiVersion: " + group + "/v1\nkind: Widget\nmetadata: {name: w}\n"}, nil)
	mustDeploy(t, d, req)
	if _, err := widgets.Namespace(ns).Get(ctx, "w", metav1.GetOptions{}); err != nil {
		t.Errorf("widget w: %v", err)
	}
}

// TestRollbackChecksTheRevision: a revision stored before charts were
// held to their namespace is not applied again by a rollback.
func TestRollbackChecksTheRevision(t *testing.T) {
	t.Parallel()
	d, cs := testCluster(t)
	project, ns := namespace(t, cs, "dev")
	_, victim := namespace(t, cs, "victim")
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: victim}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req := delivery.DeployRequest{Target: delivery.Target{Namespace: ns, Service: "carts", Project: project}, Chart: storedChart(t, "testdata/timeout"),
		Strategy: delivery.Direct, Values: values(project, "dev", "carts", delivery.KindDirect, carts0111), Timeout: time.Minute}
	mustDeploy(t, d, req)
	// Revision 1 as an earlier tend may have stored it.
	s := releases(cs, ns)
	name := delivery.ReleaseName(ns, "carts")
	r, err := s.Get(name, 1)
	if err != nil {
		t.Fatal(err)
	}
	rel := r.(*release.Release)
	rel.Manifest += "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted, namespace: " + victim + "}\n"
	if err := s.Update(rel); err != nil {
		t.Fatal(err)
	}
	req.Values = values(project, "dev", "carts", delivery.KindDirect, carts0112)
	mustDeploy(t, d, req)
	_, err = d.Rollback(context.Background(), delivery.ReleaseRequest{Target: req.Target, Timeout: time.Minute})
	if want := `ConfigMap planted (v1) sets metadata.namespace "` + victim + `"`; !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("Rollback = %v, want a RolloutError saying %q", err, want)
	}
	if _, err := cs.CoreV1().ConfigMaps(victim).Get(context.Background(), "planted", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap planted in %s: %v, want not found", victim, err)
	}
}

// TestReservedNamespaces: Kubernetes' own namespaces and tend's are never
// a target, whatever the project's namespace rules let through.
func TestReservedNamespaces(t *testing.T) {
	t.Parallel()
	_, cs := testCluster(t)
	_, own := namespace(t, cs, "tend") // where tend itself would run
	d, err := New(restConfig(t), Options{ReservedNamespaces: []string{own}})
	if err != nil {
		t.Fatal(err)
	}
	ch := storedChart(t, "testdata/timeout")
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease", own} {
		target := delivery.Target{Namespace: ns, Service: "carts", Project: "kube"}
		_, err := d.Deploy(context.Background(), delivery.DeployRequest{Target: target, Chart: ch, Strategy: delivery.Direct, Timeout: 10 * time.Second})
		if want := "namespace " + ns + " is reserved"; !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("Deploy into %s = %v, want a RolloutError saying %q", ns, err, want)
		}
		for name, f := range map[string]func(context.Context, delivery.ReleaseRequest) (delivery.Deployed, error){"Release": d.Release, "Rollback": d.Rollback} {
			if _, err := f(context.Background(), delivery.ReleaseRequest{Target: target}); !delivery.IsRolloutError(err) || !strings.Contains(err.Error(), "is reserved") {
				t.Errorf("%s in %s = %v, want a RolloutError saying it is reserved", name, ns, err)
			}
		}
	}
	if deps, err := cs.AppsV1().Deployments("kube-public").List(context.Background(), metav1.ListOptions{}); err != nil || len(deps.Items) > 0 {
		t.Errorf("deployments in kube-public: %v, %v; want none", deps, err)
	}
}
