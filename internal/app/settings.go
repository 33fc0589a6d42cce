package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	k8s "k8s.io/client-go/kubernetes"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/action/unleash"
	"github.com/tendhq/tend/internal/action/webhook"
	"github.com/tendhq/tend/internal/deliverer"
	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/secret"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/sli/dynatrace"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/store"
)

// sliKinds are the SLI providers evaluations can query: one line each.
// Their settings schemas become the variants of the monitoring setting.
var sliKinds = []sli.Kind{
	prometheus.ProviderKind,
	dynatrace.ProviderKind,
	sli.ExternalKind,
}

// actionTypes are the built-in action executors: one line each, with the
// action names an executor serves, its settings schema (nil for none) and
// how it is built from the app's parts. The escalation notifier is not
// here: the loop calls it as its Notifier as well (remediation.go).
var actionTypes = []actionType{
	{[]string{kubernetes.ActionType}, kubernetes.Schema, newScaling},
	{[]string{unleash.ActionToggleFeature, unleash.ActionFeatureToggle}, unleash.Schema, func(p executorParts) action.Executor {
		return unleash.New(unleash.FromSettings(p.store), p.http)
	}},
	{[]string{webhook.ActionWebhook}, webhook.SecretSchema, func(p executorParts) action.Executor {
		return webhook.New(webhookSecrets(p.store), webhook.Options{Client: p.http, Outbound: p.outbound})
	}},
}

// actionType registers one built-in executor.
type actionType struct {
	names    []string
	settings settings.Schema
	build    func(executorParts) action.Executor
}

// executorParts are what executors are built from.
type executorParts struct {
	store    store.Store
	http     *http.Client
	kube     k8s.Interface
	defaults settings.Defaults
	outbound *outbound.Policy
}

// newScaling builds the scaling executor. Its target merges the
// "kubernetes" setting with the replica limit of the remediation policy,
// both resolved here so the executor needs nothing of the loop.
func newScaling(p executorParts) action.Executor {
	hc := p.http
	if hc != nil && hc.Timeout == 0 {
		// The HTTP scale target bounds its calls by the client's timeout.
		c := *hc
		c.Timeout = 30 * time.Second
		hc = &c
	}
	return kubernetes.New(p.kube, kubernetes.Options{
		HTTPClient: hc,
		Target: func(ctx context.Context, req action.Request) (kubernetes.Target, error) {
			pol, err := settings.ResolvePolicy(ctx, p.store, p.defaults, req.Project, req.Stage, req.Service)
			if err != nil {
				return kubernetes.Target{}, err
			}
			return kubernetes.ResolveTarget(ctx, p.store, req, pol.Limits.MaxReplicas)
		},
	})
}

// monitoring is the monitoring setting over sliKinds.
var monitoring = sli.Monitoring(sliKinds...)

// Settings returns the registry of every kind of setting tend stores: the
// API serves and masks them with it, and the CLI builds its configure
// commands from it, so both follow sliKinds and actionTypes.
func Settings() *settings.Registry {
	schemas := []settings.Schema{monitoring, settings.PolicySchema}
	for _, at := range actionTypes {
		if at.settings != nil {
			schemas = append(schemas, at.settings)
		}
	}
	schemas = append(schemas, deliverer.DeliverySchema, deliverer.TestsSchema, settings.PauseSchema)
	r, err := settings.NewRegistry(schemas...)
	if err != nil {
		panic(err) // two schemas with one key: a program error the app tests catch
	}
	return r
}

// sliProvider builds the real provider of a resolved monitoring setting.
func (a *App) sliProvider(sel settings.Selection) (sli.Provider, error) {
	for _, k := range sliKinds {
		if k.Settings.Key() == sel.Variant {
			return k.New(sel.Value, sli.Options{Timeout: a.opts.SLIQueryTimeout, Logger: a.log, HTTPClient: a.httpClient,
				Labels: sli.LabelNames{Project: a.opts.Intake.Labels.ProjectLabel, Stage: a.opts.Intake.Labels.StageLabel, Service: a.opts.Intake.Labels.ServiceLabel}})
		}
	}
	return nil, fmt.Errorf("unknown SLI provider %q; want one of %v", sel.Variant, monitoring.Names())
}

// webhookSecrets resolves the secrets a webhook template names: NAME.KEY is
// a server-wide secret made through Keptn's secrets API (keptn create
// secret); a plain NAME is the project's own secret setting. tend's own
// secret names cannot contain a dot, so the two never collide. Both kinds
// are sent only to the URL prefix they are bound to.
func webhookSecrets(st store.Store) webhook.SecretResolver {
	own := webhook.FromSettings(st)
	return func(ctx context.Context, project, name string, target *url.URL) (string, error) {
		if !secret.IsRef(name) {
			return own(ctx, project, name, target)
		}
		v, bound, err := secret.Resolve(ctx, st, name)
		if err != nil {
			return "", fmt.Errorf("%w: %v", action.ErrInvalid, err)
		}
		if bound == "" {
			return "", fmt.Errorf("%w: secret %q is bound to no receiver and is sent nowhere; add --from-literal=%s=URL-PREFIX to it (keptn update secret)", action.ErrInvalid, name, secret.BoundURLKey)
		}
		if !webhook.Allows(bound, target) {
			return "", fmt.Errorf("%w: secret %q is bound to %s and is not sent to %s://%s", action.ErrInvalid, name, bound, target.Scheme, target.Host)
		}
		return v, nil
	}
}
