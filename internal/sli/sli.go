// Package sli owns what every SLI provider shares: the Provider interface the
// evaluation sequence calls, the request it passes, the layered merge of
// sli.yaml files, placeholder replacement in queries, and the rule that every
// requested indicator yields exactly one result, a failed one saying why.
//
// The package does no I/O. Providers (sli/prometheus, sli/dynatrace) live in
// subpackages and import it; the sequence imports this package only and gets
// a Provider from the composition root.
package sli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/slo"
)

// Provider fetches SLI values from one monitoring system. It is the only
// thing the evaluation sequence knows about monitoring, so a new monitoring
// system means a new Provider and nothing else (docs/sli-providers.md).
type Provider interface {
	// GetSLIs returns one result per name in req.Indicators, in that order.
	// A value the provider could not compute is a result with Success
	// false and a message naming the SLI, the query and what came back;
	// it is never left out and never turned into a zero. The error is
	// non-nil only when the request itself is invalid (see
	// Request.Validate) or ctx ended, so the caller can tell "monitoring
	// said no" (an evaluation result) from "we were stopped" (retry later),
	// or when every indicator failed because the monitoring system was
	// unavailable: then the results are returned too, and the error is an
	// *OutageError matching ErrUnavailable (see Outages), so the caller
	// can tell "monitoring is down" from "the service is bad".
	GetSLIs(ctx context.Context, req Request) ([]slo.SLIResult, error)
}

// Request is what one get-sli step asks a provider for.
type Request struct {
	Project, Stage, Service, Deployment string
	// Start and End bound the evaluation window; queries are evaluated at
	// End and $DURATION_SECONDS is End-Start.
	Start, End time.Time
	// Indicators are the SLI names to fetch: the SLO's objectives.
	Indicators []string
	// Queries is the merged sli.yaml of the provider (see Merge), with
	// placeholders still in place. An indicator without a query uses the
	// provider's built-in query, if it has one, or fails.
	Queries map[string]string
	// Filters is the SLO's filter block: placeholders $<key> and, for
	// built-in Prometheus queries, extra label matchers.
	Filters map[string]string
	// Labels are the triggering event's labels, placeholders $LABEL.<name>.
	Labels map[string]string
}

// ErrNotPrometheus says that a project's monitoring is not Prometheus, so
// there are no Sloth recording rules to read budgets from.
var ErrNotPrometheus = errors.New("the project's monitoring is not prometheus")

// ErrInvalidRequest marks a Request that no provider can serve; callers
// branch on it with errors.Is.
var ErrInvalidRequest = errors.New("invalid sli request")

// Validate reports why r cannot be served: a missing project, stage or
// service, or a window whose end is not after its start.
func (r Request) Validate() error {
	var problems []error
	for _, f := range []struct{ name, v string }{{"project", r.Project}, {"stage", r.Stage}, {"service", r.Service}} {
		if f.v == "" {
			problems = append(problems, fmt.Errorf("%w: %s is empty", ErrInvalidRequest, f.name))
		}
	}
	switch {
	case r.Start.IsZero() || r.End.IsZero():
		problems = append(problems, fmt.Errorf("%w: the evaluation window needs both a start and an end", ErrInvalidRequest))
	case !r.End.After(r.Start):
		problems = append(problems, fmt.Errorf("%w: the window end %s must be after its start %s",
			ErrInvalidRequest, r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339)))
	}
	return errors.Join(problems...)
}

// Merge layers the indicators of the project, stage and service sli.yaml
// files: a later level overrides an earlier level's query of the same name,
// as Keptn did. A nil level is a missing file, which is not an error. The
// result is a new map; the inputs are not modified.
func Merge(project, stage, service map[string]string) map[string]string {
	out := make(map[string]string, len(project)+len(stage)+len(service))
	for _, level := range []map[string]string{project, stage, service} {
		for k, v := range level {
			out[k] = v
		}
	}
	return out
}

// Failed builds the result of an indicator whose value could not be
// computed. Messages follow one shape so people can grep for them:
// `SLI "<name>": <what happened>`.
func Failed(name, format string, args ...any) slo.SLIResult {
	return slo.SLIResult{Metric: name, Success: false, Message: fmt.Sprintf("SLI %q: ", name) + fmt.Sprintf(format, args...)}
}

// DefaultConcurrency is how many queries a provider runs at once when its
// configuration does not say: enough to hide one slow query behind the
// others, few enough not to load a shared monitoring backend.
const DefaultConcurrency = 4

// Collect runs fetch for every indicator with at most limit calls at a time
// (limit < 1 means DefaultConcurrency) and returns the results in the order
// of indicators. A result whose Metric does not match its indicator is
// corrected, so a provider bug cannot mislabel a value. When ctx ends, the
// indicators not started yet fail with ctx's error and Collect returns it.
func Collect(ctx context.Context, indicators []string, limit int, fetch func(ctx context.Context, name string) slo.SLIResult) ([]slo.SLIResult, error) {
	if limit < 1 {
		limit = DefaultConcurrency
	}
	out := make([]slo.SLIResult, len(indicators))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, name := range indicators {
		if err := ctx.Err(); err != nil {
			out[i] = Failed(name, "not fetched: %v", err)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i] = Failed(name, "not fetched: %v", ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := fetch(ctx, name)
			r.Metric = name
			out[i] = r
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("get slis: %w", err)
	}
	return out, nil
}
