package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tendhq/tend/internal/action"
)

func TestParseDelta(t *testing.T) {
	valid := []struct {
		name  string
		value any
		want  int32
	}{
		{"plus one", "+1", 1},
		{"one without sign adds one", "1", 1},
		{"minus one", "-1", -1},
		{"plus two", "+2", 2},
		{"spaces around", " +1 ", 1},
		{"YAML integer from unquoted +1", 1, 1},
		{"int64", int64(-1), -1},
		{"uint64", uint64(3), 3},
		{"JSON number as float64", float64(2), 2},
		{"json.Number", json.Number("-2"), -2},
		{"largest step", "+1000", 1000},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDelta(tc.value)
			if err != nil {
				t.Fatalf("ParseDelta(%#v): %v", tc.value, err)
			}
			if got != tc.want {
				t.Errorf("ParseDelta(%#v) = %d, want %d", tc.value, got, tc.want)
			}
		})
	}
	invalid := []struct {
		name  string
		value any
		msg   string
	}{
		{"nil", nil, "needs a value"},
		{"empty", "", "not a whole number"},
		{"sign only", "+", "not a whole number"},
		{"word", "up", "not a whole number"},
		{"double sign", "+-1", "not a whole number"},
		{"two plus", "++1", "not a whole number"},
		{"fraction string", "1.5", "not a whole number"},
		{"fraction float", 1.5, "not a whole number"},
		{"zero", "0", "changes nothing"},
		{"plus zero", "+0", "changes nothing"},
		{"zero int", 0, "changes nothing"},
		{"huge", "99999999999999999999", "too large"},
		{"too big a step", "+1001", "more than 1000"},
		{"too big a step down", -5000, "more than 1000"},
		{"map", map[string]any{"replicas": 2}, "got a map"},
		{"bool", true, "got a bool"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			got, err := ParseDelta(tc.value)
			if !errors.Is(err, action.ErrInvalid) {
				t.Fatalf("ParseDelta(%#v) = %d, %v; want an error wrapping ErrInvalid", tc.value, got, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParseDelta(%#v) error %q does not say %q", tc.value, err, tc.msg)
			}
		})
	}
}

func FuzzParseDelta(f *testing.F) {
	for _, s := range []string{"+1", "1", "-1", "+2", "", "0", "+-1", "1.5", " 7 ", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDelta(s)
		if err != nil {
			if !errors.Is(err, action.ErrInvalid) {
				t.Fatalf("ParseDelta(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if n == 0 || n > maxDelta || n < -maxDelta {
			t.Fatalf("ParseDelta(%q) = %d, outside the allowed steps", s, n)
		}
	})
}

func TestStep(t *testing.T) {
	l := limits{min: 1, max: 10, what: "the limit"}
	tests := []struct {
		name           string
		current, delta int32
		want           int32
		err            string
	}{
		{"one up", 1, 1, 2, ""},
		{"two up", 1, 2, 3, ""},
		{"clamped at the limit", 9, 2, 10, ""},
		{"at the limit", 10, 1, 0, "already at the limit of 10 replicas"},
		{"above the limit", 12, 1, 0, "already at the limit of 10 replicas"},
		{"down above the limit lands below it", 12, -1, 11, ""},
		{"from zero up", 0, 1, 1, ""},
		{"one down", 3, -1, 2, ""},
		{"clamped at the minimum", 3, -5, 1, ""},
		{"at the minimum", 1, -1, 0, "already at the minimum of 1 replicas"},
		{"below the minimum", 0, -1, 0, "already at the minimum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := step(tc.current, tc.delta, l)
			if tc.err != "" {
				if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("step(%d, %d) = %d, %v; want ErrInvalid saying %q", tc.current, tc.delta, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("step(%d, %d) = %d, %v; want %d", tc.current, tc.delta, got, err, tc.want)
			}
		})
	}
}

// cluster is a fake clientset whose Deployments answer the scale
// subresource the way kube-apiserver does (the fake alone does not).
type cluster struct {
	*fake.Clientset
	scaleUpdates int
}

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

func newCluster(t testing.TB, objs ...runtime.Object) *cluster {
	t.Helper()
	c := &cluster{Clientset: fake.NewClientset(objs...)}
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		name := a.(k8stesting.GetAction).GetName()
		obj, err := c.Tracker().Get(deploymentsGVR, a.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
		}, nil
	})
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		s := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		obj, err := c.Tracker().Get(deploymentsGVR, a.GetNamespace(), s.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Spec.Replicas = &s.Spec.Replicas
		if err := c.Tracker().Update(deploymentsGVR, d, d.Namespace); err != nil {
			return true, nil, err
		}
		c.scaleUpdates++
		return true, s, nil
	})
	return c
}

