package deploychart

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	tendaction "github.com/tendhq/tend/internal/action"
	scaling "github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/testenv"
)

// releaseName is the name of tend's release in the tests.
const releaseName = "tend"

// install is one install of tend's chart into the test cluster: the
// release's namespace, the namespaces tend delivers to, and clients.
type install struct {
	kubeconfig string
	admin      kubernetes.Interface
	restConfig *rest.Config
	namespace  string // tend's own
	project    string
	staging    string // <project>-staging, delivered to
	production string // <project>-production, delivered to
	extra      string // scaling only (tend.yaml's kubernetes.namespaces)
	sa         string // system:serviceaccount:<namespace>:tend
}

func TestInstallIntoCluster(t *testing.T) {
	in := newInstall(t)
	secretURL := in.databaseSecret(t)
	cfg := map[string]any{
		"uiURL":       "https://tend.example.com",
		"remediation": map[string]any{"limits": map[string]any{"maxReplicas": 7}},
		"kubernetes":  map[string]any{"namespaces": map[string]any{in.project: []any{in.extra}}},
	}
	vals := postgresValues(2, map[string]any{
		"config": cfg,
		"rbac": map[string]any{
			"namespaces":            []any{in.staging, in.production},
			"createNamespaces":      true,
			"scalingOnlyNamespaces": []any{in.extra},
		},
	})
	in.helmInstall(t, vals)

	t.Run("deployment", func(t *testing.T) {
		d := in.waitReady(t, "tend", 2)
		if got := *d.Spec.Replicas; got != 2 {
			t.Errorf("replicas %d, want 2", got)
		}
		checkPodSpec(t, d.Spec.Template.Spec, "tend-db", "url")
		if want := "ghcr.io/tendhq/tend:" + loadChart(t).Metadata.AppVersion; d.Spec.Template.Spec.Containers[0].Image != want {
			t.Errorf("image %s, want %s", d.Spec.Template.Spec.Containers[0].Image, want)
		}
		if sum := d.Spec.Template.Annotations["checksum/config"]; !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
			t.Errorf("checksum/config is %q, want a SHA-256", sum)
		}
		if d.Spec.Template.Spec.ServiceAccountName != "tend" {
			t.Errorf("service account %q, want tend", d.Spec.Template.Spec.ServiceAccountName)
		}
		pods := in.pods(t, d)
		if len(pods) != 2 {
			t.Fatalf("%d pods, want 2", len(pods))
		}
		for _, p := range pods {
			if !podReady(p) || p.Spec.NodeName == "" {
				t.Errorf("pod %s: phase %s, node %q, ready %v; want Running and Ready on kwok's node", p.Name, p.Status.Phase, p.Spec.NodeName, podReady(p))
			}
		}
	})

	t.Run("database secret", func(t *testing.T) {
		// The Pods read the URL from the Secret the operator made; the
		// chart's objects hold it nowhere.
		if strings.Contains(in.manifest(t), secretURL) {
			t.Fatal("the release's manifest holds the database URL")
		}
	})

	t.Run("config", func(t *testing.T) {
		cm, err := in.admin.CoreV1().ConfigMaps(in.namespace).Get(ctx(t), "tend", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data := cm.Data["tend.yaml"]
		want, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !sameYAML(t, data, string(want)) {
			t.Errorf("tend.yaml is\n%s\nwant the values' config\n%s", data, want)
		}
		c := parseConfig(t, data)
		if c.Remediation.Limits.MaxReplicas != 7 || c.UIURL != "https://tend.example.com" || !slices.Equal(c.Kubernetes.Namespaces[in.project], []string{in.extra}) {
			t.Errorf("tend.yaml reads as maxReplicas %d, uiURL %q, namespaces %v", c.Remediation.Limits.MaxReplicas, c.UIURL, c.Kubernetes.Namespaces)
		}
	})

	t.Run("service", func(t *testing.T) {
		svc, err := in.admin.CoreV1().Services(in.namespace).Get(ctx(t), "tend", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.String() != "http" {
			t.Errorf("ports %+v, want 8080 to the Pods' http", svc.Spec.Ports)
		}
		d, err := in.admin.AppsV1().Deployments(in.namespace).Get(ctx(t), "tend", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("selector %v does not select the Pods (%v)", svc.Spec.Selector, d.Spec.Template.Labels)
		}
	})

	t.Run("rbac rules", func(t *testing.T) {
		objs := map[string]runtime.Object{}
		for _, ns := range []string{in.staging, in.production} {
			r := in.role(t, ns, "tend")
			objs["Role/"+ns] = r
			if diff := ruleDiff(r.Rules, neededRules()); diff != "" {
				t.Errorf("Role in %s differs from what delivery and scaling need:\n%s", ns, diff)
			}
			in.checkBinding(t, ns, "tend")
		}
		r := in.role(t, in.extra, "tend-scaling")
		objs["Role/"+in.extra] = r
		if diff := ruleDiff(r.Rules, scalingRules()); diff != "" {
			t.Errorf("Role in %s differs from what scaling needs:\n%s", in.extra, diff)
		}
		in.checkBinding(t, in.extra, "tend-scaling")
		cr, err := in.admin.RbacV1().ClusterRoles().Get(ctx(t), in.namespace+"-tend-namespaces", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		objs["ClusterRole/"+cr.Name] = cr
		if diff := ruleDiff(cr.Rules, []rbacv1.PolicyRule{namespaceRule([]string{in.staging, in.production}, "get")}); diff != "" {
			t.Errorf("ClusterRole %s differs from reading the two namespaces:\n%s", cr.Name, diff)
		}
		checkRulesLeastPrivilege(t, objs)
	})

	t.Run("access reviews", func(t *testing.T) {
		type review struct {
			verb, group, resource, sub, ns, name string
		}
		var allowed []review
		for _, ns := range []string{in.staging, in.production} {
			for _, r := range neededRules() {
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						resource, sub, _ := strings.Cut(res, "/")
						for _, v := range r.Verbs {
							allowed = append(allowed, review{v, g, resource, sub, ns, ""})
						}
					}
				}
			}
			allowed = append(allowed, review{"get", "", "namespaces", "", "", ns})
		}
		allowed = append(allowed,
			review{"get", "apps", "deployments", "scale", in.extra, ""},
			review{"update", "apps", "deployments", "scale", in.extra, ""},
			review{"list", "autoscaling", "horizontalpodautoscalers", "", in.extra, ""},
			review{"update", "autoscaling", "horizontalpodautoscalers", "", in.extra, ""},
		)
		denied := []review{
			{"get", "", "secrets", "", "kube-system", ""},
			{"list", "", "secrets", "", "kube-system", ""},
			{"get", "", "secrets", "", in.namespace, "tend-db"}, // tend's own database secret: the kubelet reads it, not tend
			{"delete", "", "namespaces", "", "", in.staging},
			{"create", "", "namespaces", "", "", ""},
			{"update", "", "namespaces", "", "", in.staging},
			{"get", "", "namespaces", "", "", "kube-system"},
			{"create", "apps", "deployments", "", "default", ""},
			{"update", "apps", "deployments", "scale", "default", ""},
			{"create", "apps", "deployments", "", in.extra, ""},
			{"get", "", "secrets", "", in.extra, ""},
			{"create", "", "pods", "exec", in.production, ""},
			{"create", "", "pods", "", in.production, ""},
			{"delete", "", "pods", "", in.production, ""},
			{"create", "rbac.authorization.k8s.io", "roles", "", in.production, ""},
			{"create", "rbac.authorization.k8s.io", "rolebindings", "", in.production, ""},
			{"list", "", "nodes", "", "", ""},
			{"create", "apiextensions.k8s.io", "customresourcedefinitions", "", "", ""},
			{"impersonate", "", "serviceaccounts", "", in.production, ""},
		}
		check := func(r review, want bool) {
			sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
				User:   in.sa,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + in.namespace, "system:authenticated"},
				ResourceAttributes: &authzv1.ResourceAttributes{
					Namespace: r.ns, Verb: r.verb, Group: r.group, Resource: r.resource, Subresource: r.sub, Name: r.name,
				},
			}}
			got, err := in.admin.AuthorizationV1().SubjectAccessReviews().Create(ctx(t), sar, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("review %+v: %v", r, err)
			}
			if got.Status.Allowed != want {
				t.Errorf("%s may %s %s/%s%s %q in namespace %q: %v, want %v (%s)", in.sa, r.verb, r.group, r.resource, slash(r.sub), r.name, r.ns, got.Status.Allowed, want, got.Status.Reason)
			}
		}
		for _, r := range allowed {
			check(r, true)
		}
		for _, r := range denied {
			check(r, false)
		}
	})

	t.Run("scaling as the service account", func(t *testing.T) {
		// tend's real scaling executor, with the ServiceAccount's rights:
		// carts-primary in the project's production stage, then a
		// Deployment in the namespace tend.yaml adds for the project.
		sa := in.clientAs(t)
		for _, ns := range []string{in.production, in.extra} {
			in.createDeployment(t, ns, "carts-primary", 1)
			ex := scaling.New(sa, scaling.Options{Target: func(context.Context, tendaction.Request) (scaling.Target, error) {
				return scaling.Target{Namespace: ns}, nil
			}})
			req := tendaction.Request{Key: "r1/0", Project: in.project, Stage: "production", Service: "carts", Action: scaling.ActionType, Value: "+1"}
			plan, err := ex.Prepare(ctx(t), req)
			if err != nil {
				t.Fatalf("prepare scaling in %s as %s: %v", ns, in.sa, err)
			}
			if _, err := ex.Apply(ctx(t), req, plan); err != nil {
				t.Fatalf("apply scaling in %s as %s: %v", ns, in.sa, err)
			}
			d, err := in.admin.AppsV1().Deployments(ns).Get(ctx(t), "carts-primary", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if *d.Spec.Replicas != 2 {
				t.Errorf("%s/carts-primary has %d replicas after scaling by +1, want 2", ns, *d.Spec.Replicas)
			}
		}
		// A namespace outside the RBAC: the executor's refusal says what to grant.
		ex := scaling.New(sa, scaling.Options{Target: func(context.Context, tendaction.Request) (scaling.Target, error) {
			return scaling.Target{Namespace: "default"}, nil
		}})
		_, err := ex.Prepare(ctx(t), tendaction.Request{Project: in.project, Stage: "production", Service: "carts", Action: scaling.ActionType, Value: "+1"})
		if !errors.Is(err, tendaction.ErrInvalid) || !regexp.MustCompile(`kubernetes forbids get on deployments/scale`).MatchString(err.Error()) {
			t.Errorf("scaling in namespace default: %v, want a final error that kubernetes forbids it", err)
		}
	})

	t.Run("delivery as the service account", func(t *testing.T) {
		in.deliverAs(t, in.staging)
		ch, err := chart.LoadPath("testdata/carts")
		if err != nil {
			t.Fatal(err)
		}

		// Outside the RBAC: tend's own namespace.
		out := action.NewInstall(helmConfig(t, in.kubeconfig, in.namespace, in.sa))
		out.ReleaseName = "carts"
		out.Namespace = in.namespace
		out.WaitStrategy = kube.HookOnlyStrategy
		_, err = out.RunWithContext(ctx(t), ch, nil)
		if err == nil || !apierrors.IsForbidden(errors.Unwrap(err)) && !regexp.MustCompile(`forbidden`).MatchString(err.Error()) {
			t.Errorf("install into tend's own namespace %s as %s: %v, want forbidden", in.namespace, in.sa, err)
		}
	})
}

