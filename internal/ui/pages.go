package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/store"
)

// pageBase is what the layout needs on every page.
type pageBase struct {
	Title     string
	SignedIn  bool
	TokenName string
	Scope     string
	// Restricted is the project the session's token is limited to.
	Restricted string
	CSRF       string
	Crumbs     []crumb
}

type crumb struct{ Label, Href string }

func base(s *session, title string, crumbs ...crumb) pageBase {
	b := pageBase{Title: title, Crumbs: crumbs}
	if s != nil {
		b.SignedIn, b.TokenName, b.Scope, b.Restricted, b.CSRF = true, s.Principal.TokenName, string(s.Principal.Scope), s.Principal.Project, s.CSRF
	}
	return b
}

// URLs of the pages. Names are already restricted to URL-safe characters,
// but they are escaped all the same.
func projectURL(p string) string { return "/projects/" + url.PathEscape(p) }
func serviceURL(p, stage, svc string) string {
	return projectURL(p) + "/stages/" + url.PathEscape(stage) + "/services/" + url.PathEscape(svc)
}
func evaluationURL(p, stage, svc, id string) string {
	return serviceURL(p, stage, svc) + "?evaluation=" + url.QueryEscape(id)
}
func contextURL(kctx string) string     { return "/contexts/" + url.PathEscape(kctx) }
func remediationURL(kctx string) string { return contextURL(kctx) + "/remediation" }

var funcs = template.FuncMap{
	"time":        formatTime,
	"statusClass": statusClass,
	"isoTime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(s string) string {
		if len(s) > 10 {
			return s[:10]
		}
		return s
	},
	"num":            formatNumber,
	"inc":            func(i int) int { return i + 1 },
	"contextURL":     contextURL,
	"remediationURL": remediationURL,
}

// principal returns the request's principal; withSession guarantees one.
func principal(r *http.Request) auth.Principal {
	s, _ := sessionFrom(r.Context())
	return s.Principal
}

func sess(r *http.Request) *session {
	s, _ := sessionFrom(r.Context())
	return s
}

// canRead answers 404 when the session may not read project, so that a
// page never tells whether a project it may not see exists.
func (u *UI) canRead(w http.ResponseWriter, r *http.Request, project string) bool {
	if principal(r).Can(auth.ActionReadProject, project) != nil {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s was not found, or your token may not read it.", project))
		return false
	}
	return true
}

// --- projects ---

type projectsData struct {
	pageBase
	Projects []projectItem
}

type projectItem struct {
	Name, Href string
	Stages     []string
	Services   int
}

func (u *UI) projectsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ps, err := u.store.ListProjects(ctx)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	d := projectsData{pageBase: base(sess(r), "Projects", crumb{Label: "Projects"})}
	for _, p := range ps {
		if principal(r).Can(auth.ActionReadProject, p.Name) != nil {
			continue
		}
		it := projectItem{Name: p.Name, Href: projectURL(p.Name), Stages: u.stageNames(p.Shipyard)}
		if svcs, err := u.store.ListServices(ctx, p.Name); err == nil {
			it.Services = len(svcs)
		}
		d.Projects = append(d.Projects, it)
	}
	u.render(w, r, http.StatusOK, "projects", d)
}

// stageNames reads the stages of a stored shipyard; a shipyard that no
// longer decodes yields none (it was validated when stored).
func (u *UI) stageNames(shipyard []byte) []string {
	sy, _ := u.specs.Shipyard("shipyard.yaml", shipyard)
	if sy == nil {
		return nil
	}
	return sy.StageNames()
}

// --- project board ---

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

// --- service and stage ---

type serviceData struct {
	pageBase
	Project, Stage, Service string
	Evaluations             []evaluationItem
	Heatmap                 heatmap
	Charts                  []lineChart
	Breakdown               *breakdown
	ResourcesHref           string
	Notice                  string
}

