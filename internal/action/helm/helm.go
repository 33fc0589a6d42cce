// Package helm carries out deployment, release and rollback tasks on a
// Kubernetes cluster with the Helm v4 SDK and client-go: it implements
// delivery.Deployer as Keptn's helm-service did, without Istio. A service's
// chart is installed as release <namespace>-<service>; a blue/green
// service also gets a primary, release <namespace>-<service>-generated,
// that tend derives from the rendered chart, and traffic switches by the
// selectors of the chart's Services. docs/delivery-helm.md describes the
// releases, the traffic, the timeouts, the recovery from a crash and the
// RBAC the package needs.
package helm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/delivery"
)

// DefaultTimeout bounds a rollout when a request gives no timeout.
const DefaultTimeout = 5 * time.Minute

// maxHistory is how many revisions of a release Helm keeps (as Secrets).
const maxHistory = 10

// Options configure a Deployer.
type Options struct {
	// Logger receives what the Deployer and Helm log; nil discards it.
	Logger *slog.Logger
	// PollInterval is how often a rollout is checked; 0 means one second.
	PollInterval time.Duration
	// ReservedNamespaces are refused as targets besides Kubernetes' own
	// (SystemNamespaces); the composition root adds tend's own namespace.
	ReservedNamespaces []string
}

// SystemNamespaces are Kubernetes' own namespaces, never a target.
var SystemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Deployer carries out delivery tasks on one cluster. It is safe for
// concurrent use on different services; the caller runs at most one task
// of a service at a time.
type Deployer struct {
	cfg    *rest.Config
	cs     kubernetes.Interface
	dc     discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
	log    *slog.Logger
	poll   time.Duration
	// reserved namespaces are never a target: Kubernetes' own and tend's.
	reserved map[string]bool
}

var _ delivery.Deployer = (*Deployer)(nil)

// New returns a Deployer acting on the cluster cfg reaches. It makes no
// call yet.
func New(cfg *rest.Config, opts Options) (*Deployer, error) {
	if cfg == nil {
		return nil, errors.New("helm: no cluster configuration")
	}
	cfg = rest.CopyConfig(cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("helm: create client for %s: %w", cfg.Host, err)
	}
	dcl, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("helm: create discovery client for %s: %w", cfg.Host, err)
	}
	d := &Deployer{cfg: cfg, cs: cs, dc: memory.NewMemCacheClient(dcl), log: opts.Logger, poll: opts.PollInterval}
	d.mapper = restmapper.NewDeferredDiscoveryRESTMapper(d.dc)
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.poll <= 0 {
		d.poll = time.Second
	}
	d.reserved = map[string]bool{}
	for _, ns := range append(slices.Clone(SystemNamespaces), opts.ReservedNamespaces...) {
		if ns != "" {
			d.reserved[ns] = true
		}
	}
	return d, nil
}

