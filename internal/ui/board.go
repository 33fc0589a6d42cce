package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

type boardData struct {
	pageBase
	Project      string
	Stages       []string
	Rows         []boardRow
	Problems     []problemItem
	Remediations []remediationItem
}

type boardRow struct {
	Service string
	Cells   []boardCell
}

type boardCell struct {
	Stage, Href string
	HasEval     bool
	Result      string
	Score       string
	Time        time.Time
	Problems    int
	Running     []remediationItem
	// Image is what the service runs in the stage, ImageTime when the
	// delivery event said so, ImageHref the events of its keptn context.
	Image     string
	ImageTime time.Time
	ImageHref string
}

type problemItem struct {
	Title, Stage, Service, Href string
	Opened                      time.Time
}

type remediationItem struct {
	Title, Stage, Service, State, Href string
	Time                               time.Time
	Running                            bool
}

func (u *UI) boardPage(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	if !u.canRead(w, r, project) {
		return
	}
	ctx := r.Context()
	p, err := u.store.GetProject(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s was not found, or your token may not read it.", project))
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	svcs, err := u.store.ListServices(ctx, project)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	d := boardData{pageBase: base(sess(r), "Project "+project, crumb{"Projects", "/"}, crumb{Label: project}),
		Project: project, Stages: u.stageNames(p.Shipyard)}

	problems, err := u.store.ListProblems(ctx, store.ProblemFilter{Project: project, State: store.ProblemOpen, PageSize: store.MaxPageSize})
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	open := map[[2]string]int{}
	for _, pr := range problems.Problems {
		open[[2]string{pr.Stage, pr.Service}]++
		it := problemItem{Title: pr.Title, Stage: pr.Stage, Service: pr.Service, Opened: pr.OpenedAt}
		if pr.KeptnContext != "" {
			it.Href = contextURL(pr.KeptnContext)
			if pr.RemediationID != "" {
				it.Href = remediationURL(pr.KeptnContext)
			}
		}
		d.Problems = append(d.Problems, it)
	}
	running, err := u.store.ListRemediations(ctx, store.RemediationFilter{Project: project, RunningOnly: true, PageSize: store.MaxPageSize})
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	runningBy := map[[2]string][]remediationItem{}
	for _, rec := range running.Remediations {
		k := [2]string{rec.Stage, rec.Service}
		runningBy[k] = append(runningBy[k], remediationItem{State: rec.State, Href: remediationURL(rec.KeptnContext), Running: true})
	}
	images, err := u.deployedImages(ctx, store.DeployedFilter{Project: project})
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	for _, svc := range svcs {
		row := boardRow{Service: svc.Name}
		for _, stage := range d.Stages {
			c := boardCell{Stage: stage, Href: serviceURL(project, stage, svc.Name)}
			pg, err := u.store.ListEvents(ctx, store.EventFilter{Project: project, Stage: stage, Service: svc.Name, Type: event.TypeEvaluationFinished, PageSize: 1})
			if err != nil {
				u.internalError(w, r, err)
				return
			}
			if len(pg.Events) > 0 {
				if it, err := parseEvaluation(pg.Events[0].JSON); err == nil {
					c.HasEval, c.Result, c.Time = true, it.Result, it.Time
					if it.HasScore {
						c.Score = formatNumber(it.Score)
					}
				}
			}
			if d, ok := images[[2]string{stage, svc.Name}]; ok {
				c.Image, c.ImageTime, c.ImageHref = d.Image, d.Time, contextURL(d.KeptnContext)
			}
			c.Problems = open[[2]string{stage, svc.Name}]
			c.Running = runningBy[[2]string{stage, svc.Name}]
			row.Cells = append(row.Cells, c)
		}
		d.Rows = append(d.Rows, row)
	}
	if d.Remediations, err = u.recentRemediations(ctx, project, d.Stages); err != nil {
		u.internalError(w, r, err)
		return
	}
	// Remediations that an external Keptn remediation service runs are
	// known from the event log only; show them in their cell as well.
	for _, rem := range d.Remediations {
		if !rem.Running {
			continue
		}
		for i := range d.Rows {
			for j := range d.Rows[i].Cells {
				c := &d.Rows[i].Cells[j]
				if d.Rows[i].Service == rem.Service && c.Stage == rem.Stage && !hasHref(c.Running, rem.Href) {
					c.Running = append(c.Running, rem)
				}
			}
		}
	}
	u.render(w, r, http.StatusOK, "board", d)
}

func hasHref(items []remediationItem, href string) bool {
	for _, it := range items {
		if it.Href == href {
			return true
		}
	}
	return false
}

// recentRemediations lists the newest remediation contexts of a project
// from the event log, so that remediations run by an external Keptn
// remediation service show as well as tend's own.
func (u *UI) recentRemediations(ctx context.Context, project string, stages []string) ([]remediationItem, error) {
	const max = 15
	var out []remediationItem
	for _, stage := range stages {
		pg, err := u.store.ListEvents(ctx, store.EventFilter{Project: project, Stage: stage,
			Type: event.SequenceType(stage, event.SequenceRemediation, event.PhaseTriggered), PageSize: max})
		if err != nil {
			return nil, fmt.Errorf("list remediations: %w", err)
		}
		for _, rec := range pg.Events {
			it := remediationItem{Stage: rec.Stage, Service: rec.Service, Time: rec.Time, Href: remediationURL(rec.KeptnContext), State: "running", Running: true}
			var ev rawEvent
			if json.Unmarshal(rec.JSON, &ev) == nil {
				var d eventData
				_ = json.Unmarshal(ev.Data, &d)
				it.Title, _ = problemText(d)
			}
			fin, err := u.store.ListEvents(ctx, store.EventFilter{KeptnContext: rec.KeptnContext,
				Type: event.SequenceType(stage, event.SequenceRemediation, event.PhaseFinished), PageSize: 1})
			if err != nil {
				return nil, fmt.Errorf("list remediations: %w", err)
			}
			if len(fin.Events) > 0 {
				var ev rawEvent
				var d eventData
				if json.Unmarshal(fin.Events[0].JSON, &ev) == nil {
					_ = json.Unmarshal(ev.Data, &d)
				}
				it.State, it.Running = endState(d), false
			}
			out = append(out, it)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}