type breakdown struct {
	Eval             evaluationItem
	Rows             []breakdownRow
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

type targetView struct {
	Criteria, Target string
	Violated         bool
}

func (u *UI) servicePage(w http.ResponseWriter, r *http.Request) {
	project, stage, service := r.PathValue("project"), r.PathValue("stage"), r.PathValue("service")
	if !u.canRead(w, r, project) {
		return
	}
	ctx := r.Context()
	if ok, err := u.serviceExists(ctx, project, stage, service); err != nil {
		u.internalError(w, r, err)
		return
	} else if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s has no service %s in a stage %s.", project, service, stage))
		return
	}
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

// --- resources ---

type resourcesData struct {
	pageBase
	Project, Stage, Service string
	ServiceHref             string
	Files                   []resourceFile
	// Shown is a historic version asked for with ?uri=&version=.
	Shown *resourceFile
}

type resourceFile struct {
	URI, Version, Kind string
	Content            string
	Binary             bool
	History            []commitView
	Anchor             string
}

type commitView struct {
	ID, Message, Author, Href string
	Time                      time.Time
}

// maxShownBytes bounds a resource shown on a page.
const maxShownBytes = 256 << 10

// resourceKind names the files the UI knows.
func resourceKind(uri string) string {
	switch {
	case uri == "slo.yaml":
		return "SLO"
	case strings.HasSuffix(uri, "/sli.yaml") || uri == "sli.yaml":
		return "SLI"
	case uri == "remediation.yaml":
		return "Remediation"
	}
	return "Other"
}

func (u *UI) resourcesPage(w http.ResponseWriter, r *http.Request) {
	project, stage, service := r.PathValue("project"), r.PathValue("stage"), r.PathValue("service")
	if !u.canRead(w, r, project) {
		return
	}
	ctx := r.Context()
	if ok, err := u.serviceExists(ctx, project, stage, service); err != nil {
		u.internalError(w, r, err)
		return
	} else if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s has no service %s in a stage %s.", project, service, stage))
		return
	}
	ref := resource.Ref{Project: project, Stage: stage, Service: service}
	list, err := u.res.List(ctx, ref)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	self := serviceURL(project, stage, service) + "/resources"
	d := resourcesData{
		pageBase: base(sess(r), "Resources of "+service+" in "+stage, crumb{"Projects", "/"}, crumb{project, projectURL(project)},
			crumb{stage + " / " + service, serviceURL(project, stage, service)}, crumb{Label: "Resources"}),
		Project: project, Stage: stage, Service: service, ServiceHref: serviceURL(project, stage, service),
	}
	view := func(uri, version string) (resourceFile, error) {
		f := resourceFile{URI: uri, Kind: resourceKind(uri), Anchor: "file-" + anchor(uri)}
		content, v, err := u.res.Get(ctx, ref, uri, version)
		if err != nil {
			return f, err
		}
		f.Version = v
		if len(content) > maxShownBytes || !utf8.Valid(content) || bytes.IndexByte(content, 0) >= 0 {
			f.Binary = true
		} else {
			f.Content = string(content)
		}
		hist, err := u.res.History(ctx, ref, uri)
		if err != nil {
			return f, err
		}
		for _, c := range hist {
			f.History = append(f.History, commitView{ID: c.ID, Message: c.Message, Author: c.Author.Name, Time: c.Time,
				Href: self + "?uri=" + url.QueryEscape(uri) + "&version=" + url.QueryEscape(c.ID) + "#shown"})
		}
		return f, nil
	}
	for _, res := range list {
		f, err := view(res.URI, "")
		if err != nil {
			u.internalError(w, r, err)
			return
		}
		d.Files = append(d.Files, f)
	}
	sort.SliceStable(d.Files, func(i, j int) bool { return kindOrder(d.Files[i].Kind) < kindOrder(d.Files[j].Kind) })
	if uri, version := r.URL.Query().Get("uri"), r.URL.Query().Get("version"); uri != "" && version != "" {
		f, err := view(uri, version)
		if err != nil {
			u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Resource %s has no version %s in %s.", uri, version, ref))
			return
		}
		d.Shown = &f
	}
	u.render(w, r, http.StatusOK, "resources", d)
}

func kindOrder(k string) int {
	return map[string]int{"SLO": 0, "SLI": 1, "Remediation": 2}[k] + map[bool]int{true: 3}[k == "Other"]
}

