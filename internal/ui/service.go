package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
)

type serviceData struct {
	pageBase
	Project, Stage, Service string
	Evaluations             []evaluationItem
	Heatmap                 heatmap
	Charts                  []lineChart
	Breakdown               *breakdown
	ResourcesHref           string
	Notice                  string
	// Deployed is what the service runs in the stage; nil when no
	// delivery reported an image.
	Deployed *deployedView
	// Budget shows the service's budget SLOs; nil when it has none or the
	// project's monitoring is not Prometheus.
	Budget *budgetSection
}

// deployedView is a deployed image with the delivery that reported it.
type deployedView struct {
	Image, EventType, Href string
	Time                   time.Time
}

type breakdown struct {
	Eval             evaluationItem
	Rows             []breakdownRow
	Budget           []budgetRow
	CanInvalidate    bool
	InvalidateAction string
	EventsHref       string
	CSRF             string
}

type breakdownRow struct {
	Name, Metric     string
	Key              bool
	Value, Compared  string
	Status, Score    string
	Pass, Warning    []targetView
	Message          string
	HasCompared      bool
	ValueUnavailable bool
}

// budgetRow is one limit of a budget objective in the breakdown.
type budgetRow struct {
	Name, Check, Value, Limit, Status, Message string
	Unavailable                                bool
}

type targetView struct {
	Criteria, Target string
	Violated         bool
}

func (u *UI) servicePage(w http.ResponseWriter, r *http.Request) {
	project, stage, service, ok := u.pathService(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	evals, err := u.history(ctx, project, stage, service)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	d := serviceData{
		pageBase: base(sess(r), service+" in "+stage, crumb{"Projects", "/"}, crumb{project, projectURL(project)}, crumb{Label: stage + " / " + service}),
		Project:  project, Stage: stage, Service: service, Evaluations: evals,
		ResourcesHref: serviceURL(project, stage, service) + "/resources",
	}
	images, err := u.deployedImages(ctx, store.DeployedFilter{Project: project, Stage: stage, Service: service})
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	if dep, ok := images[[2]string{stage, service}]; ok {
		d.Deployed = &deployedView{Image: dep.Image, EventType: dep.EventType, Href: contextURL(dep.KeptnContext), Time: dep.Time}
	}
	d.Budget = u.loadBudgets(ctx, project, stage, service)
	selected := r.URL.Query().Get("evaluation")
	if selected == "" && len(evals) > 0 {
		selected = evals[len(evals)-1].ID
	}
	if r.URL.Query().Get("invalidated") != "" {
		d.Notice = "The evaluation is now ignored for comparison: later evaluations no longer use it as a baseline."
	}
	d.Heatmap = layoutHeatmap(evals, selected, func(ev evaluationItem) string { return evaluationURL(project, stage, service, ev.ID) })
	d.Charts = layoutLineCharts(evals)
	for _, ev := range evals {
		if ev.ID == selected {
			d.Breakdown = newBreakdown(ev)
			d.Breakdown.CSRF = sess(r).CSRF
			d.Breakdown.EventsHref = contextURL(ev.KeptnContext)
			d.Breakdown.CanInvalidate = !ev.Invalidated && principal(r).Can(auth.ActionWriteProject, project) == nil
			d.Breakdown.InvalidateAction = serviceURL(project, stage, service) + "/evaluations/" + url.PathEscape(ev.KeptnContext) + "/invalidate"
		}
	}
	u.render(w, r, http.StatusOK, "service", d)
}

// pathService reads the service of the path and answers for it when the
// session may not read its project or the service is not in the stage.
func (u *UI) pathService(w http.ResponseWriter, r *http.Request) (project, stage, service string, ok bool) {
	project, stage, service = r.PathValue("project"), r.PathValue("stage"), r.PathValue("service")
	if !u.canRead(w, r, project) {
		return "", "", "", false
	}
	if ok, err := u.serviceExists(r.Context(), project, stage, service); err != nil {
		u.internalError(w, r, err)
		return "", "", "", false
	} else if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s has no service %s in a stage %s.", project, service, stage))
		return "", "", "", false
	}
	return project, stage, service, true
}

