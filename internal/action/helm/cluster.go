package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/postrenderer"
	ri "helm.sh/helm/v4/pkg/release"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tendhq/tend/internal/delivery"
)

// waitHooks makes Helm wait for hooks only: tend waits for the rollout
// itself, so that a timeout names what is missing.
const waitHooks = kube.HookOnlyStrategy

// fieldManager owns the fields tend changes outside Helm: the Services'
// selectors and the canary's replicas.
const fieldManager = "tend-delivery"

// restGetter hands Helm the cluster tend was configured with, and nothing
// else: no kubeconfig file is read.
type restGetter struct {
	cfg       *rest.Config
	namespace string
	dc        discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }
func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.dc, nil
}
func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }
func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(clientcmdapi.Config{}, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// helmConfig is Helm's configuration for one namespace: releases stored
// as Secrets there.
func (d *Deployer) helmConfig(ns string) *action.Configuration {
	getter := &restGetter{cfg: d.cfg, namespace: ns, dc: d.dc, mapper: d.mapper}
	hc := action.NewConfiguration(action.ConfigurationSetLogger(d.log.Handler()))
	kc := kube.New(getter)
	kc.Namespace = ns
	kc.SetLogger(d.log.Handler())
	secrets := driver.NewSecrets(d.cs.CoreV1().Secrets(ns))
	secrets.SetLogger(d.log.Handler())
	hc.RESTClientGetter = getter
	hc.KubeClient = kc
	hc.CustomTemplateFuncs = d.templateFuncs(ns)
	hc.Releases = storage.Init(secrets)
	hc.Releases.MaxHistory = maxHistory
	return hc
}

// A namespace tend creates enforces Kubernetes' baseline Pod Security
// Standard: a chart, which tend applies with its own ServiceAccount, may
// not run privileged Pods, mount the node's file system or share its
// network or process namespaces, any of which would reach the node and
// from there every namespace. Keptn's charts meet it; an operator who
// needs more labels the namespace otherwise, which tend leaves as it is.
const (
	podSecurityLabel = "pod-security.kubernetes.io/enforce"
	podSecurityLevel = "baseline"
)

// ensureNamespace creates the namespace when it is missing, marked as
// the project's (delivery.ProjectLabel), and refuses one marked for
// another project.
func (d *Deployer) ensureNamespace(ctx context.Context, t delivery.Target) error {
	ns := t.Namespace
	n, err := d.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return owned(n, t)
	}
	if !apierrors.IsNotFound(err) {
		return classify("read namespace "+ns, err)
	}
	om := metav1.ObjectMeta{Name: ns, Labels: map[string]string{podSecurityLabel: podSecurityLevel}}
	if t.Project != "" {
		om.Labels[delivery.ProjectLabel] = t.Project
	}
	_, err = d.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: om}, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsAlreadyExists(err) {
		// Created meanwhile, perhaps for another project.
		return d.checkNamespace(ctx, t)
	}
	if err != nil {
		return classify("create namespace "+ns, err)
	}
	d.log.Info("namespace created", "namespace", ns, "project", t.Project)
	return nil
}

// checkNamespace refuses a namespace marked for another project than the
// target's. A missing namespace is left to the operation, which finds no
// release there.
func (d *Deployer) checkNamespace(ctx context.Context, t delivery.Target) error {
	if t.Project == "" {
		return nil
	}
	n, err := d.cs.CoreV1().Namespaces().Get(ctx, t.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return classify("read namespace "+t.Namespace, err)
	}
	return owned(n, t)
}

// owned refuses a namespace marked for another project than the target's.
// An unmarked namespace (made by hand, by tend's own chart, or by tend
// before namespaces were marked) is taken as it is: tend may not relabel
// namespaces.
func owned(n *corev1.Namespace, t delivery.Target) error {
	if t.Project == "" {
		return nil
	}
	if owner, ok := n.Labels[delivery.ProjectLabel]; ok && owner != t.Project {
		return &delivery.RolloutError{Reason: fmt.Sprintf("namespace %s belongs to project %s (label %s=%s), not to project %s: give service %s another namespace (tend configure kubernetes --namespace) or rename the stage",
			t.Namespace, owner, delivery.ProjectLabel, owner, t.Project, t.Service)}
	}
	return nil
}