// anchor turns a URI into an id attribute value.
func anchor(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// --- events of a keptn context ---

type eventsData struct {
	pageBase
	KeptnContext string
	Events       []eventView
	NextHref     string
	TimelineHref string
	// Logs are the integrations' log lines about the context.
	Logs []logView
}

type eventView struct {
	Seq                                  int64
	ID, Type, Source, TriggeredID, Stage string
	Service                              string
	Time                                 time.Time
	JSON                                 string
	Anchor                               string
}

// contextEvents lists a page of a context's events that the session may
// read: all of them for an unrestricted token, its project's otherwise.
func (u *UI) contextEvents(ctx context.Context, p auth.Principal, kctx, pageKey string) (store.EventPage, error) {
	return u.store.ListEvents(ctx, store.EventFilter{KeptnContext: event.ContextFor(kctx), Project: p.Project, PageSize: store.MaxPageSize, PageKey: pageKey})
}

func (u *UI) eventsPage(w http.ResponseWriter, r *http.Request) {
	kctx := r.PathValue("keptnContext")
	pg, err := u.contextEvents(r.Context(), principal(r), kctx, r.URL.Query().Get("page"))
	if errors.Is(err, store.ErrInvalid) {
		u.renderError(w, r, http.StatusBadRequest, "The page link is not valid; start from the first page.")
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	if len(pg.Events) == 0 {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("No events of keptn context %s were found that your token may read.", kctx))
		return
	}
	d := eventsData{pageBase: base(sess(r), "Events of "+kctx, crumb{"Projects", "/"}, crumb{Label: "Keptn context " + kctx}), KeptnContext: kctx}
	for i := len(pg.Events) - 1; i >= 0; i-- {
		e := pg.Events[i]
		d.Events = append(d.Events, eventView{Seq: e.Seq, ID: e.ID, Type: e.Type, Source: e.Source, TriggeredID: e.TriggeredID,
			Stage: e.Stage, Service: e.Service, Time: e.Time, JSON: indentJSON(e.JSON), Anchor: "event-" + strconv.FormatInt(e.Seq, 10)})
		if t, ok := event.ParseType(e.Type); ok && t.IsSequence() && t.Task == event.SequenceRemediation {
			d.TimelineHref = remediationURL(kctx)
		}
	}
	if pg.NextPageKey != "" {
		d.NextHref = contextURL(kctx) + "?page=" + url.QueryEscape(pg.NextPageKey)
	}
	d.Logs = u.contextLogs(r, kctx)
	u.render(w, r, http.StatusOK, "events", d)
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// --- remediation timeline ---

type timelineData struct {
	pageBase
	Timeline   timeline
	EventsHref string
	StreamHref string
	SourceHref string
}

// maxTimelineEvents bounds the events read for one timeline.
const maxTimelineEvents = 2000

func (u *UI) loadTimeline(ctx context.Context, p auth.Principal, kctx string) (timeline, bool, error) {
	var evs []seqEvent
	var first store.EventRecord
	pageKey := ""
	for len(evs) < maxTimelineEvents {
		pg, err := u.contextEvents(ctx, p, kctx, pageKey)
		if err != nil {
			return timeline{}, false, err
		}
		for _, e := range pg.Events {
			evs = append(evs, seqEvent{Seq: e.Seq, JSON: e.JSON})
			first = e
		}
		if pg.NextPageKey == "" {
			break
		}
		pageKey = pg.NextPageKey
	}
	if len(evs) == 0 {
		return timeline{}, false, nil
	}
	var rem *remediation.Remediation
	if first.Project != "" {
		f := store.RemediationFilter{Project: first.Project, Stage: first.Stage, Service: first.Service, PageSize: store.MaxPageSize}
		pg, err := u.store.ListRemediations(ctx, f)
		if err != nil {
			return timeline{}, false, fmt.Errorf("list remediations: %w", err)
		}
		for _, rec := range pg.Remediations {
			if rec.KeptnContext == event.ContextFor(kctx) {
				if rem, err = remediation.Decode(rec.ID, rec.Doc); err != nil {
					u.log.WarnContext(ctx, "ui_remediation_unreadable", "remediation_id", rec.ID, "err", err)
				}
				break
			}
		}
	}
	return buildTimeline(kctx, evs, rem, evaluationURL), true, nil
}

func (u *UI) timelineData(w http.ResponseWriter, r *http.Request) (timelineData, bool) {
	kctx := r.PathValue("keptnContext")
	tl, ok, err := u.loadTimeline(r.Context(), principal(r), kctx)
	if err != nil {
		u.internalError(w, r, err)
		return timelineData{}, false
	}
	if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("No events of keptn context %s were found that your token may read.", kctx))
		return timelineData{}, false
	}
	crumbs := []crumb{{"Projects", "/"}}
	if tl.Project != "" {
		crumbs = append(crumbs, crumb{tl.Project, projectURL(tl.Project)})
	}
	crumbs = append(crumbs, crumb{Label: "Remediation"})
	return timelineData{
		pageBase:   base(sess(r), "Remediation: "+tl.Title, crumbs...),
		Timeline:   tl,
		EventsHref: contextURL(kctx),
		StreamHref: contextURL(kctx) + "/stream?after=" + strconv.FormatInt(tl.LastSeq, 10),
		SourceHref: remediationURL(kctx) + "/timeline",
	}, true
}

func (u *UI) timelinePage(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.timelineData(w, r); ok {
		u.render(w, r, http.StatusOK, "timeline", d)
	}
}

func (u *UI) timelineFragment(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.timelineData(w, r); ok {
		u.renderFragment(w, r, "timeline", "timeline-body", d)
	}
}

// remediationRedirect serves the links of escalation messages
// (<ui>/remediations/<id>) with the remediation's timeline.
func (u *UI) remediationRedirect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := u.store.GetRemediation(r.Context(), id)
	if err == nil && principal(r).Can(auth.ActionReadProject, rec.Project) != nil {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Remediation %s was not found, or your token may not read it.", id))
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, remediationURL(rec.KeptnContext), http.StatusSeeOther)
}