// serviceExists checks that the project has the stage and the service.
func (u *UI) serviceExists(ctx context.Context, project, stage, service string) (bool, error) {
	p, err := u.store.GetProject(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := false
	for _, s := range u.stageNames(p.Shipyard) {
		found = found || s == stage
	}
	if !found {
		return false, nil
	}
	_, err = u.store.GetService(ctx, project, service)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// history returns the newest evaluations of a service, oldest first, with
// the invalidated ones marked.
func (u *UI) history(ctx context.Context, project, stage, service string) ([]evaluationItem, error) {
	f := store.EventFilter{Project: project, Stage: stage, Service: service, Type: event.TypeEvaluationFinished, PageSize: historyLen}
	pg, err := u.store.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list evaluations: %w", err)
	}
	f.Type, f.PageSize = event.TypeEvaluationInvalidated, store.MaxPageSize
	inv, err := u.store.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list invalidations: %w", err)
	}
	invalid := map[[2]string]bool{}
	for _, e := range inv.Events {
		invalid[[2]string{e.KeptnContext, e.TriggeredID}] = true
	}
	evals := make([]evaluationItem, 0, len(pg.Events))
	for i := len(pg.Events) - 1; i >= 0; i-- {
		it, err := parseEvaluation(pg.Events[i].JSON)
		if err != nil {
			u.log.WarnContext(ctx, "ui_evaluation_unreadable", "event_id", pg.Events[i].ID, "err", err)
		}
		if it.ID == "" {
			continue
		}
		it.Invalidated = invalid[[2]string{it.KeptnContext, it.TriggeredID}]
		evals = append(evals, it)
	}
	return evals, nil
}

func newBreakdown(ev evaluationItem) *breakdown {
	b := &breakdown{Eval: ev}
	targets := func(ts []sloTarget) []targetView {
		out := make([]targetView, 0, len(ts))
		for _, t := range ts {
			out = append(out, targetView{Criteria: t.Criteria, Target: formatNumber(t.TargetValue), Violated: t.Violated})
		}
		return out
	}
	for _, ir := range ev.Indicators {
		row := breakdownRow{
			Name: sliName(ir), Metric: ir.Value.Metric, Key: ir.KeySLI,
			Value: formatNumber(ir.Value.Value), Status: string(ir.Status), Score: formatNumber(ir.Score),
			Pass: targets(ir.PassTargets), Warning: targets(ir.WarningTargets), Message: ir.Value.Message,
			ValueUnavailable: !ir.Value.Success,
		}
		if len(ev.Compared) > 0 {
			row.HasCompared, row.Compared = true, formatNumber(ir.Value.ComparedValue)
		}
		b.Rows = append(b.Rows, row)
	}
	for _, br := range ev.Budget {
		for _, c := range []struct {
			check string
			c     *slo.BudgetCheck
			pct   bool
		}{{"remaining at least", br.Remaining, true}, {"burn rate at most", br.BurnRate, false}} {
			if c.c == nil {
				continue
			}
			row := budgetRow{Name: br.DisplayName, Check: c.check, Status: "pass", Message: c.c.Message, Unavailable: !c.c.Success}
			if c.c.Violated {
				row.Status = "fail"
			}
			if c.pct {
				row.Value, row.Limit = formatNumber(c.c.Value*100)+"%", formatNumber(c.c.Limit*100)+"%"
			} else {
				row.Value, row.Limit = formatNumber(c.c.Value)+"×", formatNumber(c.c.Limit)+"×"
			}
			b.Budget = append(b.Budget, row)
		}
	}
	return b
}

func (u *UI) invalidate(w http.ResponseWriter, r *http.Request) {
	project, stage, service, kctx := r.PathValue("project"), r.PathValue("stage"), r.PathValue("service"), r.PathValue("keptnContext")
	if !u.canRead(w, r, project) {
		return
	}
	if err := principal(r).Can(auth.ActionWriteProject, project); err != nil {
		u.renderError(w, r, http.StatusForbidden, "Your token may read this project but not change it, so it cannot mark evaluations. Sign in with a write token.")
		return
	}
	err := u.inv.InvalidateEvaluation(r.Context(), project, stage, service, kctx)
	if errors.Is(err, store.ErrNotFound) {
		u.renderError(w, r, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	u.log.InfoContext(r.Context(), "ui_evaluation_invalidated", "project", project, "stage", stage, "service", service,
		"keptn_context", kctx, "token_name", principal(r).TokenName)
	target := serviceURL(project, stage, service) + "?invalidated=1"
	if id := r.PostForm.Get("evaluation"); id != "" {
		target += "&evaluation=" + url.QueryEscape(id)
	}
	http.Redirect(w, r, target+"#breakdown", http.StatusSeeOther)
}
