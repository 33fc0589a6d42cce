package evaluation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// PlanFromEvent decides whether an event accepted on the event intake starts an
// evaluation, and plans it. It starts one for
//
//   - sh.keptn.event.<stage>.evaluation.triggered: an outside sender
//     triggered the sequence; tend runs it, answering with
//     evaluation.triggered ... <stage>.evaluation.finished;
//   - sh.keptn.event.evaluation.triggered: an outside controller runs the
//     sequence and triggered the task; tend answers the task only
//     (evaluation.started ... evaluation.finished, carrying its id);
//   - sh.keptn.event.start-evaluation (Keptn 0.6): tend runs the sequence as
//     for <stage>.evaluation.triggered.
//
// Events whose source is Source are tend's own and never start anything,
// so an event tend emitted cannot trigger a second evaluation when it is
// posted back. The window comes from data.evaluation {start, end,
// timeframe} (Keptn 0.8+), else data.test {start, end} (0.7), else data
// {start, end} (0.6), else DefaultTimeframe ending now. Such an event
// without project, stage or service names no service to evaluate and
// starts nothing (ok false). One that names a service but cannot be run (a
// bad window, data of the wrong shape) is an error, so the intake refuses
// it rather than acknowledging work it will not do. ok is false for every
// other event.
func PlanFromEvent(ev *event.Event, now time.Time) (plan Plan, ok bool, err error) {
	if ev == nil || ev.Source == Source {
		return Plan{}, false, nil
	}
	t, known := event.ParseType(ev.Type)
	if !known {
		return Plan{}, false, nil
	}
	legacy := t.Legacy && ev.Type == event.TypeStartEvaluation
	trigger := !t.Legacy && t.Task == event.TaskEvaluation && t.Phase == event.PhaseTriggered
	if !legacy && !trigger {
		return Plan{}, false, nil
	}
	fail := func(format string, args ...any) (Plan, bool, error) {
		return Plan{}, true, fmt.Errorf("%s event %s cannot start an evaluation: %s", ev.Type, ev.ID, fmt.Sprintf(format, args...))
	}
	c, err := ev.Common()
	if err != nil {
		return fail("%v", err)
	}
	stage := c.Stage
	if t.IsSequence() {
		if stage != "" && stage != t.Stage {
			return fail("data.stage %q differs from the stage %q in the event type", stage, t.Stage)
		}
		stage = t.Stage
	}
	if c.Project == "" || stage == "" || c.Service == "" {
		// Not addressed to a service: nothing to evaluate. Such events
		// are kept in the log as they are (imported history, notes).
		return Plan{}, false, nil
	}
	w, err := eventWindow(ev.Data)
	if err != nil {
		return fail("%v", err)
	}
	start, end, err := Window(now, w.Timeframe, w.Start, w.End)
	if err != nil {
		return fail("%v", err)
	}
	st := State{
		Step: StepStart, KeptnContext: ev.KeptnContext,
		Project: c.Project, Stage: stage, Service: c.Service, Labels: cloneLabels(c.Labels),
		Start: start, End: end, GitCommitID: ev.GitCommitID, Deployment: deploymentKind(ev.Data),
	}
	var evs []*event.Event
	switch {
	case trigger && !t.IsSequence():
		st.TriggeredID = ev.ID
	case trigger:
		st.SequenceID = ev.ID
		st.TriggeredID = deriveID(ev.KeptnContext, ev.Source, ev.ID, "evaluation.triggered")
	default: // legacy start-evaluation: tend opens the sequence too
		st.SequenceID = deriveID(ev.KeptnContext, ev.Source, ev.ID, "sequence")
		st.TriggeredID = deriveID(st.SequenceID, "evaluation.triggered")
		seq, err := st.build(now, st.SequenceID, event.SequenceType(stage, event.SequenceEvaluation, event.PhaseTriggered), "", st.triggerData())
		if err != nil {
			return Plan{}, true, err
		}
		evs = append(evs, seq)
	}
	if st.TriggeredID != ev.ID {
		task, err := st.build(now, st.TriggeredID, event.TypeEvaluationTriggered, "", st.triggerData())
		if err != nil {
			return Plan{}, true, err
		}
		evs = append(evs, task)
	}
	return st.plan(evs...), true, nil
}