func TestInstallClusterRoleMode(t *testing.T) {
	in := newInstall(t)
	in.databaseSecret(t)
	in.helmInstall(t, postgresValues(2, nil))
	in.waitReady(t, "tend", 2)

	cr, err := in.admin.RbacV1().ClusterRoles().Get(ctx(t), in.namespace+"-tend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := ruleDiff(cr.Rules, append([]rbacv1.PolicyRule{namespaceRule(nil, "get", "create")}, neededRules()...)); diff != "" {
		t.Errorf("ClusterRole differs from what delivery and scaling need:\n%s", diff)
	}
	checkRulesLeastPrivilege(t, map[string]runtime.Object{"ClusterRole/" + cr.Name: cr})
	for _, c := range []struct {
		verb, group, resource, ns, name string
		want                            bool
	}{
		{"create", "", "namespaces", "", "", true},
		{"get", "", "namespaces", "", in.project + "-dev", true},
		{"update", "apps", "deployments", "", "", true},
		{"delete", "", "namespaces", "", in.namespace, false},
		{"update", "", "namespaces", "", in.namespace, false},
		{"list", "", "nodes", "", "", false},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", false},
		// The trade-off docs/deploy.md states: a ClusterRole that delivers
		// anywhere reads Secrets everywhere.
		{"get", "", "secrets", "kube-system", "", true},
	} {
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               in.sa,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: c.ns, Verb: c.verb, Group: c.group, Resource: c.resource, Name: c.name},
		}}
		got, err := in.admin.AuthorizationV1().SubjectAccessReviews().Create(ctx(t), sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != c.want {
			t.Errorf("%s may %s %s/%s %q in %q: %v, want %v", in.sa, c.verb, c.group, c.resource, c.name, c.ns, got.Status.Allowed, c.want)
		}
	}

	// A stage's namespace that does not exist yet: tend creates it (as
	// the delivery executor does, with a plain create) and delivers there.
	dev := in.project + "-dev"
	if _, err := in.clientAs(t).CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dev}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s as %s: %v", dev, in.sa, err)
	}
	t.Cleanup(func() { in.deleteNamespace(t, dev) })
	in.deliverAs(t, dev)
}

