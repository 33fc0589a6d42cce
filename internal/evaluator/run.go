package evaluator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// Request asks Evaluate for one evaluation of a service over a window.
type Request struct {
	Project, Stage, Service string
	Start, End              time.Time
	// KeptnContext and TriggeredID identify the caller's own
	// evaluation.triggered event; the baseline search skips the
	// evaluation.finished that answers it (a replayed step's).
	KeptnContext string
	TriggeredID  string
}

// Evaluate runs a whole evaluation at once, in the caller's goroutine, with
// the same steps as the evaluation jobs (the SLO file, the monitoring
// configuration, the SLI provider, the baseline), and returns the result
// without storing any event. The remediation loop uses it to verify an
// action and tells the story in its own Keptn context.
//
// An evaluation that cannot run (no SLO file, no SLI provider, a failed
// SLI) is a failed slo.Evaluation whose message says why, never an error;
// errors are transient failures of the store or the resource repository,
// and the monitoring outage: when every SLI failed because the monitoring
// system was unavailable, Evaluate returns the errored evaluation and an
// *OutageError, which matches sli.ErrUnavailable.
func (h *Handler) Evaluate(ctx context.Context, r Request) (slo.Evaluation, error) {
	if r.Project == "" || r.Stage == "" || r.Service == "" || r.KeptnContext == "" || r.TriggeredID == "" {
		return slo.Evaluation{}, errors.New("evaluate: project, stage, service, keptn context and triggered id are required")
	}
	st := evaluation.State{
		Step: evaluation.StepStart, KeptnContext: r.KeptnContext, TriggeredID: r.TriggeredID,
		Project: r.Project, Stage: r.Stage, Service: r.Service, Start: r.Start.UTC(), End: r.End.UTC(),
	}
	var once run
	out, err := h.begin(ctx, &once, st)
	for err == nil && out.Next != nil {
		next := *out.Next
		if next.ExternalProvider != "" {
			// Verifying at once cannot wait for an integration's answer.
			out, err = next.Abort(h.now(), "the SLI provider "+next.ExternalProvider+" is served by an integration, which a remediation's verification cannot wait for; configure a provider tend queries itself (prometheus, dynatrace) for this service")
			break
		}
		switch next.Step {
		case evaluation.StepGetSLI:
			out, err = h.getSLIs(ctx, &once, next)
		case evaluation.StepEvaluate:
			out, err = h.evaluate(ctx, next)
		default:
			err = fmt.Errorf("evaluate: unexpected step %q", next.Step)
		}
	}
	if err != nil {
		return slo.Evaluation{}, err
	}
	if out.Result == nil {
		return slo.Evaluation{}, errors.New("evaluate: the evaluation ended without a result")
	}
	if out.Outage != "" {
		return *out.Result, &OutageError{Reason: out.Outage}
	}
	return *out.Result, nil
}

// OutageError is Evaluate's error when the evaluation could not measure
// anything because the monitoring system was unavailable; errors.Is
// matches it with sli.ErrUnavailable.
type OutageError struct {
	// Reason is the provider's description of the outage.
	Reason string
}

func (e *OutageError) Error() string { return "monitoring unavailable: " + e.Reason }

// Is makes errors.Is match sli.ErrUnavailable.
func (e *OutageError) Is(target error) bool { return target == sli.ErrUnavailable }