// PlanForSequence plans the evaluation of an evaluation.triggered event
// that tend's sequence engine emitted for a sequence's evaluation task.
// PlanFromEvent leaves tend's own events alone, so that an event posted
// back cannot start a second evaluation; the engine hands its event here
// instead, in the transaction that emits it. The plan answers the task
// only (evaluation.started, evaluation.finished) and marks the state as a
// sequence's, so the answers reach the sequence. ok is false when the
// event names no service to evaluate.
func PlanForSequence(ev *event.Event, now time.Time) (plan Plan, ok bool, err error) {
	if ev == nil || ev.Type != event.TypeEvaluationTriggered {
		return Plan{}, false, nil
	}
	c, err := ev.Common()
	if err != nil {
		return Plan{}, false, fmt.Errorf("evaluation.triggered event %s: %w", ev.ID, err)
	}
	if c.Project == "" || c.Stage == "" || c.Service == "" {
		return Plan{}, false, nil
	}
	w, err := eventWindow(ev.Data)
	if err != nil {
		return Plan{}, false, fmt.Errorf("evaluation.triggered event %s: %w", ev.ID, err)
	}
	start, end, err := Window(now, w.Timeframe, w.Start, w.End)
	if err != nil {
		return Plan{}, false, fmt.Errorf("evaluation.triggered event %s: %w", ev.ID, err)
	}
	st := State{
		Step: StepStart, KeptnContext: ev.KeptnContext, TriggeredID: ev.ID, Sequence: true,
		Project: c.Project, Stage: c.Stage, Service: c.Service, Labels: cloneLabels(c.Labels),
		Start: start, End: end, GitCommitID: ev.GitCommitID, Deployment: deploymentKind(ev.Data),
	}
	return st.plan(), true, nil
}

// deploymentKind is the first of the data's deployment.deploymentNames:
// the kind a deployment executor reported (canary, primary, direct), or "".
func deploymentKind(data json.RawMessage) string {
	var d struct {
		Deployment struct {
			Names []json.RawMessage `json:"deploymentNames"`
		} `json:"deployment"`
	}
	if json.Unmarshal(data, &d) != nil || len(d.Deployment.Names) == 0 {
		return ""
	}
	var name string
	if json.Unmarshal(d.Deployment.Names[0], &name) != nil {
		return ""
	}
	return name
}

// eventWindow is the window an event's data asks for.
type eventWindowData struct {
	Start, End, Timeframe string
}