// recoverPending marks a release's newest revision failed when it was left
// pending (install, upgrade or rollback) by a process that ended mid-way,
// so that the next operation goes ahead instead of answering "another
// operation is in progress". The caller runs one task of a service at a
// time, so a pending revision is never another runner's live work.
func recoverPending(log *slog.Logger, hc *action.Configuration, name string) error {
	last, err := hc.Releases.Last(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return classify("read release "+name, err)
	}
	r, err := v1(last)
	if err != nil {
		return err
	}
	if !r.Info.Status.IsPending() {
		return nil
	}
	was := r.Info.Status
	r.SetStatus(rcommon.StatusFailed, fmt.Sprintf("%s interrupted: the process ended before it finished; tend recovered the release", was))
	if err := hc.Releases.Update(r); err != nil {
		return classify("recover release "+name, err)
	}
	log.Warn("release left pending recovered", "release", name, "revision", r.Version, "status", string(was))
	return nil
}

// upgrade is `helm upgrade --install`: server-side apply, forcing
// conflicts, so Helm takes back the fields tend changed since (Service
// selectors, the canary's replicas).
func (d *Deployer) upgrade(ctx context.Context, hc *action.Configuration, ns, name string, ch *chartv2.Chart, vals map[string]any, pr postrenderer.PostRenderer, timeout time.Duration) (*release.Release, error) {
	if err := recoverPending(d.log, hc, name); err != nil {
		return nil, err
	}
	if vals == nil {
		vals = map[string]any{}
	}
	var r ri.Releaser
	has, err := d.exists(hc, name)
	if err != nil {
		return nil, err
	}
	op := "upgrade"
	if !has {
		op = "install"
		in := action.NewInstall(hc)
		in.ReleaseName = name
		in.Namespace = ns
		in.ServerSideApply = true
		in.ForceConflicts = true
		in.WaitStrategy = waitHooks
		in.Timeout = timeout
		in.PostRenderer = pr
		// A chart's crds/ would be created cluster-wide, past the
		// post-renderer; Deploy refuses such charts, and this keeps
		// them out whatever the caller.
		in.SkipCRDs = true
		r, err = in.RunWithContext(ctx, ch, vals)
	} else {
		up := action.NewUpgrade(hc)
		up.Namespace = ns
		up.ServerSideApply = "true"
		up.ForceConflicts = true
		up.WaitStrategy = waitHooks
		up.Timeout = timeout
		up.ResetValues = true
		up.MaxHistory = maxHistory
		up.PostRenderer = pr
		r, err = up.RunWithContext(ctx, name, ch, vals)
	}
	if err != nil {
		return nil, classify(fmt.Sprintf("%s release %s", op, name), err)
	}
	return v1(r)
}

// upgradePrimary renders the canary release's chart with its values (as
// the primary: keptn.deployment is "primary") and applies the primary
// derived from it as release <namespace>-<service>-generated.
func (d *Deployer) upgradePrimary(ctx context.Context, hc *action.Configuration, ns, service string, canary *release.Release, timeout time.Duration) (*release.Release, error) {
	vals := deepCopy(canary.Config)
	if k, ok := vals["keptn"].(map[string]any); ok {
		k["deployment"] = delivery.KindPrimary
	}
	manifest, err := d.render(ctx, canary.Chart, vals, common.ReleaseOptions{Name: canary.Name, Namespace: ns, Revision: canary.Version, IsUpgrade: canary.Version > 1, IsInstall: canary.Version == 1})
	if err != nil {
		return nil, err
	}
	objs, err := parseManifests(manifest)
	if err != nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("chart of release %s: %v", canary.Name, err)}
	}
	upgradeAPIs(objs)
	if err := checkScope(objs, ns, scopeOf(d.mapper)); err != nil {
		return nil, classify(fmt.Sprintf("chart of release %s", canary.Name), err)
	}
	bg, err := analyze(objs)
	if err != nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("chart of release %s cannot be deployed blue/green: %v", canary.Name, err)}
	}
	data, err := encodeManifests(primaryObjects(bg))
	if err != nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("primary of release %s: %v", canary.Name, err)}
	}
	gen := generatedChart(canary.Chart, service, data)
	source := map[string]any{"source": map[string]any{"release": canary.Name, "revision": canary.Version}}
	return d.upgrade(ctx, hc, ns, delivery.PrimaryReleaseName(ns, service), gen, source, nil, timeout)
}

