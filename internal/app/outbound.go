package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// newOutbound builds the outbound policy of tend.yaml's outbound section
// and the HTTP client every adapter that calls a user-named address uses
// (SLI providers, Unleash, webhooks, HTTP scale targets, escalation), so
// each connection is checked against the policy when it is made.
func newOutbound(c config.Outbound) (*outbound.Policy, *http.Client, error) {
	p, err := outbound.New(outbound.Options{Allow: c.Allow, Deny: c.Deny, AllowFileUpstreams: c.AllowFileUpstreams})
	if err != nil {
		return nil, nil, fmt.Errorf("outbound policy: %w", err)
	}
	return p, p.Client(outbound.TransportOptions{}), nil
}

// settingGuard is the API's SettingGuard: a namespace outside the
// project (kubernetes.NamespaceRule) needs an unrestricted admin token.
func (a *App) settingGuard(ctx context.Context, p auth.Principal, key string, scope store.Scope, value []byte) error {
	if key != kubernetes.Schema.Key() || (p.Scope == auth.ScopeAdmin && p.Project == "") {
		return nil
	}
	var k kubernetes.Settings
	if err := json.Unmarshal(value, &k); err != nil {
		return fmt.Errorf("%w: %v", settings.ErrInvalid, err)
	}
	rule := kubernetes.NamespaceRule{Extra: a.opts.Config.Kubernetes.Namespaces}
	stages := []string{scope.Stage}
	if scope.Stage == "" {
		pr, err := a.store.GetProject(ctx, scope.Project)
		if err != nil {
			return err
		}
		stages = nil
		if sy, _ := spec.DecodeShipyard("shipyard.yaml", pr.Shipyard); sy != nil {
			stages = sy.StageNames()
		}
	}
	if rule.Allowed(scope.Project, stages, k.Namespace) {
		return nil
	}
	return &auth.ForbiddenError{Principal: p, Action: auth.ActionWriteProject, Project: scope.Project,
		Reason: fmt.Sprintf("namespace %q is outside the project: its tokens may point scaling at %s; another namespace needs an unrestricted admin token, or tend.yaml kubernetes.namespaces.%s listing it",
			k.Namespace, rule.Describe(scope.Project, stages), scope.Project)}
}