// newInstall prepares namespaces of random names for one install and
// removes everything when the test ends.
func newInstall(t testing.TB) *install {
	t.Helper()
	kubeconfig := testenv.KubeconfigPath(t)
	// Helm's client keeps a discovery cache under $HOME/.kube unless told.
	t.Setenv("KUBECACHEDIR", t.TempDir())
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("read %s: %v", kubeconfig, err)
	}
	// Many access reviews in a row: above client-go's default 5 per second.
	rc.QPS, rc.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	id := randomHex(t, 4)
	in := &install{
		kubeconfig: kubeconfig,
		admin:      cs,
		restConfig: rc,
		namespace:  "tend-" + id,
		project:    "shop" + id,
	}
	in.staging, in.production, in.extra = in.project+"-staging", in.project+"-production", in.project+"-extra"
	in.sa = "system:serviceaccount:" + in.namespace + ":tend"
	for _, ns := range []string{in.namespace, in.extra} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}
	t.Cleanup(func() {
		// The delivery namespaces are kept by Helm (resource policy keep),
		// as an operator's would be; the test removes them itself.
		for _, ns := range []string{in.staging, in.production, in.extra, in.namespace} {
			in.deleteNamespace(t, ns)
		}
	})
	return in
}

// deleteNamespace deletes ns, when it exists; the namespace controller
// empties and removes it in the background.
func (in *install) deleteNamespace(t testing.TB, ns string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.admin.CoreV1().Namespaces().Delete(c, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete namespace %s: %v", ns, err)
	}
}

