package kubernetes

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
)

// Settings say where a service's scaling acts, as the "kubernetes" setting
// stores them. Empty fields keep the defaults: namespace
// <project>-<stage>, deployment <service>-primary, falling back to
// <service>. Scopes merge field by field.
type Settings struct {
	Namespace          string `json:"namespace,omitempty"`
	Deployment         string `json:"deployment,omitempty"`
	FallbackDeployment string `json:"fallbackDeployment,omitempty"`
	// ScaleURL selects the HTTP scale target (GET/PUT {"replicas": N})
	// instead of a Kubernetes Deployment.
	ScaleURL string `json:"scaleURL,omitempty"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Schema is the "kubernetes" setting.
var Schema = settings.Define(settings.Spec[Settings]{
	Key: "kubernetes",
	Doc: settings.Doc{
		What:    "kubernetes settings",
		Title:   "Scaling",
		Summary: "Set where scaling acts (namespace, deployment, fallbackDeployment, or an HTTP scaleURL), for the project, a stage, a service or a service in a stage.",
		Op:      "KubernetesConfig", Body: "KubernetesConfig",
		Short: "Set where scaling actions act",
		Long: `Configure kubernetes says where the scaling action of a project, stage or
service acts. By default it scales Deployment <service>-primary, else
<service>, in namespace <project>-<stage>, through the scale subresource (or
an HPA's minReplicas when one manages it). --scale-url instead scales
through an HTTP scale endpoint (GET and PUT {"replicas": N}), as the carts
demo service offers.`,
		Example: `  tend configure kubernetes --project sockshop --stage production --service carts --namespace shop
  tend configure kubernetes --project sockshop --service carts --scale-url http://127.0.0.1:8081/scale`,
	},
	Fields: []settings.Field{
		{Name: "namespace", Usage: "namespace of the Deployment (default <project>-<stage>)"},
		{Name: "deployment", Usage: "Deployment to scale (default <service>-primary)"},
		{Name: "fallbackDeployment", Flag: "fallback-deployment", Usage: "Deployment to scale when --deployment does not exist (default <service>)"},
		{Name: "scaleURL", Flag: "scale-url", Usage: "HTTP scale endpoint to use instead of Kubernetes", Endpoint: true},
	},
	Check: func(k *Settings) []string {
		var probs []string
		if k.Namespace != "" && (len(k.Namespace) > 63 || !dnsLabel.MatchString(k.Namespace)) {
			probs = append(probs, fmt.Sprintf("namespace %q is not a Kubernetes namespace name (lower-case letters, digits and -)", k.Namespace))
		}
		for _, n := range []struct{ what, v string }{{"deployment", k.Deployment}, {"fallbackDeployment", k.FallbackDeployment}} {
			if n.v != "" && (len(n.v) > 253 || !dnsLabel.MatchString(strings.ReplaceAll(n.v, ".", "-"))) {
				probs = append(probs, fmt.Sprintf("%s %q is not a Kubernetes deployment name", n.what, n.v))
			}
		}
		if k.ScaleURL != "" {
			if p := settings.CheckURL("scaleURL", k.ScaleURL, false); p != "" {
				probs = append(probs, p)
			}
		}
		return probs
	},
	Merge: func(dst *Settings, src Settings) {
		if src.Namespace != "" {
			dst.Namespace = src.Namespace
		}
		if src.Deployment != "" {
			dst.Deployment = src.Deployment
		}
		if src.FallbackDeployment != "" {
			dst.FallbackDeployment = src.FallbackDeployment
		}
		if src.ScaleURL != "" {
			dst.ScaleURL = src.ScaleURL
		}
	},
})

// ResolveTarget merges the Kubernetes settings of the service a request
// names into its scaling target. maxReplicas is the remediation policy's
// replica limit (0: no limit), which app resolves and hands in, so this
// package needs nothing of the remediation loop.
func ResolveTarget(ctx context.Context, g settings.Getter, req action.Request, maxReplicas int) (Target, error) {
	k, _, err := Schema.Resolve(ctx, g, req.Project, req.Stage, req.Service)
	if err != nil {
		return Target{}, err
	}
	t := Target{Namespace: k.Namespace, Deployment: k.Deployment, FallbackDeployment: k.FallbackDeployment}
	if k.ScaleURL != "" {
		t.HTTP = &HTTPTarget{URL: k.ScaleURL}
	}
	if maxReplicas > 0 {
		t.MaxReplicas = int32(min(maxReplicas, 1<<30))
	} else {
		t.MaxReplicas = 1 << 30 // no limit configured
	}
	return t, nil
}

// NamespaceRule says which namespaces the tokens of a project may point
// scaling at: <project>-<stage> for the project's stages, and those that
// tend.yaml's kubernetes.namespaces lists for the project. Any other
// namespace (kube-system, another project's) needs an unrestricted admin
// token, so that a project's write token cannot scale what is not the
// project's.
type NamespaceRule struct {
	// Extra lists, per project, the namespaces allowed besides the
	// defaults.
	Extra map[string][]string
}

// Allowed reports whether ns may be set for project by the project's own
// tokens; stages are the stages the setting applies to.
func (n NamespaceRule) Allowed(project string, stages []string, ns string) bool {
	if ns == "" {
		return true // the default, <project>-<stage>
	}
	for _, st := range stages {
		if ns == project+"-"+st {
			return true
		}
	}
	for _, x := range n.Extra[project] {
		if ns == x {
			return true
		}
	}
	return false
}

// Describe lists what Allowed accepts, for messages.
func (n NamespaceRule) Describe(project string, stages []string) string {
	var out []string
	for _, st := range stages {
		out = append(out, project+"-"+st)
	}
	out = append(out, n.Extra[project]...)
	if len(out) == 0 {
		return "no namespace"
	}
	return strings.Join(out, ", ")
}
