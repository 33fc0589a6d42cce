package apitypes

import "github.com/tendhq/tend/internal/slo"

// BudgetSLO is one budget SLO as Sloth's recording rules in the project's
// Prometheus describe it: objective, period, remaining budget, burn rates
// by window and the alerts' burn-rate thresholds.
type BudgetSLO = slo.BudgetStatus

// BudgetSLOs is the answer of GET /api/v1/project/{project}/slos: the
// budget SLOs found in the project's Prometheus (series of
// slo:objective:ratio), narrowed to a stage and a service when asked.
type BudgetSLOs struct {
	Project string      `json:"project"`
	Stage   string      `json:"stage,omitempty"`
	Service string      `json:"service,omitempty"`
	SLOs    []BudgetSLO `json:"slos"`
}

// BudgetScope names where a listing of budget SLOs looked ("project P,
// stage S, service X", the stage and service when given), for the
// messages of the API and the CLI.
func BudgetScope(project, stage, service string) string {
	where := "project " + project
	if stage != "" {
		where += ", stage " + stage
	}
	if service != "" {
		where += ", service " + service
	}
	return where
}