func (c *cluster) replicas(t testing.TB, ns, name string) int32 {
	t.Helper()
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, name, err)
	}
	return *d.Spec.Replicas
}

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
	}
}

func hpa(ns, name, target string, minR *int32, maxR int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MinReplicas:    minR,
			MaxReplicas:    maxR,
		},
	}
}

func ptr(n int32) *int32 { return &n }

func scaleRequest(value any) action.Request {
	return action.Request{Key: "rem-1/0", Project: "sockshop", Stage: "production", Service: "carts", Action: "scaling", Value: value}
}

func planOf(t testing.TB, p action.Plan) planData {
	t.Helper()
	var d planData
	if err := json.Unmarshal(p.Data, &d); err != nil {
		t.Fatalf("plan data %s: %v", p.Data, err)
	}
	return d
}

func TestScaleDeployment(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, deployment("sockshop-production", "carts-primary", 1), deployment("sockshop-production", "carts", 1))
	e := New(c, Options{})
	req := scaleRequest("+1")

	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := []action.Change{{Target: "deployment/sockshop-production/carts-primary replicas", From: "1", To: "2"}}
	if len(plan.Changes) != 1 || plan.Changes[0] != want[0] {
		t.Errorf("plan changes = %+v, want %+v", plan.Changes, want)
	}
	if d := planOf(t, plan); d.Namespace != "sockshop-production" || d.Name != "carts-primary" || d.From != 1 || d.To != 2 || d.ViaHPA {
		t.Errorf("plan data = %+v", d)
	}
	if plan.Action != "scaling" || !strings.Contains(plan.Summary, "from 1 to 2") {
		t.Errorf("plan = %+v", plan)
	}
	if got := c.replicas(t, "sockshop-production", "carts-primary"); got != 1 {
		t.Fatalf("Prepare changed replicas to %d", got)
	}

	res, err := e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := c.replicas(t, "sockshop-production", "carts-primary"); got != 2 {
		t.Errorf("replicas after Apply = %d, want 2", got)
	}
	if got := c.replicas(t, "sockshop-production", "carts"); got != 1 {
		t.Errorf("the canary deployment changed to %d replicas", got)
	}
	if !strings.HasPrefix(res.Message, "done:") || len(res.Changes) != 1 {
		t.Errorf("result = %+v", res)
	}

	// A replay after a crash applies the same plan again.
	res, err = e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if got := c.replicas(t, "sockshop-production", "carts-primary"); got != 2 {
		t.Errorf("replicas after second Apply = %d, want 2", got)
	}
	if c.scaleUpdates != 1 {
		t.Errorf("scale updates = %d, want 1 (the second Apply must not write)", c.scaleUpdates)
	}
	if !strings.Contains(res.Message, "already done") {
		t.Errorf("second Apply message = %q, want it to say nothing changed", res.Message)
	}
}

