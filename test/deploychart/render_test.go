// Package deploychart tests tend's own Helm chart (deploy/helm/tend): its
// rendering and the values it refuses, Helm's lint, and an install into
// the test cluster of scripts/kube-cluster.sh with Helm's SDK, where the
// Pods become Ready through kwok and the objects, the RBAC rules and what
// the ServiceAccount may and may not do are read back from the API server.
package deploychart

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/config"
)

// chartDir is tend's chart, from this package's folder.
const chartDir = "../../deploy/helm/tend"

// loadChart reads the chart with tend's own loader, as the deployment
// executor reads services' charts.
func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := chart.LoadPath(chartDir)
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	return ch
}

// render renders the chart as `helm template` does (no cluster), with
// vals over values.yaml, into namespace ns.
func render(t testing.TB, ns string, vals map[string]any) (string, error) {
	t.Helper()
	r, err := renderRelease(t, ns, vals)
	if err != nil {
		return "", err
	}
	return r.Manifest, nil
}

// renderRelease is render's whole release, NOTES.txt included.
func renderRelease(t testing.TB, ns string, vals map[string]any) (*release.Release, error) {
	t.Helper()
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = "tend"
	inst.Namespace = ns
	inst.KubeVersion = &common.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	rel, err := inst.Run(loadChart(t), vals)
	if err != nil {
		return nil, err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		t.Fatalf("install returned a %T, not a v1 release", rel)
	}
	return r, nil
}

// objects decodes a rendered manifest into typed objects by kind/name.
func objects(t testing.TB, manifest string) map[string]runtime.Object {
	t.Helper()
	out := map[string]runtime.Object{}
	for _, doc := range releaseutil.SplitManifests(manifest) {
		obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decode a rendered object: %v\n%s", err, doc)
		}
		m, err := meta(obj)
		if err != nil {
			t.Fatal(err)
		}
		key := gvk.Kind + "/" + m
		if _, dup := out[key]; dup {
			t.Fatalf("the chart renders %s twice", key)
		}
		out[key] = obj
	}
	return out
}

// meta names an object as namespace/name, or name when cluster-scoped.
func meta(obj runtime.Object) (string, error) {
	type named interface {
		GetName() string
		GetNamespace() string
	}
	n, ok := obj.(named)
	if !ok {
		return "", fmt.Errorf("object %T has no name", obj)
	}
	if n.GetNamespace() == "" {
		return n.GetName(), nil
	}
	return n.GetNamespace() + "/" + n.GetName(), nil
}

// noDatabase clears the default database Secret: SQLite.
var noDatabase = map[string]any{"existingSecret": ""}

// postgresValues are the values of a PostgreSQL install with replicas.
func postgresValues(replicas int, extra map[string]any) map[string]any {
	v := map[string]any{
		"replicas": replicas,
		"database": map[string]any{"existingSecret": "tend-db", "secretKey": "url"},
	}
	maps.Copy(v, extra)
	return v
}

