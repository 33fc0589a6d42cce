// Package kubernetes implements the remediation action "scaling": it adds
// or removes replicas of a service's Kubernetes Deployment through the
// Deployment's scale subresource, or, when a HorizontalPodAutoscaler
// manages the Deployment, raises or lowers the HPA's minReplicas, since the
// HPA would undo a direct change. A service without a cluster can instead
// be scaled through an HTTP scale endpoint (HTTPTarget), as the carts demo
// service offers.
//
// The executor follows the two-phase contract of package action: Prepare
// reads the current replica count and turns "+1" into an absolute target
// ("1 -> 2"), clamped to the configured limits; Apply sets exactly that
// target, and does nothing when the target already holds it, so replaying
// an action after a crash never adds a second replica.
package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tendhq/tend/internal/action"
)

// ActionType is the remediation action this package executes.
const ActionType = "scaling"

// Defaults of Target, the "stay safe" limits of the self-healing issue.
const (
	DefaultMaxReplicas = 10
	DefaultMinReplicas = 1
)

// Target says where one service's replicas live and how far they may be
// scaled. The application fills it from the service's settings; zero
// fields take the defaults that match Keptn's blue/green layout, so most
// services need no settings at all.
type Target struct {
	// Namespace holds the Deployment; default "<project>-<stage>".
	Namespace string `json:"namespace,omitempty"`
	// Deployment is scaled first; default "<service>-primary".
	Deployment string `json:"deployment,omitempty"`
	// FallbackDeployment is scaled when Deployment does not exist;
	// default "<service>". Set it equal to Deployment to disable the
	// fallback.
	FallbackDeployment string `json:"fallbackDeployment,omitempty"`
	// MaxReplicas is the most replicas scaling may reach; default 10.
	MaxReplicas int32 `json:"maxReplicas,omitempty"`
	// MinReplicas is the fewest replicas scaling may leave; default 1.
	MinReplicas int32 `json:"minReplicas,omitempty"`
	// HTTP, when set, scales through an HTTP scale endpoint instead of
	// Kubernetes; the Kubernetes fields are then ignored.
	HTTP *HTTPTarget `json:"http,omitempty"`
}

// TargetFunc returns the scaling settings of the service a request names.
// It is how the application plugs its per-service settings in.
type TargetFunc func(ctx context.Context, req action.Request) (Target, error)

// Options configures an Executor.
type Options struct {
	// Target returns per-service settings; nil means defaults for every
	// service.
	Target TargetFunc
	// HTTPClient is used for HTTP scale targets; nil means a client with a
	// 30 s timeout.
	HTTPClient *http.Client
	// Retry paces retries of updates that lost a race (HTTP 409
	// Conflict); the zero value means client-go's retry.DefaultRetry (5
	// attempts).
	Retry wait.Backoff
}

// Executor runs "scaling" actions. It is safe for concurrent use.
type Executor struct {
	client kubernetes.Interface
	opts   Options
}

var _ action.Executor = (*Executor)(nil)

// New returns a scaling executor that reaches the cluster through client,
// which may be nil when every service uses an HTTP scale target. Unit
// tests pass client-go's fake clientset; the application passes
// NewClientset's.
func New(client kubernetes.Interface, opts Options) *Executor {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Executor{client: client, opts: opts}
}

// Kinds of plan, stored in planData.Kind.
const (
	kindDeployment = "deployment"
	kindHPA        = "hpa"
	kindHTTP       = "http"
)

// planData is the executor's part of a stored plan. It holds everything
// Apply needs, so Apply never re-reads settings that may have changed
// since the plan was recorded.
type planData struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	// Name is the Deployment scaled, also when the change goes through
	// an HPA.
	Name string `json:"name,omitempty"`
	// HPA is the HorizontalPodAutoscaler whose minReplicas changes.
	HPA    string `json:"hpa,omitempty"`
	ViaHPA bool   `json:"viaHPA"`
	URL    string `json:"url,omitempty"`
	From   int32  `json:"from"`
	To     int32  `json:"to"`
	// Max is the HPA's maxReplicas when planned; Apply refuses to set a
	// minReplicas above a maxReplicas lowered since.
	Max int32 `json:"max,omitempty"`
}

