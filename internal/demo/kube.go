package demo

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Release is what serves carts in a namespace, as the cluster says: the
// Deployments the Service selects, the version their image carries and
// how many of their replicas are ready. The carts service plays that
// release: the version picks its behaviour (SlowVersions), the ready
// replicas its capacity.
type Release struct {
	// Deployments are the names of the Deployments serving, sorted.
	Deployments []string `json:"deployments"`
	// Image is the serving container's image, Version its tag.
	Image   string `json:"image"`
	Version string `json:"version"`
	// Ready is the sum of the Deployments' ready replicas.
	Ready int `json:"readyReplicas"`
	// Reason says why nothing serves, when Ready is 0.
	Reason string `json:"reason,omitempty"`
}

// Serves reports whether at least one replica is ready.
func (r Release) Serves() bool { return r.Ready > 0 }

// String describes the release for logs and messages.
func (r Release) String() string {
	if len(r.Deployments) == 0 {
		return "nothing deployed (" + r.Reason + ")"
	}
	return fmt.Sprintf("%s %s, %d ready", strings.Join(r.Deployments, "+"), orDash(r.Version), r.Ready)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Serving works out the release from a namespace's objects: svc is the
// Service traffic goes through (nil when it does not exist), deps the
// namespace's Deployments. A Deployment serves when its Pod template
// carries every label of the Service's selector: a blue/green primary or
// canary alike, whatever labels the deployer gave them. When several
// serve (traffic is split), their ready replicas add up and the version is
// that of the one with the most ready replicas. container names the
// container whose image is the version; "" or a name no container has
// means the first.
func Serving(svc *corev1.Service, deps []*appsv1.Deployment, container string) Release {
	if svc == nil {
		return Release{Reason: "no Service"}
	}
	if len(svc.Spec.Selector) == 0 {
		return Release{Reason: "Service " + svc.Name + " selects nothing"}
	}
	sel := k8slabels.SelectorFromSet(svc.Spec.Selector)
	deps = slices.Clone(deps)
	slices.SortFunc(deps, func(a, b *appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
	var r Release
	best := -1
	for _, d := range deps {
		if !sel.Matches(k8slabels.Set(d.Spec.Template.Labels)) {
			continue
		}
		r.Deployments = append(r.Deployments, d.Name)
		ready := int(d.Status.ReadyReplicas)
		r.Ready += ready
		if ready > best {
			best = ready
			r.Image = image(d, container)
		}
	}
	r.Version = ImageTag(r.Image)
	switch {
	case len(r.Deployments) == 0:
		r.Reason = "no Deployment matches the selector of Service " + svc.Name
	case r.Ready == 0:
		r.Reason = "no ready replicas"
	}
	return r
}

// DeploymentRelease is Serving for one Deployment named outright (nil when
// it does not exist), without a Service in between.
func DeploymentRelease(d *appsv1.Deployment, container string) Release {
	if d == nil {
		return Release{Reason: "no Deployment"}
	}
	r := Release{Deployments: []string{d.Name}, Image: image(d, container), Ready: int(d.Status.ReadyReplicas)}
	r.Version = ImageTag(r.Image)
	if r.Ready == 0 {
		r.Reason = "no ready replicas"
	}
	return r
}

func image(d *appsv1.Deployment, container string) string {
	cs := d.Spec.Template.Spec.Containers
	for _, c := range cs {
		if c.Name == container {
			return c.Image
		}
	}
	if len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

// ImageTag returns the tag of an image reference: 0.11.1 of
// docker.io/keptnexamples/carts:0.11.1; "latest" when it has none, as
// container runtimes assume; "" for "". A digest is dropped, and a
// registry's port is not a tag.
func ImageTag(ref string) string {
	if ref == "" {
		return ""
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return "latest"
	}
	return ref[i+1:]
}

// Follower keeps the carts service in step with its release in a
// Kubernetes namespace: it watches the namespace's Services and
// Deployments through informers and reports every change of what serves.
// It needs get, list and watch on services and deployments there.
type Follower struct {
	// Client reaches the cluster.
	Client kubernetes.Interface
	// Namespace is where carts runs, e.g. sockshop-production.
	Namespace string
	// Service is the Kubernetes Service whose selected Deployments serve
	// (the chart's carts). Deployment, when set instead, names the one
	// Deployment to follow.
	Service    string
	Deployment string
	// Container names the container whose image tag is the version; ""
	// means the first.
	Container string
	// Resync is the informers' resync period; 0 means none.
	Resync time.Duration
	// Logger receives each change of the release.
	Logger *slog.Logger
}

// String names what is followed, for messages.
func (f *Follower) String() string {
	if f.Deployment != "" {
		return "Kubernetes Deployment " + f.Namespace + "/" + f.Deployment
	}
	return "Kubernetes Service " + f.Namespace + "/" + f.Service
}

// Check reads the namespace's Services and Deployments once, so that a
// wrong kubeconfig or missing permissions fail at start, with the reason.
// A namespace that does not exist yet is fine: the deployer creates it.
func (f *Follower) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := f.Client.CoreV1().Services(f.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("follow %s: list services: %w", f, err)
	}
	if _, err := f.Client.AppsV1().Deployments(f.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("follow %s: list deployments: %w", f, err)
	}
	return nil
}

// Run watches until ctx ends and calls set with the release once the
// informers have synced and again after every change of it.
func (f *Follower) Run(ctx context.Context, set func(Release)) {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(f.Client, f.Resync, informers.WithNamespace(f.Namespace))
	svcs := factory.Core().V1().Services()
	deps := factory.Apps().V1().Deployments()
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcs.Informer(), deps.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			log.Error("kubernetes informer", "err", err)
			return
		}
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcs.Informer().HasSynced, deps.Informer().HasSynced) {
		return
	}
	var last *Release
	for {
		r := f.current(svcs.Lister().Services(f.Namespace), deps.Lister().Deployments(f.Namespace))
		if last == nil || !sameRelease(*last, r) {
			log.Info("release changed", "namespace", f.Namespace, "release", r.String())
			set(r)
			last = &r
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

type serviceLister interface {
	Get(name string) (*corev1.Service, error)
}

type deploymentLister interface {
	Get(name string) (*appsv1.Deployment, error)
	List(selector k8slabels.Selector) ([]*appsv1.Deployment, error)
}

// current computes the release from the informers' caches.
func (f *Follower) current(svcs serviceLister, deps deploymentLister) Release {
	if f.Deployment != "" {
		d, err := deps.Get(f.Deployment)
		if err != nil {
			d = nil
		}
		return DeploymentRelease(d, f.Container)
	}
	svc, err := svcs.Get(f.Service)
	if err != nil {
		svc = nil
	}
	all, _ := deps.List(k8slabels.Everything())
	return Serving(svc, all, f.Container)
}

func sameRelease(a, b Release) bool {
	return a.Image == b.Image && a.Version == b.Version && a.Ready == b.Ready && a.Reason == b.Reason && slices.Equal(a.Deployments, b.Deployments)
}