func TestScaleDeploymentTargets(t *testing.T) {
	tests := []struct {
		name     string
		objs     []runtime.Object
		target   Target
		req      action.Request
		wantNS   string
		wantName string
		wantTo   int32
		err      string
	}{
		{
			name:     "falls back to the service name",
			objs:     []runtime.Object{deployment("sockshop-production", "carts", 2)},
			req:      scaleRequest("1"),
			wantNS:   "sockshop-production",
			wantName: "carts",
			wantTo:   3,
		},
		{
			name: "neither deployment exists",
			objs: []runtime.Object{deployment("sockshop-staging", "carts-primary", 1)},
			req:  scaleRequest("+1"),
			err:  `neither deployment "carts-primary" nor "carts" exists in namespace "sockshop-production"`,
		},
		{
			name:     "configured namespace and deployment",
			objs:     []runtime.Object{deployment("shop", "carts-v2", 1)},
			target:   Target{Namespace: "shop", Deployment: "carts-v2"},
			req:      scaleRequest("+2"),
			wantNS:   "shop",
			wantName: "carts-v2",
			wantTo:   3,
		},
		{
			name:   "fallback disabled",
			objs:   []runtime.Object{deployment("sockshop-production", "carts", 1)},
			target: Target{Deployment: "carts-primary", FallbackDeployment: "carts-primary"},
			req:    scaleRequest("+1"),
			err:    "deployments/scale sockshop-production/carts-primary not found",
		},
		{
			name:     "configured limit clamps",
			objs:     []runtime.Object{deployment("sockshop-production", "carts-primary", 2)},
			target:   Target{MaxReplicas: 3},
			req:      scaleRequest("+5"),
			wantNS:   "sockshop-production",
			wantName: "carts-primary",
			wantTo:   3,
		},
		{
			name: "at the default limit",
			objs: []runtime.Object{deployment("sockshop-production", "carts-primary", 10)},
			req:  scaleRequest("+1"),
			err:  "already at the limit of 10 replicas",
		},
		{
			name: "at the minimum",
			objs: []runtime.Object{deployment("sockshop-production", "carts-primary", 1)},
			req:  scaleRequest("-1"),
			err:  "already at the minimum of 1 replicas",
		},
		{
			name:     "scale down",
			objs:     []runtime.Object{deployment("sockshop-production", "carts-primary", 4)},
			req:      scaleRequest("-1"),
			wantNS:   "sockshop-production",
			wantName: "carts-primary",
			wantTo:   3,
		},
		{
			name: "namespace that Kubernetes refuses",
			req:  action.Request{Project: "Sock_Shop", Stage: "production", Service: "carts", Value: "+1"},
			err:  `"Sock_Shop-production" is not a valid Kubernetes namespace`,
		},
		{
			name:   "wrong limits",
			target: Target{MinReplicas: 5, MaxReplicas: 3},
			req:    scaleRequest("+1"),
			err:    "minReplicas 5, maxReplicas 3",
		},
		{
			name: "bad value",
			req:  scaleRequest("double"),
			err:  `scaling value "double" is not a whole number`,
		},
		{
			name: "another action",
			req:  action.Request{Project: "sockshop", Stage: "production", Service: "carts", Action: "toggle-feature", Value: "+1"},
			err:  `cannot run action "toggle-feature"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.objs...)
			e := New(c, Options{Target: func(_ context.Context, req action.Request) (Target, error) {
				if req.Service != tc.req.Service {
					t.Errorf("Target asked for service %q", req.Service)
				}
				return tc.target, nil
			}})
			plan, err := e.Prepare(context.Background(), tc.req)
			if tc.err != "" {
				if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Prepare = %+v, %v; want ErrInvalid saying %q", plan, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			d := planOf(t, plan)
			if d.Namespace != tc.wantNS || d.Name != tc.wantName || d.To != tc.wantTo {
				t.Fatalf("plan = %+v, want %s/%s to %d", d, tc.wantNS, tc.wantName, tc.wantTo)
			}
			if _, err := e.Apply(context.Background(), tc.req, plan); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := c.replicas(t, tc.wantNS, tc.wantName); got != tc.wantTo {
				t.Errorf("replicas = %d, want %d", got, tc.wantTo)
			}
		})
	}
}

func TestScaleThroughHPA(t *testing.T) {
	tests := []struct {
		name    string
		hpa     *autoscalingv2.HorizontalPodAutoscaler
		target  Target
		value   any
		wantHPA bool
		from    int32
		to      int32
		err     string
	}{
		{"raises minReplicas", hpa("sockshop-production", "carts-hpa", "carts-primary", ptr(1), 3), Target{}, "+1", true, 1, 2, ""},
		{"unset minReplicas counts as 1", hpa("sockshop-production", "carts-hpa", "carts-primary", nil, 3), Target{}, "+1", true, 1, 2, ""},
		{"clamped at maxReplicas", hpa("sockshop-production", "carts-hpa", "carts-primary", ptr(2), 3), Target{}, "+5", true, 2, 3, ""},
		{"lowers minReplicas", hpa("sockshop-production", "carts-hpa", "carts-primary", ptr(3), 5), Target{}, "-1", true, 3, 2, ""},
		{"beyond maxReplicas fails", hpa("sockshop-production", "carts-hpa", "carts-primary", ptr(3), 3), Target{}, "+1", true, 0, 0,
			"already at the maxReplicas of HPA sockshop-production/carts-hpa of 3 replicas"},
		{"tend's limit below the HPA's", hpa("sockshop-production", "carts-hpa", "carts-primary", ptr(2), 20), Target{MaxReplicas: 2}, "+1", true, 0, 0,
			"already at the limit of 2 replicas"},
		{"HPA of another deployment is ignored", hpa("sockshop-production", "other", "orders-primary", ptr(1), 3), Target{}, "+1", false, 1, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCluster(t, deployment("sockshop-production", "carts-primary", 1), tc.hpa)
			e := New(c, Options{Target: func(context.Context, action.Request) (Target, error) { return tc.target, nil }})
			req := scaleRequest(tc.value)
			plan, err := e.Prepare(ctx, req)
			if tc.err != "" {
				if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Prepare = %+v, %v; want ErrInvalid saying %q", plan, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			d := planOf(t, plan)
			if d.ViaHPA != tc.wantHPA || d.From != tc.from || d.To != tc.to {
				t.Fatalf("plan = %+v, want viaHPA %v from %d to %d", d, tc.wantHPA, tc.from, tc.to)
			}
			for i := 0; i < 2; i++ { // the second Apply is a replay
				if _, err := e.Apply(ctx, req, plan); err != nil {
					t.Fatalf("Apply #%d: %v", i+1, err)
				}
			}
			got, err := c.AutoscalingV2().HorizontalPodAutoscalers("sockshop-production").Get(ctx, tc.hpa.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantHPA {
				if c.replicas(t, "sockshop-production", "carts-primary") != tc.to {
					t.Errorf("deployment not scaled to %d", tc.to)
				}
				if minReplicas(got) != minReplicas(tc.hpa) {
					t.Errorf("unrelated HPA changed to minReplicas %d", minReplicas(got))
				}
				return
			}
			if want := "hpa/sockshop-production/carts-hpa minReplicas"; plan.Changes[0].Target != want {
				t.Errorf("change target = %q, want %q", plan.Changes[0].Target, want)
			}
			if minReplicas(got) != tc.to {
				t.Errorf("HPA minReplicas = %d, want %d", minReplicas(got), tc.to)
			}
			if r := c.replicas(t, "sockshop-production", "carts-primary"); r != 1 {
				t.Errorf("deployment scaled directly to %d; the HPA must do it", r)
			}
			if c.scaleUpdates != 0 {
				t.Errorf("scale subresource written %d times", c.scaleUpdates)
			}
		})
	}
}

func TestApplyHPAMaxLoweredSincePlan(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, deployment("sockshop-production", "carts-primary", 1), hpa("sockshop-production", "carts", "carts-primary", ptr(1), 3))
	e := New(c, Options{})
	req := scaleRequest("+2")
	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := c.AutoscalingV2().HorizontalPodAutoscalers("sockshop-production").Get(ctx, "carts", metav1.GetOptions{})
	h.Spec.MaxReplicas = 2
	if _, err := c.AutoscalingV2().HorizontalPodAutoscalers("sockshop-production").Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, req, plan)
	if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "now has maxReplicas 2, below the planned minReplicas 3") {
		t.Fatalf("Apply = %v, want ErrInvalid about the lowered maxReplicas", err)
	}
}

func TestApplyRetriesConflicts(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, deployment("sockshop-production", "carts-primary", 1))
	conflicts := 2
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "scale" && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "carts-primary", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	e := New(c, Options{Retry: wait.Backoff{Steps: 5, Duration: time.Millisecond}})
	req := scaleRequest("+1")
	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, req, plan); err != nil {
		t.Fatalf("Apply after 2 conflicts: %v", err)
	}
	if got := c.replicas(t, "sockshop-production", "carts-primary"); got != 2 {
		t.Errorf("replicas = %d, want 2", got)
	}

	// Conflicts that never end are reported, and may be retried later.
	conflicts = 100
	plan2, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, req, plan2)
	if err == nil || errors.Is(err, action.ErrInvalid) || !apierrors.IsConflict(err) {
		t.Fatalf("Apply with endless conflicts = %v, want a retryable conflict error", err)
	}
}

func TestForbidden(t *testing.T) {
	forbidden := func(verb, resource, sub string) k8stesting.ReactionFunc {
		return func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != sub {
				return false, nil, nil
			}
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: resource}, "carts-primary",
				errors.New(`User "system:serviceaccount:tend:tend" cannot `+verb+` resource`))
		}
	}
	tests := []struct {
		name, verb, resource, sub string
		inApply                   bool
		want                      string
	}{
		{"get scale", "get", "deployments", "scale", false, `kubernetes forbids get on deployments/scale (sockshop-production/carts-primary): grant tend's service account "get" on "deployments/scale"`},
		{"update scale", "update", "deployments", "scale", true, `kubernetes forbids update on deployments/scale (sockshop-production/carts-primary): grant tend's service account "update"`},
		{"list HPAs", "list", "horizontalpodautoscalers", "", false, `kubernetes forbids list on horizontalpodautoscalers (namespace sockshop-production)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCluster(t, deployment("sockshop-production", "carts-primary", 1))
			c.PrependReactor(tc.verb, tc.resource, forbidden(tc.verb, tc.resource, tc.sub))
			e := New(c, Options{})
			req := scaleRequest("+1")
			plan, err := e.Prepare(ctx, req)
			if tc.inApply {
				if err != nil {
					t.Fatalf("Prepare: %v", err)
				}
				_, err = e.Apply(ctx, req, plan)
			}
			if !errors.Is(err, action.ErrInvalid) || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant a final Forbidden error saying %q", err, tc.want)
			}
		})
	}
}

func TestApplyBadPlan(t *testing.T) {
	e := New(newCluster(t), Options{})
	for name, data := range map[string]string{
		"not JSON":     `{`,
		"unknown kind": `{"kind":"statefulset","to":2}`,
		"negative":     `{"kind":"deployment","namespace":"a","name":"b","to":-1}`,
		"zero via HPA": `{"kind":"hpa","namespace":"a","name":"b","hpa":"c","to":0}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Apply(context.Background(), scaleRequest("+1"), action.Plan{Action: "scaling", Data: json.RawMessage(data)})
			if !errors.Is(err, action.ErrInvalid) {
				t.Fatalf("Apply(%s) = %v, want ErrInvalid", data, err)
			}
		})
	}
}

func TestNoCluster(t *testing.T) {
	e := New(nil, Options{})
	_, err := e.Prepare(context.Background(), scaleRequest("+1"))
	if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "needs a Kubernetes cluster") {
		t.Fatalf("Prepare without a cluster = %v", err)
	}
}