func eventWindow(data json.RawMessage) (eventWindowData, error) {
	var d struct {
		Start      *string `json:"start"`
		End        *string `json:"end"`
		Evaluation *struct {
			Start     string `json:"start"`
			End       string `json:"end"`
			Timeframe string `json:"timeframe"`
		} `json:"evaluation"`
		Test *struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"test"`
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			return eventWindowData{}, fmt.Errorf("data.evaluation, data.test, data.start or data.end is not of the expected shape (%v); want e.g. \"evaluation\": {\"start\": \"2024-05-01T12:00:00Z\", \"end\": \"2024-05-01T12:05:00Z\"} or {\"timeframe\": \"5m\"}", err)
		}
	}
	switch {
	case d.Evaluation != nil && (d.Evaluation.Start != "" || d.Evaluation.End != "" || d.Evaluation.Timeframe != ""):
		return eventWindowData{Start: d.Evaluation.Start, End: d.Evaluation.End, Timeframe: d.Evaluation.Timeframe}, nil
	case d.Test != nil && (d.Test.Start != "" || d.Test.End != ""):
		return eventWindowData{Start: d.Test.Start, End: d.Test.End}, nil
	}
	var w eventWindowData
	if d.Start != nil {
		w.Start = *d.Start
	}
	if d.End != nil {
		w.End = *d.End
	}
	return w, nil
}

// Invalidation builds the sh.keptn.event.evaluation.invalidated event that
// withdraws an evaluation from later baselines (Keptn's "ignore for
// comparison"), given that evaluation's evaluation.finished event as stored.
// It carries the evaluation's context and triggeredid, and its id derives
// from them, so invalidating twice stores one event.
func Invalidation(finished []byte, now time.Time) (*event.Event, error) {
	f, err := decodeFinished(finished)
	if err != nil {
		return nil, fmt.Errorf("invalidate evaluation: %w", err)
	}
	if f.Type != event.TypeEvaluationFinished {
		return nil, fmt.Errorf("invalidate evaluation: event %s is a %s event, not %s", f.ID, f.Type, event.TypeEvaluationFinished)
	}
	st := State{KeptnContext: f.KeptnContext, Project: f.Data.Project, Stage: f.Data.Stage, Service: f.Data.Service}
	return st.build(now, deriveID(f.KeptnContext, f.TriggeredID, f.ID, "invalidated"), event.TypeEvaluationInvalidated, f.TriggeredID, st.common())
}

// finishedEvent is what the baseline needs of a stored evaluation.finished
// event (or, with Type, of an evaluation.invalidated one).
type finishedEvent struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	KeptnContext string `json:"shkeptncontext"`
	TriggeredID  string `json:"triggeredid"`
	Data         struct {
		Project    string `json:"project"`
		Stage      string `json:"stage"`
		Service    string `json:"service"`
		Result     string `json:"result"`
		Status     string `json:"status"`
		Evaluation *struct {
			Result           string `json:"result"`
			IndicatorResults []struct {
				Value slo.SLIResult `json:"value"`
			} `json:"indicatorResults"`
		} `json:"evaluation"`
	} `json:"data"`
}

func decodeFinished(raw []byte) (finishedEvent, error) {
	var f finishedEvent
	if err := json.Unmarshal(raw, &f); err != nil {
		return finishedEvent{}, fmt.Errorf("read stored event: %w", err)
	}
	return f, nil
}

// Baseline turns earlier evaluation.finished events of one project, stage
// and service (stored JSON, newest first) into slo.Evaluate's previous
// evaluations: id = the event id, result = data.evaluation.result (else
// data.result), values = the indicator results' values. An evaluation that
// an evaluation.invalidated event of invalidations withdrew (same
// triggeredid, or same context when the invalidation names no triggeredid)
// is marked Invalidated, which Evaluate skips. Evaluations that could not
// run (status errored: no SLO file, no SLI provider, aborted) measured
// nothing and are left out, and so are events that cannot be read.
func Baseline(finished, invalidations [][]byte) []slo.Previous {
	decoded := make([]Finished, len(finished))
	for i, raw := range finished {
		decoded[i] = DecodeFinished(raw)
	}
	return BaselineOf(decoded, invalidations)
}

// Finished is what the baseline takes of one stored evaluation.finished
// event (DecodeFinished). Stored events do not change, so a reader may keep
// it for the next evaluations of the service rather than decode the event
// again; it must not change Values.
type Finished struct {
	prev                      slo.Previous
	keptnContext, triggeredID string
	// skip: unreadable, without an id, or errored (measured nothing).
	skip bool
}

// DecodeFinished reads what Baseline needs of one stored
// evaluation.finished event.
func DecodeFinished(raw []byte) Finished {
	f, err := decodeFinished(raw)
	if err != nil || f.ID == "" {
		return Finished{skip: true}
	}
	if f.Data.Status == event.StatusErrored {
		// The evaluation could not run (no SLO file, no SLI provider,
		// aborted): it measured nothing to compare with.
		return Finished{skip: true}
	}
	p := slo.Previous{ID: f.ID, Result: slo.Result(f.Data.Result)}
	if e := f.Data.Evaluation; e != nil {
		if e.Result != "" {
			p.Result = slo.Result(e.Result)
		}
		for _, ir := range e.IndicatorResults {
			p.Values = append(p.Values, ir.Value)
		}
	}
	return Finished{prev: p, keptnContext: f.KeptnContext, triggeredID: f.TriggeredID}
}

// BaselineOf is Baseline of events already decoded with DecodeFinished.
func BaselineOf(finished []Finished, invalidations [][]byte) []slo.Previous {
	byTrigger, byContext := map[string]bool{}, map[string]bool{}
	for _, raw := range invalidations {
		f, err := decodeFinished(raw)
		if err != nil {
			continue
		}
		if f.TriggeredID != "" {
			byTrigger[f.TriggeredID] = true
		} else if f.KeptnContext != "" {
			byContext[f.KeptnContext] = true
		}
	}
	out := make([]slo.Previous, 0, len(finished))
	for _, f := range finished {
		if f.skip {
			continue
		}
		p := f.prev
		p.Invalidated = (f.triggeredID != "" && byTrigger[f.triggeredID]) || byContext[f.keptnContext]
		out = append(out, p)
	}
	return out
}

// Wanted is how many usable earlier evaluations the comparison c compares
// with: a reader of the baseline needs no more than that many, after
// skipping the ones that do not count (Enough).
func Wanted(c slo.Comparison) int {
	if c.CompareWith != slo.SeveralResults {
		return 1
	}
	if c.NumberOfResults < 1 {
		return 3
	}
	return c.NumberOfResults
}

// Enough reports whether previous (newest first) already holds the
// evaluations the comparison uses, so the caller can stop reading older
// ones.
func Enough(c slo.Comparison, previous []slo.Previous) bool {
	want := Wanted(c)
	n := 0
	for _, p := range previous {
		if p.Invalidated {
			continue
		}
		switch c.IncludeResults {
		case slo.IncludePass:
			if p.Result != slo.Pass {
				continue
			}
		case slo.IncludePassOrWarn:
			if p.Result != slo.Pass && p.Result != slo.Warning {
				continue
			}
		}
		n++
	}
	return n >= want
}

// Comparison returns the comparison block of the SLO the state evaluates,
// for Enough; the default comparison when the SLO cannot be read.
func (st State) Comparison() slo.Comparison {
	if s, diags := st.objective(); s != nil && diags == "" {
		return s.Comparison
	}
	return slo.DefaultComparison()
}

// objective returns the SLO the state evaluates: the one StepStart
// decoded, or, in a state stored before that was kept, its file decoded
// again.
func (st State) objective() (*slo.SLO, string) {
	if st.Objective != nil {
		return st.Objective, ""
	}
	return decodeSLO(nil, st.SLO)
}

// decodeSLO decodes an SLO file through specs (nil decodes it here) and
// returns its error diagnostics as text, "" when it has none (warnings do
// not stop an evaluation).
func decodeSLO(specs *spec.Cache, data []byte) (*slo.SLO, string) {
	s, diags := specs.SLO("slo.yaml", data)
	if errs := diags.Errors(); len(errs) > 0 {
		return s, errs.Error()
	}
	if s == nil {
		return nil, "the file holds no SLO"
	}
	return s, ""
}

func encodeBase64(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