// databaseSecret creates the Secret tend-db with a PostgreSQL URL made up
// here (no database runs: kwok's Pods run nothing) and returns the URL.
func (in *install) databaseSecret(t testing.TB) string {
	t.Helper()
	url := fmt.Sprintf("postgres://tend:%s@postgres.%s.svc:5432/tend?sslmode=require", randomHex(t, 16), in.namespace)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tend-db"}, StringData: map[string]string{"url": url}}
	if _, err := in.admin.CoreV1().Secrets(in.namespace).Create(ctx(t), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return url
}

// helmInstall installs tend's chart as release "tend", waiting until
// every object is ready, and uninstalls it when the test ends.
func (in *install) helmInstall(t testing.TB, vals map[string]any) {
	t.Helper()
	hc := helmConfig(t, in.kubeconfig, in.namespace, "")
	inst := action.NewInstall(hc)
	inst.ReleaseName = releaseName
	inst.Namespace = in.namespace
	inst.WaitStrategy = kube.StatusWatcherStrategy
	inst.Timeout = 3 * time.Minute
	t.Cleanup(func() {
		un := action.NewUninstall(hc)
		un.WaitStrategy = kube.HookOnlyStrategy
		un.IgnoreNotFound = true
		if _, err := un.Run(releaseName); err != nil {
			t.Errorf("uninstall tend from %s: %v", in.namespace, err)
		}
	})
	if _, err := inst.RunWithContext(ctx(t), loadChart(t), vals); err != nil {
		t.Fatalf("install tend's chart into %s: %v", in.namespace, err)
	}
}

// manifest is what the release "tend" stored as its manifest.
func (in *install) manifest(t testing.TB) string {
	t.Helper()
	get := action.NewGet(helmConfig(t, in.kubeconfig, in.namespace, ""))
	rel, err := get.Run(releaseName)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		t.Fatalf("get returned a %T, not a v1 release", rel)
	}
	return r.Manifest
}