func TestRenderRefusesValuesThatCannotWork(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want string // part of the error
	}{
		{
			name: "replicas 3 without a database secret",
			vals: map[string]any{"replicas": 3, "database": noDatabase},
			want: "replicas is 3, but tend runs more than one replica only on PostgreSQL: set database.existingSecret",
		},
		{
			name: "the default two replicas without a database secret",
			vals: map[string]any{"database": noDatabase},
			want: "replicas is 2, but tend runs more than one replica only on PostgreSQL",
		},
		{
			name: "a database secret without its key",
			vals: map[string]any{"database": map[string]any{"existingSecret": "tend-db", "secretKey": ""}},
			want: "database.secretKey is empty",
		},
		{
			name: "a URL among the values",
			vals: postgresValues(2, map[string]any{"database": map[string]any{"existingSecret": "tend-db", "url": "postgres://tend:pw@db/tend"}}),
			want: "additional properties 'url' not allowed",
		},
		{
			name: "database in tend.yaml",
			vals: postgresValues(2, map[string]any{"config": map[string]any{"database": "env:DB"}}),
			want: "config.database is set by the chart, not in tend.yaml: use database.existingSecret",
		},
		{
			name: "listen in tend.yaml",
			vals: postgresValues(2, map[string]any{"config": map[string]any{"listen": ":9090"}}),
			want: "config.listen is set by the chart, not in tend.yaml: use service.port",
		},
		{
			name: "dataDir in tend.yaml",
			vals: map[string]any{"replicas": 1, "database": noDatabase, "config": map[string]any{"dataDir": "/data"}},
			want: "config.dataDir is set by the chart",
		},
		{
			name: "namespaces to create without namespaces",
			vals: postgresValues(2, map[string]any{"rbac": map[string]any{"createNamespaces": true}}),
			want: "rbac.createNamespaces needs rbac.namespaces",
		},
		{
			name: "scaling-only namespaces under a ClusterRole",
			vals: postgresValues(2, map[string]any{"rbac": map[string]any{"scalingOnlyNamespaces": []any{"shop"}}}),
			want: "rbac.scalingOnlyNamespaces needs rbac.namespaces",
		},
		{
			name: "a namespace that is no namespace name",
			vals: postgresValues(2, map[string]any{"rbac": map[string]any{"namespaces": []any{"Shop_Prod"}}}),
			want: "at '/rbac/namespaces/0'",
		},
		{
			name: "a wildcard API group for chart objects",
			vals: postgresValues(2, map[string]any{"rbac": map[string]any{"delivery": map[string]any{"resources": []any{map[string]any{"apiGroup": "*", "resources": []any{"deployments"}}}}}}),
			want: "at '/rbac/delivery/resources/0/apiGroup'",
		},
		{
			name: "negative replicas",
			vals: postgresValues(-1, nil),
			want: "at '/replicas'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, "tend", tt.vals)
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestRenderPostgres(t *testing.T) {
	cfg := map[string]any{"remediation": map[string]any{"limits": map[string]any{"maxReplicas": 7}}}
	manifest, err := render(t, "tend-system", postgresValues(3, map[string]any{"config": cfg}))
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, manifest)
	d := objs["Deployment/tend-system/tend"].(*appsv1.Deployment)
	if got := *d.Spec.Replicas; got != 3 {
		t.Errorf("replicas %d, want 3", got)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s, want RollingUpdate on PostgreSQL", d.Spec.Strategy.Type)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if want := "ghcr.io/tendhq/tend:" + loadChart(t).Metadata.AppVersion; c.Image != want {
		t.Errorf("image %s, want %s (the chart's appVersion)", c.Image, want)
	}
	checkPodSpec(t, d.Spec.Template.Spec, "tend-db", "url")
	if data := d.Spec.Template.Spec.Volumes; !slices.ContainsFunc(data, func(v corev1.Volume) bool { return v.Name == "data" && v.EmptyDir != nil }) {
		t.Errorf("the data directory is not an emptyDir on PostgreSQL: %+v", data)
	}
	for key := range objs {
		if strings.HasPrefix(key, "PersistentVolumeClaim/") {
			t.Errorf("a claim is rendered on PostgreSQL: %s", key)
		}
	}
	if _, ok := objs["PodDisruptionBudget/tend-system/tend"]; !ok {
		t.Error("no PodDisruptionBudget with 3 replicas")
	}
	cm := objs["ConfigMap/tend-system/tend"].(*corev1.ConfigMap)
	parsed := parseConfig(t, cm.Data["tend.yaml"])
	if parsed.Remediation.Limits.MaxReplicas != 7 {
		t.Errorf("tend.yaml's remediation.limits.maxReplicas reads as %d, want 7", parsed.Remediation.Limits.MaxReplicas)
	}
	checkRulesLeastPrivilege(t, objs)
	cr := objs["ClusterRole/tend-system-tend"].(*rbacv1.ClusterRole)
	if diff := ruleDiff(cr.Rules, append([]rbacv1.PolicyRule{namespaceRule(nil, "get", "create")}, neededRules()...)); diff != "" {
		t.Errorf("ClusterRole rules differ from what delivery and scaling need:\n%s", diff)
	}
}

// TestRenderNamespacesEnforceBaseline: the namespaces the chart creates
// hold delivered charts, which must not run Pods that reach the node.
func TestRenderNamespacesEnforceBaseline(t *testing.T) {
	manifest, err := render(t, "tend", postgresValues(2, map[string]any{"rbac": map[string]any{"namespaces": []any{"shop-dev"}, "createNamespaces": true}}))
	if err != nil {
		t.Fatal(err)
	}
	ns, ok := objects(t, manifest)["Namespace/shop-dev"].(*corev1.Namespace)
	if !ok {
		t.Fatal("no Namespace shop-dev rendered")
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "baseline" {
		t.Errorf("namespace shop-dev enforces %q, want baseline", got)
	}
}

func TestRenderSQLite(t *testing.T) {
	manifest, err := render(t, "tend", map[string]any{"replicas": 1, "database": noDatabase})
	if err != nil {
		t.Fatal(err)
	}
	objs := objects(t, manifest)
	d := objs["Deployment/tend/tend"].(*appsv1.Deployment)
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s, want Recreate on SQLite", d.Spec.Strategy.Type)
	}
	if slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "TEND_DATABASE" }) {
		t.Error("TEND_DATABASE is set on SQLite")
	}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == "data" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "tend-data"
	}) {
		t.Errorf("the data directory is not on claim tend-data: %+v", d.Spec.Template.Spec.Volumes)
	}
	if _, ok := objs["PersistentVolumeClaim/tend/tend-data"]; !ok {
		t.Error("no claim tend-data")
	}
	if _, ok := objs["PodDisruptionBudget/tend/tend"]; ok {
		t.Error("a PodDisruptionBudget for one replica would block every drain")
	}
	cm := objs["ConfigMap/tend/tend"].(*corev1.ConfigMap)
	parseConfig(t, cm.Data["tend.yaml"]) // the default, an empty tend.yaml
}

