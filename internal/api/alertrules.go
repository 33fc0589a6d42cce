package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/budget"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/spec"
)

// alertRulesSLI is the SLI file the rules' queries come from: the rules are
// Prometheus's, whatever provider evaluations use.
const alertRulesSLI = "prometheus/sli.yaml"

// alertRuleRoutes serve the Prometheus alerting rules generated from a
// service's SLOs (issue 6), for `tend configure monitoring prometheus
// --rules-file`, GitOps pipelines and the UI.
func (s *Server) alertRuleRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/api/v1/project/{project}/service/{service}/alert-rules", access: accessAction, action: auth.ActionReadProject,
			tag: "monitoring", op: "getAlertRules",
			summary: "Prometheus alerting rules of a service, one group per stage, generated from its slo.yaml and the layered prometheus/sli.yaml: " +
				"every stage with self-healing enabled, or the stage asked for. Each stage says whether it got rules and why not; ruleFile is the rule file to load. " +
				"The alerts carry the project, stage and service in the labels the server's intake reads (intake.labels).",
			query: []param{
				{name: "stage", desc: "Only this stage, whether self-healing is enabled in it or not."},
				{name: "window", desc: "Range of the queries ($DURATION_SECONDS), a duration such as 5m (default 5m)."},
				{name: "for", desc: "How long a violation lasts before the alert fires, e.g. 2m; 0 fires at once (default 2m)."},
				{name: "severity", desc: "Value of the alerts' severity label (default warning)."},
			},
			response: apitypes.AlertRules{}, status: http.StatusOK, handler: s.getAlertRules},
	}
}

// getAlertRules generates a service's alerting rules from the stored
// resources. It only reads: the rules go wherever the caller puts them.
func (s *Server) getAlertRules(w http.ResponseWriter, r *http.Request) {
	project, service := r.PathValue("project"), r.PathValue("service")
	q := r.URL.Query()
	stage := q.Get("stage")
	opts := alertrules.Options{
		Project: project, Service: service, Window: alertrules.DefaultWindow, For: alertrules.DefaultFor, Severity: alertrules.DefaultSeverity,
		// The rules must carry the labels this server's intake reads, or
		// the alerts they raise arrive unmatched.
		Labels: alertrules.LabelNames{Project: s.intake.labels.ProjectLabel, Stage: s.intake.labels.StageLabel, Service: s.intake.labels.ServiceLabel},
	}
	var bad []string
	for _, d := range []struct {
		name string
		into *time.Duration
		min  time.Duration
		hint string
	}{{"window", &opts.Window, time.Second, "5m"}, {"for", &opts.For, 0, "2m, or 0"}} {
		v := q.Get(d.name)
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur < d.min {
			bad = append(bad, fmt.Sprintf("%s %q is not a duration of at least %s; want e.g. %s", d.name, v, d.min, d.hint))
			continue
		}
		*d.into = dur
	}
	if v, ok := q["severity"]; ok {
		if strings.TrimSpace(v[0]) == "" {
			bad = append(bad, "severity is empty; want e.g. warning")
		} else {
			opts.Severity = v[0]
		}
	}
	if len(bad) > 0 {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%s", strings.Join(bad, "; ")))
		return
	}
	ctx := r.Context()
	if err := s.checkScope(ctx, project, stage, service); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.store.GetProject(ctx, project)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sy, diags := s.specs.Shipyard("shipyard.yaml", p.Shipyard)
	if sy == nil || diags.HasErrors() {
		s.writeError(w, r, fmt.Errorf("decode the stored shipyard of project %s: %w", project, diags))
		return
	}
	querier := s.alertQueries
	if querier == nil {
		s.writeError(w, r, errorf(http.StatusNotImplemented, "alert rules are not available on this server: it was started without a Prometheus query builder (api.Options.AlertQueries)"))
		return
	}
	out := apitypes.AlertRules{
		Project: project, Service: service, Severity: opts.Severity,
		Window: alertrules.FormatDuration(opts.Window), For: alertrules.FormatDuration(opts.For),
		Stages: []apitypes.AlertRulesStage{}, Groups: []apitypes.AlertRuleGroup{},
	}
	file := &alertrules.RuleFile{}
	var versions []string
	for _, st := range sy.Stages {
		if stage != "" && st.Name != stage {
			continue
		}
		entry := apitypes.AlertRulesStage{Stage: st.Name, RemediationEnabled: st.RemediationEnabled()}
		if stage == "" && !entry.RemediationEnabled {
			entry.Status = apitypes.AlertRulesSelfHealingOff
			entry.Reason = fmt.Sprintf("self-healing is not enabled in stage %s (no remediation sequence or remediation_strategy: automated in the shipyard), so no alert would be acted on", st.Name)
			out.Stages = append(out.Stages, entry)
			continue
		}
		o := opts
		o.Stage = st.Name
		group, err := s.stageAlertRules(ctx, &entry, querier, o)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if group != nil {
			file.Groups = append(file.Groups, *group)
			out.Groups = append(out.Groups, apiGroup(*group))
			versions = append(versions, fmt.Sprintf("stage %s: slo.yaml at commit %s", st.Name, entry.SLOVersion))
		}
		budgetGroups, budgetVersions, err := s.stageBudgetRules(ctx, &entry, o)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, g := range budgetGroups {
			file.Groups = append(file.Groups, g)
			out.Groups = append(out.Groups, apiGroup(g))
		}
		versions = append(versions, budgetVersions...)
		out.Stages = append(out.Stages, entry)
	}
	if len(file.Groups) > 0 {
		out.Header = alertRulesHeader(project, service, out.Window, out.For, versions)
		b, err := file.YAML(out.Header)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.RuleFile = string(b)
	}
	writeJSON(w, http.StatusOK, out)
}

