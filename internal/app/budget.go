package app

import (
	"context"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/remediator"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/slo"
)

// budgets reads Sloth's recording rules from the Prometheus a project,
// stage or service is configured with (its monitoring setting): the budget
// SLOs of the API and the UI, and the short-window burn that verifies a
// remediation started by a page alert. The provider finds the series by
// the label names of tend.yaml intake.labels (App.sliProvider), the names
// the generated rules carry.
type budgets struct{ a *App }

var (
	_ api.BudgetReader      = budgets{}
	_ remediator.BurnReader = budgets{}
)

// prometheus resolves the monitoring setting of the scope and builds its
// Prometheus provider.
func (b budgets) prometheus(ctx context.Context, project, stage, service string) (*prometheus.Provider, error) {
	sel, err := monitoring.Resolve(ctx, b.a.store, project, stage, service)
	if err != nil {
		return nil, err
	}
	if sel.Variant != prometheus.Schema.Key() {
		return nil, fmt.Errorf("%w (it is %s)", api.ErrNoPrometheus, sel.Variant)
	}
	if err := monitoring.Check(sel); err != nil {
		return nil, fmt.Errorf("the prometheus configuration is unusable: %w", err)
	}
	p, err := b.a.sliProvider(sel)
	if err != nil {
		return nil, err
	}
	pp, ok := p.(*prometheus.Provider)
	if !ok {
		return nil, fmt.Errorf("%w (its provider is %T)", api.ErrNoPrometheus, p)
	}
	return pp, nil
}

// Budgets implements api.BudgetReader with the Prometheus of the scope
// asked for: the project's, or the stage's or service's when the listing
// is narrowed to them (monitoring set for a service only still lists).
func (b budgets) Budgets(ctx context.Context, project, stage, service string) ([]slo.BudgetStatus, error) {
	p, err := b.prometheus(ctx, project, stage, service)
	if err != nil {
		return nil, err
	}
	return p.Budgets(ctx, prometheus.BudgetFilter{Project: project, Stage: stage, Service: service}, b.a.opts.Now())
}

// History reads the history of a budget SLO that Budgets listed for the
// same project, stage and service, for the UI's charts. An SLO placed in
// another project is refused: the project's read access does not reach
// it.
func (b budgets) History(ctx context.Context, project, stage, service string, s slo.BudgetStatus, start, end time.Time, step time.Duration) (slo.BudgetHistory, error) {
	if s.Project != "" && s.Project != project {
		return slo.BudgetHistory{}, fmt.Errorf("budget SLO %s belongs to another project than %s", s.ID, project)
	}
	p, err := b.prometheus(ctx, project, stage, service)
	if err != nil {
		return slo.BudgetHistory{}, err
	}
	return p.History(ctx, s, start, end, step)
}

// ShortBurn implements remediator.BurnReader with the service's Prometheus.
func (b budgets) ShortBurn(ctx context.Context, r remediator.BurnRequest) (remediation.BurnSample, error) {
	p, err := b.prometheus(ctx, r.Project, r.Stage, r.Service)
	if err != nil {
		return remediation.BurnSample{}, err
	}
	return p.ShortBurn(ctx, r.Alert, prometheus.BudgetFilter{Project: r.Project, Stage: r.Stage, Service: r.Service}, r.At)
}