// generatedFile holds the primary's manifests in the generated chart. They
// are a file, not a template, so nothing in them is read as a template
// again; the one template includes it verbatim.
const generatedFile = "primary.yaml"

// generatedChart wraps the primary's manifests in a chart of their own.
func generatedChart(from *chartv2.Chart, service string, manifests []byte) *chartv2.Chart {
	version, appVersion := "0.1.0", ""
	if from != nil && from.Metadata != nil {
		if from.Metadata.Version != "" {
			version = from.Metadata.Version
		}
		appVersion = from.Metadata.AppVersion
	}
	return &chartv2.Chart{
		Metadata: &chartv2.Metadata{
			APIVersion:  chartv2.APIVersionV2,
			Name:        service + "-generated",
			Version:     version,
			AppVersion:  appVersion,
			Description: "The primary of " + service + ", generated by tend from the rendered chart; do not edit",
		},
		Templates: []*common.File{{Name: "templates/primary.yaml", Data: []byte(`{{ .Files.Get "` + generatedFile + `" }}`)}},
		Files:     []*common.File{{Name: generatedFile, Data: manifests}},
		Values:    map[string]any{},
	}
}

// render renders a chart's manifests as Helm would for a release, without
// hooks and notes.
func (d *Deployer) render(ctx context.Context, ch *chartv2.Chart, vals map[string]any, opts common.ReleaseOptions) ([]byte, error) {
	if ch == nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("release %s holds no chart", opts.Name)}
	}
	caps, err := d.capabilities()
	if err != nil {
		return nil, err
	}
	top, err := util.ToRenderValues(ch, vals, opts, caps)
	if err != nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("values of chart %s: %v", ch.Name(), err)}
	}
	e := engine.New(d.cfg)
	e.CustomTemplateFuncs = d.templateFuncs(opts.Namespace)
	files, err := e.RenderWithContext(ctx, ch, top)
	if err != nil {
		return nil, classify("render chart "+ch.Name(), err)
	}
	for k := range files {
		if path.Base(k) == "NOTES.txt" {
			delete(files, k)
		}
	}
	_, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("render chart %s: %v", ch.Name(), err)}
	}
	var b bytes.Buffer
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	return b.Bytes(), nil
}

// capabilities are the cluster's version and APIs, for templates.
func (d *Deployer) capabilities() (*common.Capabilities, error) {
	v, err := d.dc.ServerVersion()
	if err != nil {
		return nil, classify("read the cluster's version", err)
	}
	apis, err := action.GetVersionSet(d.dc)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, classify("read the cluster's APIs", err)
	}
	return &common.Capabilities{
		KubeVersion: common.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor},
		APIVersions: apis,
		HelmVersion: common.DefaultCapabilities.HelmVersion,
	}, nil
}

// postRender runs in process on what a chart rendered (hooks included):
// objects outside the release's namespace are refused (scope.go),
// Deployments of removed API versions become apps/v1, and for a blue/green canary the
// chart's Services select the primary (tend switches them to the canary
// once it is ready). It keeps the routes it found for the caller.
type postRender struct {
	blueGreen bool
	// namespace and scope hold every object to the release's namespace
	// (checkScope); a nil scope checks nothing.
	namespace string
	scope     scopeFunc
	routes    []route
	converted []string
}

func (p *postRender) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := parseManifests(in.Bytes())
	if err != nil {
		return nil, err
	}
	p.converted = upgradeAPIs(objs)
	if p.scope != nil {
		if err := checkScope(objs, p.namespace, p.scope); err != nil {
			return nil, err
		}
	}
	if p.blueGreen {
		bg, err := analyze(objs)
		if err != nil {
			return nil, fmt.Errorf("the chart cannot be deployed blue/green: %w", err)
		}
		p.routes = p.routes[:0]
		for _, f := range bg.frontends {
			p.routes = append(p.routes, route{service: f.obj.Name, canary: f.canary, primary: f.primary})
		}
		selectPrimary(bg)
	}
	out, err := encodeManifests(objs)
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}