// alertRulesHeader is the comment a generated rule file starts with. Its
// first line begins like `tend generate alert-rules`'s, so tools can tell
// a file tend wrote (and may overwrite) from one a person wrote.
func alertRulesHeader(project, service, window, forDur string, versions []string) string {
	lines := []string{
		fmt.Sprintf("Alerting rules generated by tend from the SLOs of service %s in project %s", service, project),
		"(window " + window + ", for " + forDur + "), one group per stage:",
	}
	for _, v := range versions {
		lines = append(lines, "  "+v)
	}
	return strings.Join(append(lines, "Regenerate with tend configure monitoring prometheus --rules-file rather than editing."), "\n")
}

// stageAlertRules fills entry for one stage and returns its group, or nil
// when the stage gets none (entry says why). The error is for failures of
// the server itself.
func (s *Server) stageAlertRules(ctx context.Context, entry *apitypes.AlertRulesStage, q alertrules.Querier, opts alertrules.Options) (*alertrules.Group, error) {
	ref := resource.Ref{Project: opts.Project, Stage: opts.Stage, Service: opts.Service}
	data, version, err := s.readSLO(ctx, ref)
	switch {
	case isMissing(err):
		entry.Status = apitypes.AlertRulesNoSLO
		entry.Reason = fmt.Sprintf("service %s has no slo.yaml in stage %s; add one with tend add-resource --resourceUri slo.yaml", opts.Service, opts.Stage)
		return nil, nil
	case err != nil:
		return nil, err
	}
	entry.SLOVersion = version
	name := opts.Stage + ":" + opts.Service + "/slo.yaml"
	objective, diags := s.specs.SLO(name, data)
	if objective == nil || diags.HasErrors() {
		entry.Status = apitypes.AlertRulesInvalid
		entry.Reason = fmt.Sprintf("%s is not a usable SLO: %s", name, errorLines(diags))
		return nil, nil
	}
	var layers [3]map[string]string
	for i, lv := range []resource.Ref{{Project: opts.Project}, {Project: opts.Project, Stage: opts.Stage}, ref} {
		data, _, err := s.res.Get(ctx, lv, alertRulesSLI, "")
		switch {
		case isMissing(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s of %s: %w", alertRulesSLI, lv, err)
		}
		name := sliFileName(lv)
		f, diags := spec.DecodeSLI(name, data)
		if f == nil || diags.HasErrors() {
			entry.Status = apitypes.AlertRulesInvalid
			entry.Reason = fmt.Sprintf("%s is not a usable SLI file: %s", name, errorLines(diags))
			return nil, nil
		}
		layers[i] = f.Indicators
	}
	opts.Queries = sli.Merge(layers[0], layers[1], layers[2])
	file, warnings, err := alertrules.Generate(objective, q, opts)
	entry.Warnings = warnings
	if err != nil {
		entry.Status = apitypes.AlertRulesInvalid
		entry.Reason = strings.ReplaceAll(err.Error(), "\n", "; ")
		return nil, nil
	}
	g := file.Groups[0]
	if len(g.Rules) == 0 {
		entry.Status = apitypes.AlertRulesNoRules
		entry.Reason = fmt.Sprintf("the SLO of stage %s has no objective with absolute pass criteria, so there is nothing a rule can alert on", opts.Stage)
		return nil, nil
	}
	entry.Status = apitypes.AlertRulesGenerated
	entry.Group = g.Name
	entry.Rules = len(g.Rules)
	return &g, nil
}

// stageBudgetRules adds the rules of the service's budget SLO files
// (slo/*.yaml) in one stage: Sloth's recording rules and burn-rate alerts
// (alertrules.Budget). A stage whose slo.yaml gave no rules is "generated"
// when its budget files give some; a budget file Sloth cannot generate
// makes the stage "invalid", as an unusable slo.yaml does. It returns the
// groups and a header line per file; the error is for failures of the
// server itself.
func (s *Server) stageBudgetRules(ctx context.Context, entry *apitypes.AlertRulesStage, opts alertrules.Options) ([]alertrules.Group, []string, error) {
	if entry.Status == apitypes.AlertRulesInvalid {
		return nil, nil, nil
	}
	ref := resource.Ref{Project: opts.Project, Stage: opts.Stage, Service: opts.Service}
	all, err := s.res.List(ctx, ref)
	switch {
	case isMissing(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("list the resources of %s: %w", ref, err)
	}
	var files []alertrules.BudgetFile
	var versions []string
	for _, res := range all {
		if !spec.IsBudgetPath(res.URI) || strings.Count(res.URI, "/") != 1 {
			continue
		}
		data, _, err := s.res.Get(ctx, ref, res.URI, res.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s of %s: %w", res.URI, ref, err)
		}
		name := opts.Stage + ":" + opts.Service + "/" + res.URI
		f, diags := budget.Decode(name, data)
		if f == nil {
			entry.Status = apitypes.AlertRulesInvalid
			entry.Reason = fmt.Sprintf("%s is not a usable budget SLO file: %s", name, strings.ReplaceAll(diags.Error(), "\n", "; "))
			return nil, nil, nil
		}
		files = append(files, alertrules.BudgetFile{Name: name, File: f})
		versions = append(versions, fmt.Sprintf("stage %s: %s at commit %s", opts.Stage, res.URI, res.Version))
	}
	if len(files) == 0 {
		return nil, nil, nil
	}
	groups, err := s.budgetRules.GenerateBudget(ctx, files, opts)
	if err != nil {
		entry.Status = apitypes.AlertRulesInvalid
		entry.Reason = strings.ReplaceAll(err.Error(), "\n", "; ")
		return nil, nil, nil
	}
	rules := 0
	for _, g := range groups {
		rules += len(g.Rules)
	}
	if entry.Status != apitypes.AlertRulesGenerated {
		entry.Status = apitypes.AlertRulesGenerated
		entry.Group = groups[0].Name
		entry.Rules = 0
	}
	entry.Rules += rules
	return groups, versions, nil
}

// readSLO reads slo.yaml at the commit that last changed it, so the
// version names the SLO rather than the newest write to the stage, and
// regenerating after unrelated writes gives the same file.
func (s *Server) readSLO(ctx context.Context, ref resource.Ref) ([]byte, string, error) {
	hist, err := s.res.History(ctx, ref, "slo.yaml")
	if err != nil {
		return nil, "", err
	}
	return s.res.Get(ctx, ref, "slo.yaml", hist[0].ID)
}

// isMissing reports whether err means the file is not there (as opposed
// to a failure reading it).
func isMissing(err error) bool {
	return errors.Is(err, resource.ErrResourceNotFound) || errors.Is(err, resource.ErrStageNotFound)
}

// sliFileName names an sli.yaml in messages the way its Git repository
// holds it: <branch>:<path>.
func sliFileName(ref resource.Ref) string {
	switch {
	case ref.Service != "":
		return ref.Stage + ":" + ref.Service + "/" + alertRulesSLI
	case ref.Stage != "":
		return ref.Stage + ":" + alertRulesSLI
	}
	return "project " + ref.Project + ":" + alertRulesSLI
}

// errorLines joins the error diagnostics, the ones that make a file unusable.
func errorLines(ds spec.Diagnostics) string {
	var out []string
	for _, d := range ds {
		if d.Severity == spec.SeverityError {
			out = append(out, d.String())
		}
	}
	if len(out) == 0 {
		return "the file is empty"
	}
	return strings.Join(out, "; ")
}

func apiGroup(g alertrules.Group) apitypes.AlertRuleGroup {
	out := apitypes.AlertRuleGroup{Name: g.Name, Interval: g.Interval, Rules: make([]apitypes.AlertRule, len(g.Rules))}
	for i, r := range g.Rules {
		out.Rules[i] = apitypes.AlertRule{Record: r.Record, Alert: r.Alert, Expr: r.Expr, For: r.For, Labels: r.Labels, Annotations: r.Annotations}
	}
	return out
}