// deliverAs installs a service's chart into ns, upgrades it to a new image
// and two replicas, and uninstalls it, with Helm's SDK and the rights of
// tend's ServiceAccount, waiting for the rollout as the deployment
// executor does.
func (in *install) deliverAs(t testing.TB, ns string) {
	t.Helper()
	ch, err := chart.LoadPath("testdata/carts")
	if err != nil {
		t.Fatal(err)
	}
	hc := helmConfig(t, in.kubeconfig, ns, in.sa)
	inst := action.NewInstall(hc)
	inst.ReleaseName = ns + "-carts"
	inst.Namespace = ns
	inst.WaitStrategy = kube.StatusWatcherStrategy
	inst.Timeout = 2 * time.Minute
	if _, err := inst.RunWithContext(ctx(t), ch, nil); err != nil {
		t.Fatalf("install carts into %s as %s: %v", ns, in.sa, err)
	}
	up := action.NewUpgrade(hc)
	up.Namespace = ns
	up.WaitStrategy = kube.StatusWatcherStrategy
	up.Timeout = 2 * time.Minute
	image := "docker.io/keptnexamples/carts:0.11.2"
	if _, err := up.RunWithContext(ctx(t), inst.ReleaseName, ch, map[string]any{"image": image, "replicas": 2}); err != nil {
		t.Fatalf("upgrade carts in %s as %s: %v", ns, in.sa, err)
	}
	d, err := in.admin.AppsV1().Deployments(ns).Get(ctx(t), "carts", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != image || d.Status.ReadyReplicas != 2 {
		t.Errorf("carts runs %s with %d ready replicas after the upgrade, want %s with 2", got, d.Status.ReadyReplicas, image)
	}
	records, err := in.admin.CoreV1().Secrets(ns).List(ctx(t), metav1.ListOptions{LabelSelector: "owner=helm,name=" + inst.ReleaseName})
	if err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 2 {
		t.Errorf("%d Helm release records in %s, want 2 (install and upgrade)", len(records.Items), ns)
	}
	un := action.NewUninstall(hc)
	un.WaitStrategy = kube.StatusWatcherStrategy
	un.Timeout = 2 * time.Minute
	if _, err := un.Run(inst.ReleaseName); err != nil {
		t.Fatalf("uninstall carts from %s as %s: %v", ns, in.sa, err)
	}
}

// helmConfig is Helm's action configuration for namespace, acting as user
// (impersonated) when user is not "".
func helmConfig(t testing.TB, kubeconfig, namespace, user string) *action.Configuration {
	t.Helper()
	settings := cli.New()
	fs := pflag.NewFlagSet("helm", pflag.ContinueOnError)
	settings.AddFlags(fs)
	args := []string{"--kubeconfig", kubeconfig, "--namespace", namespace}
	if user != "" {
		args = append(args, "--kube-as-user", user)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	if err := cfg.Init(settings.RESTClientGetter(), namespace, "secret"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientAs is a Kubernetes client acting as tend's ServiceAccount.
func (in *install) clientAs(t testing.TB) kubernetes.Interface {
	t.Helper()
	rc := rest.CopyConfig(in.restConfig)
	rc.Impersonate = rest.ImpersonationConfig{UserName: in.sa}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// waitReady waits until Deployment name in tend's namespace has observed
// its spec and has want replicas, all ready, and returns it.
func (in *install) waitReady(t testing.TB, name string, want int32) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	testenv.WaitFor(t, 2*time.Minute, 200*time.Millisecond, fmt.Sprintf("deployment %s/%s to have %d ready replicas", in.namespace, name, want), func() (bool, string) {
		got, err := in.admin.AppsV1().Deployments(in.namespace).Get(ctx(t), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		d = got
		s := got.Status
		return s.ObservedGeneration >= got.Generation && s.ReadyReplicas == want && s.UpdatedReplicas == want && s.Replicas == want,
			fmt.Sprintf("replicas %d, ready %d, updated %d", s.Replicas, s.ReadyReplicas, s.UpdatedReplicas)
	})
	return d
}

// pods are the Pods of Deployment d.
func (in *install) pods(t testing.TB, d *appsv1.Deployment) []corev1.Pod {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	list, err := in.admin.CoreV1().Pods(d.Namespace).List(ctx(t), metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func podReady(p corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	return slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
	})
}

func (in *install) role(t testing.TB, ns, suffix string) *rbacv1.Role {
	t.Helper()
	name := in.namespace + "-" + suffix
	r, err := in.admin.RbacV1().Roles(ns).Get(ctx(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Role %s/%s: %v", ns, name, err)
	}
	return r
}

// checkBinding checks that the RoleBinding of the Role binds it to tend's
// ServiceAccount and nobody else.
func (in *install) checkBinding(t testing.TB, ns, suffix string) {
	t.Helper()
	name := in.namespace + "-" + suffix
	b, err := in.admin.RbacV1().RoleBindings(ns).Get(ctx(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("RoleBinding %s/%s: %v", ns, name, err)
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tend", Namespace: in.namespace}}
	if b.RoleRef.Kind != "Role" || b.RoleRef.Name != name || !slices.Equal(b.Subjects, want) {
		t.Errorf("RoleBinding %s/%s binds %+v to %+v, want Role %s to %+v", ns, name, b.RoleRef, b.Subjects, name, want)
	}
}

func (in *install) createDeployment(t testing.TB, ns, name string, replicas int32) {
	t.Helper()
	l := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(l)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "docker.io/keptnexamples/carts:0.11.1"}}},
			},
		},
	}
	if _, err := in.admin.AppsV1().Deployments(ns).Create(ctx(t), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s/%s: %v", ns, name, err)
	}
}

// ctx bounds one API call.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func slash(sub string) string {
	if sub == "" {
		return ""
	}
	return "/" + sub
}