// route points each route's Service at the primary's pods or the
// canary's. The selector is replaced whole; a later Helm upgrade takes it
// back (server-side apply with forced conflicts).
func (d *Deployer) route(ctx context.Context, ns string, routes []route, toPrimary bool) error {
	for _, r := range routes {
		want := r.canary
		if toPrimary {
			want = r.primary
		}
		svc, err := d.cs.CoreV1().Services(ns).Get(ctx, r.service, metav1.GetOptions{})
		if err != nil {
			return classify(fmt.Sprintf("read service %s in %s", r.service, ns), err)
		}
		if maps.Equal(svc.Spec.Selector, want) {
			continue
		}
		patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/spec/selector", "value": want}})
		if err != nil {
			return err
		}
		if _, err := d.cs.CoreV1().Services(ns).Patch(ctx, r.service, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
			return classify(fmt.Sprintf("switch service %s in %s", r.service, ns), err)
		}
		d.log.Info("traffic switched", "namespace", ns, "k8s_service", r.service, "selector", labels.Set(want).String())
	}
	return nil
}

// scaleToZero sets the Deployments' replicas to 0.
func (d *Deployer) scaleToZero(ctx context.Context, ns string, names []string) error {
	for _, n := range names {
		dep, err := d.cs.AppsV1().Deployments(ns).Get(ctx, n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return classify(fmt.Sprintf("read deployment %s in %s", n, ns), err)
		}
		if dep.Spec.Replicas != nil && *dep.Spec.Replicas == 0 {
			continue
		}
		if _, err := d.cs.AppsV1().Deployments(ns).Patch(ctx, n, types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
			return classify(fmt.Sprintf("scale deployment %s in %s to 0", n, ns), err)
		}
	}
	return nil
}

// rolledOut reports whether a Deployment's rollout is complete: the
// controller saw the newest spec and every replica is updated and ready,
// with no old one left.
func rolledOut(dep *appsv1.Deployment) bool {
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	s := dep.Status
	return s.ObservedGeneration >= dep.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want
}

// deadlineSlack is how close to its deadline a failed read of the rollout
// counts as the deadline's: client-go's rate limiter refuses a wait that
// would end past the deadline, up to one token's interval early.
const deadlineSlack = time.Second

// deadlineNear reports whether ctx's deadline is less than deadlineSlack
// away.
func deadlineNear(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < deadlineSlack
}

// waitRollout waits until every named Deployment has rolled out. After
// timeout it returns a *delivery.RolloutError naming what is missing; when
// ctx ends first, or the cluster cannot be read until then, a plain error.
func (d *Deployer) waitRollout(ctx context.Context, ns string, names []string, timeout time.Duration) error {
	if len(names) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	var prev []*appsv1.Deployment // what the last full round found waiting
	for {
		var waiting []*appsv1.Deployment
		var unread []string // not read before the deadline, nor earlier
		lastErr = nil
		for _, n := range names {
			dep, err := d.cs.AppsV1().Deployments(ns).Get(wctx, n, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					waiting = append(waiting, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}})
					continue
				}
				if (wctx.Err() != nil || deadlineNear(wctx)) && ctx.Err() == nil {
					// The wait's own deadline ended the read (a
					// context error, or client-go's rate limiter
					// refusing to wait past it, which it does before
					// the deadline has passed): the rollout timed
					// out, whatever the read said.
					if i := slices.IndexFunc(prev, func(d *appsv1.Deployment) bool { return d.Name == n }); i >= 0 {
						waiting = append(waiting, prev[i])
					} else {
						unread = append(unread, n)
					}
					continue
				}
				lastErr = err
				break
			}
			if !rolledOut(dep) {
				waiting = append(waiting, dep)
			}
		}
		if lastErr == nil && len(waiting) == 0 && len(unread) == 0 {
			return nil
		}
		if lastErr == nil {
			prev = waiting
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("wait for rollout in %s: %w", ns, ctx.Err())
			}
			if lastErr != nil {
				return fmt.Errorf("wait for rollout in %s: %w", ns, lastErr)
			}
			// A fresh context: the wait's own has ended.
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			var reasons []string
			for _, dep := range waiting {
				reasons = append(reasons, d.notReady(rctx, dep, timeout))
			}
			for _, n := range unread {
				reasons = append(reasons, fmt.Sprintf("deployment %s in %s: not read before the %s timeout ended", n, ns, timeout))
			}
			return &delivery.RolloutError{Reason: strings.Join(reasons, "; ")}
		case <-time.After(d.poll):
		}
	}
}