func TestRESTConfigExplicitPath(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	dir := t.TempDir()
	path := dir + "/kubeconfig"
	const cfg = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := RESTConfig(path)
	if err != nil {
		t.Fatalf("RESTConfig: %v", err)
	}
	if got.Host != "https://127.0.0.1:6443" || got.BearerToken != "secret-token" || got.Timeout == 0 {
		t.Errorf("config = host %q token %q timeout %v", got.Host, got.BearerToken, got.Timeout)
	}

	if _, err := RESTConfig(dir + "/missing"); err == nil || !strings.Contains(err.Error(), dir+"/missing") {
		t.Errorf("RESTConfig of a missing file = %v, want an error naming the file", err)
	}
}

// TestApplyChangedSincePlan replays a plan whose target someone scaled
// meanwhile: Apply must report a conflict and leave their change alone.
func TestApplyChangedSincePlan(t *testing.T) {
	tests := []struct {
		name   string
		hpa    *autoscalingv2.HorizontalPodAutoscaler
		change func(ctx context.Context, t *testing.T, c *cluster)
		check  func(t *testing.T, c *cluster)
		target string
	}{
		{
			name: "deployment",
			change: func(ctx context.Context, t *testing.T, c *cluster) {
				d := deployment("sockshop-production", "carts-primary", 5)
				if _, err := c.AppsV1().Deployments("sockshop-production").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *cluster) {
				if got := c.replicas(t, "sockshop-production", "carts-primary"); got != 5 {
					t.Errorf("replicas after the conflicting Apply = %d, want 5", got)
				}
			},
			target: "deployment/sockshop-production/carts-primary replicas is 5, but the plan was 1 -> 2",
		},
		{
			name: "HPA",
			hpa:  hpa("sockshop-production", "carts", "carts-primary", ptr(1), 10),
			change: func(ctx context.Context, t *testing.T, c *cluster) {
				h := hpa("sockshop-production", "carts", "carts-primary", ptr(5), 10)
				if _, err := c.AutoscalingV2().HorizontalPodAutoscalers("sockshop-production").Update(ctx, h, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, c *cluster) {
				h, err := c.AutoscalingV2().HorizontalPodAutoscalers("sockshop-production").Get(context.Background(), "carts", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := minReplicas(h); got != 5 {
					t.Errorf("minReplicas after the conflicting Apply = %d, want 5", got)
				}
			},
			target: "hpa/sockshop-production/carts minReplicas is 5, but the plan was 1 -> 2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			objs := []runtime.Object{deployment("sockshop-production", "carts-primary", 1)}
			if tc.hpa != nil {
				objs = append(objs, tc.hpa)
			}
			c := newCluster(t, objs...)
			e := New(c, Options{})
			req := scaleRequest("+1")
			plan, err := e.Prepare(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(ctx, t, c)
			_, err = e.Apply(ctx, req, plan)
			var ce *action.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, action.ErrConflict) || !errors.Is(err, action.ErrInvalid) {
				t.Fatalf("Apply after a change = %v, want an *action.ConflictError (final)", err)
			}
			if ce.Found != "5" || ce.Change != plan.Changes[0] || !strings.Contains(err.Error(), tc.target) {
				t.Errorf("conflict = %+v (%v), want found 5 and the plan's change, saying %q", ce, err, tc.target)
			}
			tc.check(t, c)
			if c.scaleUpdates != 0 {
				t.Errorf("scale subresource written %d times", c.scaleUpdates)
			}
		})
	}
}
