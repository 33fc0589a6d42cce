package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	k8s "k8s.io/client-go/kubernetes"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/action/webhook"
	"github.com/tendhq/tend/internal/evaluator"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/remediator"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/worker"
)

// RemediationOptions replace parts of the remediation loop. Tests use them
// to put fakes in place of real systems; the zero value wires the real
// executors from Options.Config.
type RemediationOptions struct {
	// KubeClient is the cluster the scaling action acts on; nil means the
	// one Config.Kubernetes names (none when it cannot be found: services
	// then scale only through HTTP scale targets).
	KubeClient k8s.Interface
	// Executors add or replace executors by action name.
	Executors map[string]action.Executor
	// Evaluator replaces the SLO evaluation that verifies actions.
	Evaluator remediator.Evaluator
	// HTTPClient makes the executors' HTTP calls (Unleash, webhooks, HTTP
	// scale targets); nil means the client of the outbound policy.
	HTTPClient *http.Client
	// StepTimeout bounds one executor call or evaluation; 0 means 2
	// minutes.
	StepTimeout time.Duration
}

// newRemediation builds the remediation loop with the real executors and
// registers it on the worker. h runs the verifying evaluations.
func (a *App) newRemediation(r *worker.Runner, h *evaluator.Handler) error {
	cfg := a.opts.Config
	ro := a.opts.Remediation
	defaults := settings.Defaults{
		Limits: remediation.Limits{
			MaxReplicas: cfg.Remediation.Limits.MaxReplicas, Cooldown: cfg.Remediation.Limits.Cooldown,
			MaxActionsPerHour: cfg.Remediation.Limits.MaxActionsPerHour, DryRun: cfg.Remediation.Limits.DryRun,
		},
		Settling: cfg.Remediation.Settling,
	}

	kube := ro.KubeClient
	if kube == nil && !cfg.Kubernetes.Disabled {
		c, err := kubernetes.NewClientset(cfg.Kubernetes.Kubeconfig)
		if err != nil {
			a.log.Info("remediation_no_cluster", "reason", err.Error(),
				"hint", "scaling acts only on HTTP scale targets; set kubernetes.kubeconfig in tend.yaml or TEND_KUBECONFIG")
		} else {
			kube = c
		}
	}
	client := ro.HTTPClient
	if client == nil {
		client = a.httpClient
	}
	notifier := webhook.NewNotifier(a.escalationSettings, remediator.History(a.store), webhook.Options{Client: client, Timeout: cfg.Escalation.Timeout})

	parts := executorParts{store: a.store, http: client, kube: kube, defaults: defaults, outbound: a.outbound}
	execs := map[string]action.Executor{webhook.ActionEscalate: notifier}
	for _, at := range actionTypes {
		ex := at.build(parts)
		for _, name := range at.names {
			execs[name] = ex
		}
	}
	for name, ex := range ro.Executors {
		execs[name] = ex
	}
	eval := ro.Evaluator
	if eval == nil {
		eval = remediator.EvaluatorFunc(func(ctx context.Context, r remediator.EvaluationRequest) (slo.Evaluation, error) {
			return h.Evaluate(ctx, evaluator.Request{
				Project: r.Project, Stage: r.Stage, Service: r.Service, Start: r.Start, End: r.End,
				KeptnContext: r.KeptnContext, TriggeredID: r.TriggeredID,
			})
		})
	}
	loop, err := remediator.New(remediator.Options{
		Store:           a.store,
		Executors:       execs,
		Evaluator:       eval,
		Burn:            budgets{a},
		Notifier:        notifier,
		Defaults:        defaults,
		ExternalTimeout: cfg.Remediation.ExternalTimeout,
		StepTimeout:     ro.StepTimeout,
		StepAttempts:    cfg.Remediation.StepAttempts,
		OutageRetry: remediator.OutageRetry{
			Initial: cfg.Remediation.Outage.Backoff, Max: cfg.Remediation.Outage.MaxBackoff, Attempts: cfg.Remediation.Outage.Attempts,
		},
		Logger: a.log,
		Now:    a.opts.Now,
		Specs:  a.specs,
	})
	if err != nil {
		return err
	}
	r.Register(remediation.JobKind, loop.Handle)
	// The watchdog: one job per database escalates remediations left
	// running with no work behind them.
	r.Register(remediator.WatchdogJobKind, loop.Watchdog(cfg.Remediation.Watchdog))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := remediator.ScheduleWatchdog(ctx, a.store); err != nil {
		return fmt.Errorf("schedule the remediation watchdog: %w", err)
	}
	return nil
}

// newProblemRecorder builds the self-healing runner's problem recorder,
// which the API's Alertmanager webhook and problem events call. Stages whose
// shipyard names no settling time get the server-wide one.
func (a *App) newProblemRecorder(repos *resource.Repos) (*remediator.Recorder, error) {
	return remediator.NewRecorder(remediator.RecorderOptions{
		Store: a.store, Resources: repos, Logger: a.opts.Logger, Now: a.opts.Now,
		DefaultSettling: a.opts.Config.Remediation.Settling,
		Specs:           a.specs,
	})
}

// escalationSettings are the server-wide escalation webhook's, the same
// for every project and stage.
func (a *App) escalationSettings(context.Context, string, string) (webhook.NotifyConfig, error) {
	e := a.opts.Config.Escalation
	nc := webhook.NotifyConfig{URL: e.URL.Value, UIURL: a.opts.Config.UIURL, Timeout: e.Timeout}
	if len(e.Headers) > 0 {
		nc.Headers = make(map[string]string, len(e.Headers))
		for k, v := range e.Headers {
			nc.Headers[k] = v.Value
		}
	}
	return nc, nil
}
