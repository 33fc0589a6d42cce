package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// BudgetReader reads the budget SLOs of a project from its Prometheus
// (the project's monitoring setting) through Sloth's recording rules. app
// passes the Prometheus adapter's; the API imports no adapter.
type BudgetReader interface {
	// Budgets lists the project's budget SLOs, of one stage and one
	// service when those are not empty. An error matching settings.ErrNotSet says the project
	// has no monitoring, ErrNoPrometheus that it is not Prometheus, and
	// sli.ErrUnavailable that Prometheus did not answer.
	Budgets(ctx context.Context, project, stage, service string) ([]slo.BudgetStatus, error)
}

// DefaultBudgetTimeout bounds one listing of budget SLOs: about a dozen
// Prometheus queries, each with the provider's own timeout, which alone
// could hold a request for minutes.
const DefaultBudgetTimeout = 30 * time.Second

// ErrNoPrometheus is a BudgetReader's answer for a project whose
// monitoring is not Prometheus: the recording rules live there only.
var ErrNoPrometheus = sli.ErrNotPrometheus

func (s *Server) budgetRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/api/v1/project/{project}/slos", access: accessAction, action: auth.ActionReadProject,
			tag: "monitoring", op: "getBudgetSLOs",
			summary: "Budget SLOs of a project (Sloth or OpenSLO SLOs whose recording rules run in the project's Prometheus): each one's objective, period, " +
				"remaining error budget, burn rates by window and the burn-rate alerts' thresholds, read from slo:objective:ratio and Sloth's other recording rules " +
				"(docs/error-budgets.md). 409 when the project's monitoring is not Prometheus, 502 when Prometheus did not answer, 504 when it did not within 30 seconds.",
			query: []param{{name: "stage", desc: "Only the SLOs of this stage (tend's stage label; series without it are listed in every stage)."},
				{name: "service", desc: "Only the SLOs of this service (tend's service label or sloth_service)."}},
			response: apitypes.BudgetSLOs{}, status: http.StatusOK, handler: s.getBudgetSLOs},
	}
}

func (s *Server) getBudgetSLOs(w http.ResponseWriter, r *http.Request) {
	project, stage, service := r.PathValue("project"), r.URL.Query().Get("stage"), r.URL.Query().Get("service")
	ctx := r.Context()
	if err := s.checkScope(ctx, project, stage, service); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.budgets == nil {
		s.writeError(w, r, errorf(http.StatusNotImplemented, "budget SLOs are not available on this server: it was started without a budget reader (api.Options.Budgets)"))
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.budgetWait)
	defer cancel()
	list, err := s.budgets.Budgets(rctx, project, stage, service)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded) && rctx.Err() != nil && ctx.Err() == nil:
		s.writeError(w, r, errorf(http.StatusGatewayTimeout, "read the budget SLOs of %s: Prometheus did not answer within %s", apitypes.BudgetScope(project, stage, service), s.budgetWait))
		return
	case errors.Is(err, settings.ErrNotSet):
		s.writeError(w, r, errorf(http.StatusConflict, "%s has no monitoring configured; run tend configure monitoring prometheus --project %s --url URL", apitypes.BudgetScope(project, stage, service), project))
		return
	case errors.Is(err, ErrNoPrometheus):
		s.writeError(w, r, errorf(http.StatusConflict, "%v: budget SLOs are read from Sloth's recording rules in Prometheus", err))
		return
	case errors.Is(err, sli.ErrUnavailable):
		s.writeError(w, r, errorf(http.StatusBadGateway, "read the budget SLOs of project %s: %v", project, err))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []slo.BudgetStatus{}
	}
	writeJSON(w, http.StatusOK, apitypes.BudgetSLOs{Project: project, Stage: stage, Service: service, SLOs: list})
}
