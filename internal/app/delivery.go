package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/action/helm"
	"github.com/tendhq/tend/internal/action/httpcheck"
	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/deliverer"
	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/worker"
)

// DeliveryOptions replace parts of the built-in delivery executors; tests
// use them. The zero value wires the real ones from Options.Config.
type DeliveryOptions struct {
	// Deployer carries out deployment, release and rollback; nil means
	// the Helm adapter on the cluster Config.Kubernetes names (none when
	// it cannot be reached or kubernetes.disabled is set: those tasks are
	// then left to integrations).
	Deployer delivery.Deployer
	// HTTPClient makes the built-in tests' requests; nil means the client
	// of the outbound policy.
	HTTPClient *http.Client
	// IntegrationWindow is how recently a subscribed integration must
	// have been seen for tend to leave a task to it; 0 means
	// deliverer.DefaultIntegrationWindow.
	IntegrationWindow time.Duration
}

// newDelivery builds the built-in delivery executors and registers them on
// the worker.
func (a *App) newDelivery(r *worker.Runner, repos *resource.Repos) error {
	do := a.opts.Delivery
	deployer, why := do.Deployer, ""
	if deployer == nil {
		deployer, why = a.newDeployer()
	}
	client := do.HTTPClient
	if client == nil {
		client = a.httpClient
	}
	rule := kubernetes.NamespaceRule{Extra: a.opts.Config.Kubernetes.Namespaces}
	h, err := deliverer.New(deliverer.Options{
		Store:      a.store,
		Resources:  repos,
		Deployer:   deployer,
		NoDeployer: why,
		Checker:    httpcheck.New(client),
		CheckURL:   a.outbound.CheckURL,
		Namespace: func(ctx context.Context, project, stage, service string) (string, error) {
			k, _, err := kubernetes.Schema.Resolve(ctx, a.store, project, stage, service)
			if err != nil {
				return "", err
			}
			ns := k.Namespace
			if ns == "" {
				ns = delivery.Namespace(project, stage)
			}
			if !rule.Allowed(project, []string{stage}, ns) {
				return "", fmt.Errorf("%w: namespace %q of service %s is outside project %s (allowed: %s; list it under kubernetes.namespaces.%s in tend.yaml)",
					deliverer.ErrNamespace, ns, service, project, rule.Describe(project, []string{stage}), project)
			}
			return ns, nil
		},
		IntegrationWindow: do.IntegrationWindow,
		Logger:            a.log,
		Now:               a.opts.Now,
	})
	if err != nil {
		return err
	}
	r.Register(delivery.JobKind, h.Handle)
	return nil
}

// newDeployer builds the Helm adapter on the configured cluster, or says
// why there is none.
func (a *App) newDeployer() (delivery.Deployer, string) {
	cfg := a.opts.Config.Kubernetes
	if cfg.Disabled {
		return nil, "kubernetes.disabled is set in tend.yaml"
	}
	rc, err := kubernetes.RESTConfig(cfg.Kubeconfig)
	if err != nil {
		a.log.Info("delivery_no_cluster", "reason", err.Error(),
			"hint", "deployment, release and rollback tasks go to integrations; set kubernetes.kubeconfig in tend.yaml or TEND_KUBECONFIG")
		return nil, err.Error()
	}
	// A rollout waits for minutes; the adapter's own calls are bounded by
	// the REST config's timeout.
	d, err := helm.New(rc, helm.Options{Logger: a.log, ReservedNamespaces: ownNamespace()})
	if err != nil {
		return nil, err.Error()
	}
	return d, ""
}

// serviceAccountNamespace is where Kubernetes tells a pod its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is the namespace tend runs in, when it runs in a pod: a
// chart delivered there would run with tend's ServiceAccount.
func ownNamespace() []string {
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return nil
	}
	if ns := strings.TrimSpace(string(b)); ns != "" {
		return []string{ns}
	}
	return nil
}