// maxPodReasons bounds how many Pods a timeout's reason describes.
const maxPodReasons = 3

// notReady says what a Deployment is missing: its replica counts, failing
// conditions and why its Pods are not ready.
func (d *Deployer) notReady(ctx context.Context, dep *appsv1.Deployment, timeout time.Duration) string {
	if dep.UID == "" {
		return fmt.Sprintf("deployment %s in %s does not exist after %s", dep.Name, dep.Namespace, timeout)
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	s := dep.Status
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s in %s: %d of %d replicas ready after %s", dep.Name, dep.Namespace, s.ReadyReplicas, want, timeout)
	if s.UpdatedReplicas != want {
		fmt.Fprintf(&b, " (%d updated)", s.UpdatedReplicas)
	}
	if s.Replicas > want {
		fmt.Fprintf(&b, " (%d old replicas still terminating)", s.Replicas-s.UpdatedReplicas)
	}
	for _, c := range dep.Status.Conditions {
		if (c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue) ||
			(c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse) {
			fmt.Fprintf(&b, "; %s: %s", c.Reason, c.Message)
		}
	}
	if dep.Spec.Selector == nil {
		return b.String()
	}
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return b.String()
	}
	pods, err := d.cs.CoreV1().Pods(dep.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		fmt.Fprintf(&b, "; its pods could not be listed: %v", err)
		return b.String()
	}
	items := pods.Items
	slices.SortFunc(items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	n := 0
	for _, p := range items {
		if p.DeletionTimestamp != nil || podReady(&p) {
			continue
		}
		if n == maxPodReasons {
			b.WriteString("; more pods not ready")
			break
		}
		n++
		fmt.Fprintf(&b, "; pod %s: %s", p.Name, podReason(&p))
	}
	return b.String()
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReason says why a Pod is not ready, the way kubectl describe would.
func podReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("container %s waiting: %s %s", cs.Name, w.Reason, w.Message)
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("container %s terminated: %s (exit code %d) %s", cs.Name, t.Reason, t.ExitCode, t.Message)
		}
	}
	return fmt.Sprintf("%s, not ready", p.Status.Phase)
}

// classify tells a task's failure from a passing trouble: errors of the
// connection or of an overloaded API server are returned wrapped (the
// caller retries); everything else (a bad template, an invalid manifest,
// a forbidden request) becomes a *delivery.RolloutError.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if delivery.IsRolloutError(err) || transient(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return &delivery.RolloutError{Reason: op + ": " + err.Error()}
}

func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return true
	}
	if apierrors.IsInternalError(err) && strings.Contains(err.Error(), "failed to create typed") {
		// Server-side apply answers a manifest its schema refuses (a
		// string for replicas) with a 500: the manifest is wrong, and
		// retrying does not mend it.
		return false
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err) ||
		apierrors.IsConflict(err) || strings.Contains(err.Error(), "kubernetes cluster unreachable")
}

// v1 is a stored release as Helm v4's chart v2 releases are.
func v1(r ri.Releaser) (*release.Release, error) {
	rel, ok := r.(*release.Release)
	if !ok || rel == nil || rel.Info == nil {
		return nil, &delivery.RolloutError{Reason: fmt.Sprintf("release of an unknown kind %T", r)}
	}
	return rel, nil
}

// deepCopy copies values through JSON, as Helm stores them.
func deepCopy(m map[string]any) map[string]any {
	out := map[string]any{}
	b, err := json.Marshal(m)
	if err != nil {
		return out
	}
	_ = json.Unmarshal(b, &out)
	return out
}