// resolve fills t's defaults for req and checks the names.
func resolve(req action.Request, t Target) (Target, error) {
	if t.MaxReplicas == 0 {
		t.MaxReplicas = DefaultMaxReplicas
	}
	if t.MinReplicas == 0 {
		t.MinReplicas = DefaultMinReplicas
	}
	if t.MinReplicas < 0 || t.MaxReplicas < t.MinReplicas {
		return t, fmt.Errorf("%w: scaling limits of service %q are wrong: minReplicas %d, maxReplicas %d; want 0 < minReplicas <= maxReplicas", action.ErrInvalid, req.Service, t.MinReplicas, t.MaxReplicas)
	}
	if t.HTTP != nil {
		return t, nil
	}
	if t.Namespace == "" {
		if req.Project == "" || req.Stage == "" {
			return t, fmt.Errorf("%w: scaling needs a project and a stage to name the namespace, or a namespace in the service's settings", action.ErrInvalid)
		}
		t.Namespace = req.Project + "-" + req.Stage
	}
	if t.Deployment == "" || t.FallbackDeployment == "" {
		if req.Service == "" {
			return t, fmt.Errorf("%w: scaling needs a service to name the deployment, or a deployment in the service's settings", action.ErrInvalid)
		}
	}
	if t.Deployment == "" {
		t.Deployment = req.Service + "-primary"
	}
	if t.FallbackDeployment == "" {
		t.FallbackDeployment = req.Service
	}
	if errs := validation.IsDNS1123Label(t.Namespace); len(errs) > 0 {
		return t, fmt.Errorf("%w: %q is not a valid Kubernetes namespace (%s); set the service's namespace in its scaling settings", action.ErrInvalid, t.Namespace, strings.Join(errs, "; "))
	}
	for _, name := range []string{t.Deployment, t.FallbackDeployment} {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return t, fmt.Errorf("%w: %q is not a valid Kubernetes deployment name (%s); set the service's deployment in its scaling settings", action.ErrInvalid, name, strings.Join(errs, "; "))
		}
	}
	return t, nil
}

// Prepare reads the current replica count (or the HPA's minReplicas) and
// returns the absolute target. It changes nothing.
func (e *Executor) Prepare(ctx context.Context, req action.Request) (action.Plan, error) {
	if req.Action != "" && req.Action != ActionType {
		return action.Plan{}, fmt.Errorf("%w: the scaling executor cannot run action %q", action.ErrInvalid, req.Action)
	}
	delta, err := ParseDelta(req.Value)
	if err != nil {
		return action.Plan{}, err
	}
	var t Target
	if e.opts.Target != nil {
		if t, err = e.opts.Target(ctx, req); err != nil {
			return action.Plan{}, fmt.Errorf("scaling: settings of service %q: %w", req.Service, err)
		}
	}
	if t, err = resolve(req, t); err != nil {
		return action.Plan{}, err
	}
	var d planData
	if t.HTTP != nil {
		d, err = e.prepareHTTP(ctx, t, delta)
	} else {
		d, err = e.prepareKubernetes(ctx, t, delta)
	}
	if err != nil {
		return action.Plan{}, err
	}
	return newPlan(d)
}