// Deploy installs or upgrades the service's chart. A direct service gets
// the chart as it is. A blue/green service's chart is the canary: its
// Services are applied selecting the primary, the primary is created from
// the same version when there is none yet, and once the canary is ready
// the chart's Services select it.
func (d *Deployer) Deploy(ctx context.Context, req delivery.DeployRequest) (delivery.Deployed, error) {
	if err := d.checkTarget(req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	switch req.Strategy {
	case delivery.Direct, delivery.BlueGreen, "":
	default:
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("deploymentstrategy %q is not one tend carries out (direct, blue_green_service)", req.Strategy)}
	}
	ch, err := chart.Load(req.Chart)
	if err != nil {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("chart %s: %v", chart.ResourceURI(req.Service), err)}
	}
	if missing := missingDependencies(ch); len(missing) > 0 {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("chart %s: dependencies %s are declared in Chart.yaml but missing in its charts/ folder; tend downloads no dependencies: vendor them (helm dependency build) and store the archive again", chart.ResourceURI(req.Service), strings.Join(missing, ", "))}
	}
	if crds := ch.CRDObjects(); len(crds) > 0 {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("chart %s holds CustomResourceDefinitions (%s), which are cluster-wide; tend deploys a service's objects into its namespace only: install the CRDs yourself and drop the crds/ folder", chart.ResourceURI(req.Service), crds[0].Filename)}
	}
	timeout := timeoutOf(req.Timeout)
	ns := req.Namespace
	if err := d.ensureNamespace(ctx, req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	hc := d.helmConfig(ns)
	name := delivery.ReleaseName(ns, req.Service)
	log := d.log.With("namespace", ns, "service", req.Service, "release", name, "strategy", string(req.Strategy))

	if req.Strategy == delivery.BlueGreen {
		pr := &postRender{blueGreen: true, namespace: ns, scope: scopeOf(d.mapper)}
		rel, err := d.upgrade(ctx, hc, ns, name, ch, req.Values, pr, timeout)
		if err != nil {
			return delivery.Deployed{}, err
		}
		logConverted(log, pr.converted)
		objs, err := parseManifests([]byte(rel.Manifest))
		if err != nil {
			return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", name, err)}
		}
		deps := deploymentNames(objs)
		wait := slices.Clone(deps)
		primaryName := delivery.PrimaryReleaseName(ns, req.Service)
		if err := recoverPending(d.log, hc, primaryName); err != nil {
			return delivery.Deployed{}, err
		}
		if _, err := hc.Releases.Deployed(primaryName); err != nil {
			if !isNotFound(err) {
				return delivery.Deployed{}, classify("read release "+primaryName, err)
			}
			// The first deployment: the primary starts on the same version.
			prel, err := d.upgradePrimary(ctx, hc, ns, req.Service, rel, timeout)
			if err != nil {
				return delivery.Deployed{}, err
			}
			log.Info("primary created", "primary_release", primaryName, "revision", prel.Version)
			pobjs, err := parseManifests([]byte(prel.Manifest))
			if err != nil {
				return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", primaryName, err)}
			}
			wait = append(wait, deploymentNames(pobjs)...)
		}
		if err := d.waitRollout(ctx, ns, wait, timeout); err != nil {
			return delivery.Deployed{}, err
		}
		if err := d.route(ctx, ns, pr.routes, false); err != nil {
			return delivery.Deployed{}, err
		}
		var uris []string
		for _, r := range pr.routes {
			uris = append(uris, serviceURIs(objs, ns, r.service)...)
		}
		for i := range uris {
			uris[i] = canaryURI(uris[i])
		}
		log.Info("deployed canary", "revision", rel.Version)
		return delivery.Deployed{Strategy: delivery.BlueGreen, Kind: delivery.KindCanary, Deployments: deps, URIsLocal: uris, Image: image(objs, req.Service), Revision: rel.Version}, nil
	}
	pr := &postRender{namespace: ns, scope: scopeOf(d.mapper)}
	rel, err := d.upgrade(ctx, hc, ns, name, ch, req.Values, pr, timeout)
	if err != nil {
		return delivery.Deployed{}, err
	}
	logConverted(log, pr.converted)
	objs, err := parseManifests([]byte(rel.Manifest))
	if err != nil {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", name, err)}
	}
	deps := deploymentNames(objs)
	if err := d.waitRollout(ctx, ns, deps, timeout); err != nil {
		return delivery.Deployed{}, err
	}
	log.Info("deployed", "revision", rel.Version)
	return delivery.Deployed{Strategy: delivery.Direct, Kind: delivery.KindDirect, Deployments: deps, URIsLocal: serviceURIs(objs, ns), Image: image(objs, req.Service), Revision: rel.Version}, nil
}