func TestConfigChangeRollsPods(t *testing.T) {
	checksum := func(cfg map[string]any) string {
		t.Helper()
		manifest, err := render(t, "tend", postgresValues(2, map[string]any{"config": cfg}))
		if err != nil {
			t.Fatal(err)
		}
		d := objects(t, manifest)["Deployment/tend/tend"].(*appsv1.Deployment)
		return d.Spec.Template.Annotations["checksum/config"]
	}
	a := checksum(map[string]any{"worker": map[string]any{"concurrency": 4}})
	b := checksum(map[string]any{"worker": map[string]any{"concurrency": 8}})
	if a == "" || a == b {
		t.Fatalf("checksum/config is %q before and %q after a change of tend.yaml; want two different checksums", a, b)
	}
	if again := checksum(map[string]any{"worker": map[string]any{"concurrency": 4}}); again != a {
		t.Fatalf("checksum/config changed from %q to %q without a change of tend.yaml", a, again)
	}
}

func TestNotes(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want []string
	}{
		{"PostgreSQL and a ClusterRole", postgresValues(2, nil), []string{
			"2 replica(s) on PostgreSQL (Secret tend-db, key url)", "port-forward svc/tend 8080:8080", "grep -A 3 \"first start\"", "RBAC: tend has a ClusterRole",
		}},
		{"SQLite and Roles", map[string]any{"replicas": 1, "database": noDatabase, "printAdminToken": false, "rbac": map[string]any{"namespaces": []any{"shop-dev"}}}, []string{
			"1 replica on SQLite, data on the claim tend-data", "tend may deliver to and scale in shop-dev only",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := renderRelease(t, "tend", tt.vals)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Info.Notes, w) {
					t.Errorf("NOTES.txt lacks %q:\n%s", w, r.Info.Notes)
				}
			}
		})
	}
}