// prepareKubernetes finds the Deployment (or its fallback) and the HPA
// managing it, and plans the change.
func (e *Executor) prepareKubernetes(ctx context.Context, t Target, delta int32) (planData, error) {
	if e.client == nil {
		return planData{}, fmt.Errorf("%w: scaling deployment %s/%s needs a Kubernetes cluster, and none is configured (in-cluster config or a kubeconfig)", action.ErrInvalid, t.Namespace, t.Deployment)
	}
	deployments := e.client.AppsV1().Deployments(t.Namespace)
	name := t.Deployment
	scale, err := deployments.GetScale(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && t.FallbackDeployment != t.Deployment {
		name = t.FallbackDeployment
		scale, err = deployments.GetScale(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return planData{}, fmt.Errorf("%w: neither deployment %q nor %q exists in namespace %q; set the service's namespace and deployment in its scaling settings", action.ErrInvalid, t.Deployment, t.FallbackDeployment, t.Namespace)
		}
	}
	if err != nil {
		return planData{}, apiError(err, "get", "deployments/scale", t.Namespace, name)
	}
	d := planData{Kind: kindDeployment, Namespace: t.Namespace, Name: name, From: scale.Spec.Replicas}

	hpa, err := e.findHPA(ctx, t.Namespace, name)
	if err != nil {
		return planData{}, err
	}
	if hpa != nil {
		d.Kind, d.ViaHPA, d.HPA = kindHPA, true, hpa.Name
		d.From = minReplicas(hpa)
		d.Max = min(hpa.Spec.MaxReplicas, t.MaxReplicas)
		what := fmt.Sprintf("the maxReplicas of HPA %s/%s", t.Namespace, hpa.Name)
		if t.MaxReplicas < hpa.Spec.MaxReplicas {
			what = "the limit"
		}
		d.To, err = step(d.From, delta, limits{min: t.MinReplicas, max: d.Max, what: what})
		if err != nil {
			return planData{}, fmt.Errorf("scaling deployment %s/%s through HPA %s minReplicas: %w", t.Namespace, name, hpa.Name, err)
		}
		return d, nil
	}
	d.To, err = step(d.From, delta, limits{min: t.MinReplicas, max: t.MaxReplicas, what: "the limit"})
	if err != nil {
		return planData{}, fmt.Errorf("scaling deployment %s/%s: %w", t.Namespace, name, err)
	}
	return d, nil
}

// findHPA returns the autoscaling/v2 HPA in namespace whose scale target is
// Deployment name, or nil when there is none.
func (e *Executor) findHPA(ctx context.Context, namespace, name string) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	list, err := e.client.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, apiError(err, "list", "horizontalpodautoscalers", namespace, "")
	}
	for i := range list.Items {
		ref := list.Items[i].Spec.ScaleTargetRef
		group, _, _ := strings.Cut(ref.APIVersion, "/")
		if ref.Kind == "Deployment" && ref.Name == name && (group == "apps" || ref.APIVersion == "") {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// minReplicas is the HPA's effective minReplicas (Kubernetes defaults an
// unset one to 1).
func minReplicas(hpa *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if hpa.Spec.MinReplicas == nil {
		return 1
	}
	return *hpa.Spec.MinReplicas
}

// newPlan turns d into the stored plan with its summary and changes.
func newPlan(d planData) (action.Plan, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return action.Plan{}, fmt.Errorf("scaling: encode plan: %w", err)
	}
	change := action.Change{From: strconv.Itoa(int(d.From)), To: strconv.Itoa(int(d.To))}
	var summary string
	switch d.Kind {
	case kindDeployment:
		change.Target = fmt.Sprintf("deployment/%s/%s replicas", d.Namespace, d.Name)
		summary = fmt.Sprintf("scale deployment %s/%s from %d to %d replicas", d.Namespace, d.Name, d.From, d.To)
	case kindHPA:
		change.Target = fmt.Sprintf("hpa/%s/%s minReplicas", d.Namespace, d.HPA)
		summary = fmt.Sprintf("set minReplicas of HPA %s/%s (which scales deployment %s) from %d to %d", d.Namespace, d.HPA, d.Name, d.From, d.To)
	case kindHTTP:
		change.Target = fmt.Sprintf("http %s replicas", d.URL)
		summary = fmt.Sprintf("scale %s from %d to %d replicas", d.URL, d.From, d.To)
	}
	return action.Plan{Action: ActionType, Summary: summary, Changes: []action.Change{change}, Data: data}, nil
}

// Apply sets exactly the planned replica count (or HPA minReplicas). When
// the target already holds it, Apply succeeds without writing. When it
// holds neither the planned From nor To (someone scaled it since the plan
// was recorded), Apply writes nothing and returns an *action.ConflictError.
func (e *Executor) Apply(ctx context.Context, req action.Request, plan action.Plan) (action.Result, error) {
	var d planData
	if err := json.Unmarshal(plan.Data, &d); err != nil {
		return action.Result{}, fmt.Errorf("%w: scaling plan data is unreadable: %v", action.ErrInvalid, err)
	}
	if d.To < 1 && d.Kind != kindDeployment || d.To < 0 {
		return action.Result{}, fmt.Errorf("%w: scaling plan target %d is out of range", action.ErrInvalid, d.To)
	}
	var (
		changed bool
		err     error
	)
	switch d.Kind {
	case kindDeployment:
		changed, err = e.applyDeployment(ctx, d)
	case kindHPA:
		changed, err = e.applyHPA(ctx, d)
	case kindHTTP:
		changed, err = e.applyHTTP(ctx, req, d)
	default:
		return action.Result{}, fmt.Errorf("%w: scaling plan has unknown kind %q", action.ErrInvalid, d.Kind)
	}
	if err != nil {
		return action.Result{}, err
	}
	msg := plan.Summary
	if msg == "" {
		msg = fmt.Sprintf("scaled to %d", d.To)
	}
	if changed {
		msg = "done: " + msg
	} else {
		msg = fmt.Sprintf("already done, nothing changed: %s", msg)
	}
	return action.Result{Message: msg, Changes: plan.Changes}, nil
}

// backoff returns the retry pacing for conflicts.
func (e *Executor) backoff() wait.Backoff {
	if e.opts.Retry.Steps == 0 {
		return retry.DefaultRetry
	}
	return e.opts.Retry
}

// applyDeployment writes the scale subresource, retrying on conflicts.
func (e *Executor) applyDeployment(ctx context.Context, d planData) (changed bool, err error) {
	if e.client == nil {
		return false, fmt.Errorf("%w: scaling deployment %s/%s needs a Kubernetes cluster, and none is configured", action.ErrInvalid, d.Namespace, d.Name)
	}
	deployments := e.client.AppsV1().Deployments(d.Namespace)
	err = retry.RetryOnConflict(e.backoff(), func() error {
		scale, err := deployments.GetScale(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if scale.Spec.Replicas == d.To {
			changed = false
			return nil
		}
		if scale.Spec.Replicas != d.From {
			return conflict(d, scale.Spec.Replicas)
		}
		// The scale keeps the resourceVersion it was read with, so a
		// concurrent change makes this update fail with a conflict
		// rather than be overwritten unseen.
		scale.Spec.Replicas = d.To
		_, err = deployments.UpdateScale(ctx, d.Name, scale, metav1.UpdateOptions{})
		changed = err == nil
		return err
	})
	if errors.Is(err, action.ErrConflict) {
		return false, err
	}
	if err != nil {
		return false, apiError(err, "update", "deployments/scale", d.Namespace, d.Name)
	}
	return changed, nil
}

// applyHPA sets the HPA's minReplicas, retrying on conflicts.
func (e *Executor) applyHPA(ctx context.Context, d planData) (changed bool, err error) {
	if e.client == nil {
		return false, fmt.Errorf("%w: scaling HPA %s/%s needs a Kubernetes cluster, and none is configured", action.ErrInvalid, d.Namespace, d.HPA)
	}
	hpas := e.client.AutoscalingV2().HorizontalPodAutoscalers(d.Namespace)
	verb := "get"
	err = retry.RetryOnConflict(e.backoff(), func() error {
		verb = "get"
		hpa, err := hpas.Get(ctx, d.HPA, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if minReplicas(hpa) == d.To {
			changed = false
			return nil
		}
		if minReplicas(hpa) != d.From {
			return conflict(d, minReplicas(hpa))
		}
		if d.To > hpa.Spec.MaxReplicas {
			return fmt.Errorf("%w: HPA %s/%s now has maxReplicas %d, below the planned minReplicas %d", action.ErrInvalid, d.Namespace, d.HPA, hpa.Spec.MaxReplicas, d.To)
		}
		to := d.To
		hpa.Spec.MinReplicas = &to
		verb = "update"
		_, err = hpas.Update(ctx, hpa, metav1.UpdateOptions{})
		changed = err == nil
		return err
	})
	if err != nil {
		if errors.Is(err, action.ErrInvalid) {
			return false, err
		}
		return false, apiError(err, verb, "horizontalpodautoscalers", d.Namespace, d.HPA)
	}
	return changed, nil
}

// conflict is the error of a plan whose target holds found, neither the
// plan's From nor its To.
func conflict(d planData, found int32) error {
	plan, err := newPlan(d)
	if err != nil {
		return err
	}
	return &action.ConflictError{Change: plan.Changes[0], Found: strconv.Itoa(int(found))}
}

// apiError wraps a Kubernetes API error with what was attempted, turning
// the errors that retrying cannot fix (forbidden, unauthorized, not found,
// invalid) into final ones with a hint at the fix.
func apiError(err error, verb, resource, namespace, name string) error {
	obj := namespace + "/" + name
	if name == "" {
		obj = "namespace " + namespace
	}
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w: kubernetes forbids %s on %s (%s): grant tend's service account %q on %q in namespace %q (see docs/actions.md): %w",
			action.ErrInvalid, verb, resource, obj, verb, resource, namespace, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: kubernetes rejected tend's credentials for %s on %s (%s); check the kubeconfig or service account token: %w", action.ErrInvalid, verb, resource, obj, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %s %s not found: %w", action.ErrInvalid, resource, obj, err)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return fmt.Errorf("%w: kubernetes refused %s on %s (%s): %w", action.ErrInvalid, verb, resource, obj, err)
	}
	return fmt.Errorf("scaling: %s %s %s: %w", verb, resource, obj, err)
}