// Release gives a blue/green service's primary the canary's version, waits
// for it, points the chart's Services at it and scales the canary to 0.
// A service without a primary (direct) has nothing to release: Release
// answers its current state.
func (d *Deployer) Release(ctx context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	if err := d.checkTarget(req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	if err := d.checkNamespace(ctx, req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	timeout := timeoutOf(req.Timeout)
	ns := req.Namespace
	hc := d.helmConfig(ns)
	name := delivery.ReleaseName(ns, req.Service)
	primaryName := delivery.PrimaryReleaseName(ns, req.Service)
	canary, err := d.current(hc, name)
	if err != nil {
		return delivery.Deployed{}, err
	}
	hasPrimary, err := d.exists(hc, primaryName)
	if err != nil {
		return delivery.Deployed{}, err
	}
	if !hasPrimary {
		return d.directState(ns, req.Service, canary)
	}
	prel, err := d.upgradePrimary(ctx, hc, ns, req.Service, canary, timeout)
	if err != nil {
		return delivery.Deployed{}, err
	}
	res, err := d.toPrimary(ctx, ns, req.Service, canary, prel, timeout)
	if err == nil {
		d.log.Info("released", "namespace", ns, "service", req.Service, "release", primaryName, "revision", prel.Version, "canary_revision", canary.Version)
	}
	return res, err
}

// Rollback points a blue/green service's traffic back at the primary,
// which still runs the released version, and scales the canary to 0. A
// direct service is rolled back to its newest earlier revision that was
// deployed; a service with no such revision, or whose newest revision is
// already a rollback, is left as it is.
func (d *Deployer) Rollback(ctx context.Context, req delivery.ReleaseRequest) (delivery.Deployed, error) {
	if err := d.checkTarget(req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	if err := d.checkNamespace(ctx, req.Target); err != nil {
		return delivery.Deployed{}, err
	}
	timeout := timeoutOf(req.Timeout)
	ns := req.Namespace
	hc := d.helmConfig(ns)
	name := delivery.ReleaseName(ns, req.Service)
	primaryName := delivery.PrimaryReleaseName(ns, req.Service)
	if err := recoverPending(d.log, hc, primaryName); err != nil {
		return delivery.Deployed{}, err
	}
	prel, err := hc.Releases.Deployed(primaryName)
	switch {
	case err == nil:
		canary, err := d.current(hc, name)
		if err != nil {
			return delivery.Deployed{}, err
		}
		p, err := v1(prel)
		if err != nil {
			return delivery.Deployed{}, err
		}
		res, err := d.toPrimary(ctx, ns, req.Service, canary, p, timeout)
		if err == nil {
			d.log.Info("rolled back to the primary", "namespace", ns, "service", req.Service, "release", primaryName, "revision", p.Version)
		}
		return res, err
	case !isNotFound(err):
		return delivery.Deployed{}, classify("read release "+primaryName, err)
	}
	return d.rollbackDirect(ctx, hc, ns, req.Service, timeout)
}

// toPrimary waits for the primary, points the chart's Services at it and
// scales the canary's Deployments to 0.
func (d *Deployer) toPrimary(ctx context.Context, ns, service string, canary, primary *release.Release, timeout time.Duration) (delivery.Deployed, error) {
	pobjs, err := parseManifests([]byte(primary.Manifest))
	if err != nil {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", primary.Name, err)}
	}
	cobjs, err := parseManifests([]byte(canary.Manifest))
	if err != nil {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", canary.Name, err)}
	}
	pdeps := deploymentNames(pobjs)
	if err := d.waitRollout(ctx, ns, pdeps, timeout); err != nil {
		return delivery.Deployed{}, err
	}
	routes := routesOf(pobjs)
	if err := d.route(ctx, ns, routes, true); err != nil {
		return delivery.Deployed{}, err
	}
	cdeps := deploymentNames(cobjs)
	if err := d.scaleToZero(ctx, ns, cdeps); err != nil {
		return delivery.Deployed{}, err
	}
	if err := d.waitRollout(ctx, ns, cdeps, timeout); err != nil {
		return delivery.Deployed{}, err
	}
	var names []string
	for _, r := range routes {
		names = append(names, delivery.PrimaryName(r.service))
	}
	return delivery.Deployed{
		Strategy:    delivery.BlueGreen,
		Kind:        delivery.KindPrimary,
		Deployments: pdeps,
		URIsLocal:   serviceURIs(pobjs, ns, names...),
		Image:       image(pobjs, delivery.PrimaryName(service)),
		Revision:    primary.Version,
	}, nil
}

// directState answers what a direct service's release serves.
func (d *Deployer) directState(ns, service string, rel *release.Release) (delivery.Deployed, error) {
	objs, err := parseManifests([]byte(rel.Manifest))
	if err != nil {
		return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("release %s: %v", rel.Name, err)}
	}
	return delivery.Deployed{Strategy: delivery.Direct, Kind: delivery.KindDirect, Deployments: deploymentNames(objs), URIsLocal: serviceURIs(objs, ns), Image: image(objs, service), Revision: rel.Version}, nil
}

// rollbackMarker starts the description Helm gives a rollback's revision.
const rollbackMarker = "Rollback to "

// rollbackDirect rolls a direct service's release back to the newest
// earlier revision that was deployed (superseded since).
func (d *Deployer) rollbackDirect(ctx context.Context, hc *action.Configuration, ns, service string, timeout time.Duration) (delivery.Deployed, error) {
	name := delivery.ReleaseName(ns, service)
	log := d.log.With("namespace", ns, "service", service, "release", name)
	if err := recoverPending(d.log, hc, name); err != nil {
		return delivery.Deployed{}, err
	}
	hist, err := hc.Releases.History(name)
	if err != nil {
		if isNotFound(err) {
			return delivery.Deployed{}, &delivery.RolloutError{Reason: fmt.Sprintf("service %s has no release %s in namespace %s to roll back", service, name, ns)}
		}
		return delivery.Deployed{}, classify("read release "+name, err)
	}
	revs := make([]*release.Release, 0, len(hist))
	for _, h := range hist {
		r, err := v1(h)
		if err != nil {
			return delivery.Deployed{}, err
		}
		revs = append(revs, r)
	}
	slices.SortFunc(revs, func(a, b *release.Release) int { return a.Version - b.Version })
	last := revs[len(revs)-1]
	var target *release.Release
	for _, r := range slices.Backward(revs[:len(revs)-1]) {
		if r.Info.Status == rcommon.StatusSuperseded {
			target = r
			break
		}
	}
	switch {
	case strings.HasPrefix(last.Info.Description, rollbackMarker):
		log.Info("rollback: the newest revision is already a rollback; nothing to do", "revision", last.Version)
	case target == nil:
		log.Info("rollback: no earlier deployed revision to go back to; nothing to do", "revision", last.Version)
	default:
		// A revision stored before charts were held to their
		// namespace may hold objects elsewhere; rollback applies its
		// manifest (and hooks) as they are, past the post-renderer.
		objs, err := parseManifests([]byte(manifestWithHooks(target)))
		if err == nil {
			err = checkScope(objs, ns, scopeOf(d.mapper))
		}
		if err != nil {
			return delivery.Deployed{}, classify(fmt.Sprintf("roll back release %s to revision %d", name, target.Version), err)
		}
		rb := action.NewRollback(hc)
		rb.Version = target.Version
		rb.ServerSideApply = "true"
		rb.ForceConflicts = true
		rb.WaitStrategy = waitHooks
		rb.Timeout = timeout
		rb.MaxHistory = maxHistory
		if err := rb.Run(name); err != nil {
			return delivery.Deployed{}, classify(fmt.Sprintf("roll back release %s to revision %d", name, target.Version), err)
		}
		l, err := d.current(hc, name)
		if err != nil {
			return delivery.Deployed{}, err
		}
		last = l
		log.Info("rolled back", "to_revision", target.Version, "revision", last.Version)
	}
	res, err := d.directState(ns, service, last)
	if err != nil {
		return res, err
	}
	if err := d.waitRollout(ctx, ns, res.Deployments, timeout); err != nil {
		return delivery.Deployed{}, err
	}
	return res, nil
}

// manifestWithHooks is a revision's manifest and its hooks' manifests.
func manifestWithHooks(r *release.Release) string {
	var b strings.Builder
	b.WriteString(r.Manifest)
	for _, h := range r.Hooks {
		if h != nil {
			b.WriteString("\n---\n")
			b.WriteString(h.Manifest)
		}
	}
	return b.String()
}

// current is the release's newest revision, which must be deployed: a
// release to act on.
func (d *Deployer) current(hc *action.Configuration, name string) (*release.Release, error) {
	if err := recoverPending(d.log, hc, name); err != nil {
		return nil, err
	}
	r, err := hc.Releases.Deployed(name)
	if err != nil {
		if isNotFound(err) {
			return nil, &delivery.RolloutError{Reason: fmt.Sprintf("release %s has no deployed revision: deploy the service first", name)}
		}
		return nil, classify("read release "+name, err)
	}
	return v1(r)
}

// exists reports whether a release has any revision.
func (d *Deployer) exists(hc *action.Configuration, name string) (bool, error) {
	_, err := hc.Releases.History(name)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, classify("read release "+name, err)
}

// missingDependencies lists the dependencies a chart declares but does not
// carry in its charts/ folder.
func missingDependencies(ch *chart.Chart) []string {
	var missing []string
	for _, dep := range ch.Metadata.Dependencies {
		if dep == nil {
			continue
		}
		if !slices.ContainsFunc(ch.Dependencies(), func(c *chart.Chart) bool { return c.Name() == dep.Name }) {
			missing = append(missing, dep.Name)
		}
	}
	return missing
}

// checkTarget refuses a target without a namespace or service, and a
// reserved namespace: a project's chart in kube-system or in tend's own
// namespace would run with their ServiceAccounts (tend's included), so
// whatever the project's namespace rules allow, those are refused. A
// project and stage named so that <project>-<stage> is one of them is
// enough, and any project's write token may add stages.
func (d *Deployer) checkTarget(t delivery.Target) error {
	if t.Namespace == "" || t.Service == "" {
		return &delivery.RolloutError{Reason: fmt.Sprintf("deployment target needs a namespace and a service, got namespace %q and service %q", t.Namespace, t.Service)}
	}
	if d.reserved[t.Namespace] {
		return &delivery.RolloutError{Reason: fmt.Sprintf("namespace %s is reserved (Kubernetes' own or tend's); tend deploys no service there: give service %s another namespace (tend configure kubernetes --namespace) or rename the stage", t.Namespace, t.Service)}
	}
	return nil
}

func timeoutOf(t time.Duration) time.Duration {
	if t <= 0 {
		return DefaultTimeout
	}
	return t
}

func logConverted(log *slog.Logger, names []string) {
	if len(names) > 0 {
		log.Warn("deployments of removed API versions applied as apps/v1", "deployments", strings.Join(names, ","))
	}
}

func isNotFound(err error) bool {
	return errors.Is(err, driver.ErrReleaseNotFound) || errors.Is(err, driver.ErrNoDeployedReleases)
}

// route is a Service of the chart whose selector switches traffic.
type route struct {
	service string
	canary  map[string]string
	primary map[string]string
}

// routesOf reads the routes from the primary's objects: every Service
// X-canary with an X-primary beside it.
func routesOf(pobjs []object) []route {
	sel := map[string]map[string]string{}
	for _, o := range pobjs {
		if o.Kind == "Service" {
			s, _ := stringMap(lookup(o.doc, "spec", "selector"))
			sel[o.Name] = s
		}
	}
	var routes []route
	for _, n := range slices.Sorted(maps.Keys(sel)) {
		base, ok := strings.CutSuffix(n, "-canary")
		if !ok {
			continue
		}
		if p, ok := sel[delivery.PrimaryName(base)]; ok {
			routes = append(routes, route{service: base, canary: sel[n], primary: p})
		}
	}
	return routes
}