func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"defaults":   nil,
		"PostgreSQL": postgresValues(3, nil),
		"SQLite":     {"replicas": 1, "database": noDatabase},
		"roles": postgresValues(2, map[string]any{"rbac": map[string]any{
			"namespaces": []any{"shop-dev", "shop-prod"}, "createNamespaces": true, "scalingOnlyNamespaces": []any{"shop"},
		}}),
	} {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Namespace = "tend"
			lint.Strict = true // warnings fail too
			res := lint.Run([]string{chartDir}, vals)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("helm lint found errors: %v", res.Errors)
			}
			if res.TotalChartsLinted != 1 {
				t.Fatalf("linted %d charts, want 1", res.TotalChartsLinted)
			}
		})
	}
}

// checkPodSpec checks what every tend Pod must have: the probes on
// /healthz and /readyz, the database URL from the Secret (never a value),
// tend.yaml passed with --config from the ConfigMap, an unprivileged user,
// a read-only root and a writable /tmp.
func checkPodSpec(t testing.TB, spec corev1.PodSpec, secret, key string) {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("liveness probe %+v, want GET /healthz on port http", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "http" {
		t.Errorf("readiness probe %+v, want GET /readyz on port http", c.ReadinessProbe)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want http 8080", c.Ports)
	}
	if !slices.Equal(c.Args[:2], []string{"serve", "--config=/etc/tend/tend.yaml"}) || !slices.Contains(c.Args, "--listen=:8080") || !slices.Contains(c.Args, "--data-dir=/var/lib/tend") {
		t.Errorf("args %q, want serve --config=/etc/tend/tend.yaml --listen=:8080 --data-dir=/var/lib/tend ...", c.Args)
	}
	var db *corev1.EnvVar
	for i, e := range c.Env {
		if strings.Contains(e.Value, "postgres") {
			t.Errorf("environment variable %s holds %q: the URL must come from the Secret", e.Name, e.Value)
		}
		if e.Name == "TEND_DATABASE" {
			db = &c.Env[i]
		}
	}
	switch {
	case db == nil:
		t.Error("no TEND_DATABASE variable")
	case db.Value != "" || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil:
		t.Errorf("TEND_DATABASE is %+v, want a secretKeyRef", db)
	case db.ValueFrom.SecretKeyRef.Name != secret || db.ValueFrom.SecretKeyRef.Key != key:
		t.Errorf("TEND_DATABASE comes from secret %s key %s, want %s key %s", db.ValueFrom.SecretKeyRef.Name, db.ValueFrom.SecretKeyRef.Key, secret, key)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	if v := volumes[mounts["/etc/tend"]]; v.ConfigMap == nil {
		t.Errorf("/etc/tend is %+v, want the ConfigMap", v)
	}
	if v := volumes[mounts["/tmp"]]; v.EmptyDir == nil {
		t.Errorf("/tmp is %+v, want an emptyDir", v)
	}
	if _, ok := mounts["/var/lib/tend"]; !ok {
		t.Error("the data directory /var/lib/tend is not mounted")
	}
	sc, psc := c.SecurityContext, spec.SecurityContext
	if sc == nil || psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security context %+v, pod %+v: want non-root, a read-only root, no privilege escalation, every capability dropped", sc, psc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v, want CPU and memory requests and a memory limit", c.Resources)
	}
	aa := spec.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v, want a preferred anti-affinity over kubernetes.io/hostname", aa)
	}
}

// parseConfig reads tend.yaml with tend's own loader, as tend serve does.
func parseConfig(t testing.TB, data string) config.Config {
	t.Helper()
	c, err := config.Decode("tend.yaml", []byte(data))
	if err != nil {
		t.Fatalf("tend serve would not start on the ConfigMap's tend.yaml: %v\n%s", err, data)
	}
	return c
}

// sameYAML reports whether two YAML documents hold the same data.
func sameYAML(t testing.TB, a, b string) bool {
	t.Helper()
	var da, db any
	if err := yaml.Unmarshal([]byte(a), &da); err != nil {
		t.Fatalf("%v\n%s", err, a)
	}
	if err := yaml.Unmarshal([]byte(b), &db); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return reflect.DeepEqual(da, db)
}
