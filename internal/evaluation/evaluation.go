// Package evaluation decides Keptn's evaluation sequence: which events an
// evaluation emits, in which order and with which data, and what the next
// step of its durable job is, given the step's inputs (the SLO file read, the
// SLI values fetched, the earlier evaluations). It does no I/O and reads no
// clock; its runner, internal/evaluator, reads resources, calls the SLI
// provider and records each step's Outcome atomically with the next step.
//
// One evaluation runs in one Keptn context and stores, in order:
//
//	sh.keptn.event.<stage>.evaluation.triggered   (unless an outside controller runs the sequence)
//	sh.keptn.event.evaluation.triggered
//	sh.keptn.event.evaluation.started
//	sh.keptn.event.get-sli.triggered
//	sh.keptn.event.get-sli.started
//	sh.keptn.event.get-sli.finished
//	sh.keptn.event.evaluation.finished
//	sh.keptn.event.<stage>.evaluation.finished    (when tend runs the sequence)
//
// The job runs three steps (StepStart, StepGetSLI, StepEvaluate); an
// evaluation that cannot run (no SLO file, no SLI provider configured) ends
// after the first with a failed evaluation.finished, never a pass.
//
// Every event id is derived from the evaluation's identity and the event's
// role, so a step that runs again after a crash appends nothing twice.
package evaluation

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// JobKind is the worker job kind that runs evaluations.
const JobKind = "evaluation"

// Source is the CloudEvents source of every event tend emits. Events with
// this source that arrive on the event intake are tend's own (re-posted,
// mirrored) and never trigger anything.
const Source = event.DefaultSource

// Step is where an evaluation's job is.
type Step string

// The steps of an evaluation job.
const (
	// StepStart reads the SLO file and the monitoring configuration.
	StepStart Step = "start"
	// StepGetSLI fetches the SLI values from the provider.
	StepGetSLI Step = "get-sli"
	// StepEvaluate scores the values against the SLO and the baseline.
	StepEvaluate Step = "evaluate"
)

// State is an evaluation job's payload: everything the next step needs. It
// holds no secret: the provider's credentials are read by the step that
// uses them.
type State struct {
	Step         Step              `json:"step"`
	KeptnContext string            `json:"keptnContext"`
	Project      string            `json:"project"`
	Stage        string            `json:"stage"`
	Service      string            `json:"service"`
	Labels       map[string]string `json:"labels,omitempty"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	// SequenceID is the id of the <stage>.evaluation.triggered event that
	// tend answers with <stage>.evaluation.finished; "" when an outside
	// controller runs the sequence and triggered only the task.
	SequenceID string `json:"sequenceTriggeredId,omitempty"`
	// TriggeredID is the id of the evaluation.triggered event that the
	// task's .started and .finished events answer.
	TriggeredID string `json:"triggeredId"`
	// GitCommitID is the triggering event's gitcommitid, carried on.
	GitCommitID string `json:"gitCommitId,omitempty"`
	// Deployment is the deployment kind the trigger's data reports
	// (deployment.deploymentNames[0]: canary, primary, direct), the
	// $DEPLOYMENT of SLI queries, as Keptn's lighthouse passed it on.
	Deployment string `json:"deployment,omitempty"`
	// Sequence is true when a task of a shipyard sequence (the sequence
	// engine) triggered the evaluation; its answers are handed to the
	// sequence.
	Sequence bool `json:"sequence,omitempty"`

	// Set by StepStart for the later steps. SLO is the file as read (the
	// evaluation.finished event carries it); Objective is that file
	// decoded, so the later steps read the SLO without decoding the file
	// again. States stored before Objective was kept have only SLO, which
	// is then decoded again (see objective).
	SLO        []byte            `json:"slo,omitempty"`
	Objective  *slo.SLO          `json:"objective,omitempty"`
	SLOVersion string            `json:"sloVersion,omitempty"`
	Provider   string            `json:"provider,omitempty"`
	Indicators []string          `json:"indicators,omitempty"`
	Filters    map[string]string `json:"filters,omitempty"`
	GetSLIID   string            `json:"getSliTriggeredId,omitempty"`
	// ExternalProvider is the sliProvider a Keptn integration answers
	// get-sli.triggered for, when tend does not query the provider itself;
	// SLIDeadline is when the evaluation stops waiting for its answer.
	ExternalProvider string    `json:"externalProvider,omitempty"`
	SLIDeadline      time.Time `json:"sliDeadline,omitempty"`
	// Set by StepGetSLI for StepEvaluate.
	Values []slo.SLIResult `json:"values,omitempty"`
}

// DecodeState reads a job payload.
func DecodeState(payload []byte) (State, error) {
	var st State
	if err := json.Unmarshal(payload, &st); err != nil {
		return State{}, fmt.Errorf("decode evaluation job: %w", err)
	}
	switch st.Step {
	case StepStart, StepGetSLI, StepEvaluate:
	default:
		return State{}, fmt.Errorf("decode evaluation job: unknown step %q", st.Step)
	}
	if st.KeptnContext == "" || st.TriggeredID == "" || st.Project == "" || st.Stage == "" || st.Service == "" {
		return State{}, fmt.Errorf("decode evaluation job: keptn context, triggered id, project, stage or service missing")
	}
	return st, nil
}

// Payload encodes the state as a job payload.
func (st State) Payload() []byte {
	b, err := json.Marshal(st)
	if err != nil {
		// State holds only strings, times, maps of strings and finite
		// numbers (slo.Evaluate and the providers never return NaN).
		panic(fmt.Sprintf("evaluation: encode state: %v", err))
	}
	return b
}

// JobKey is the job's unique key: one job per evaluation, however often
// its trigger is delivered.
func (st State) JobKey() string { return JobKind + "/" + st.KeptnContext + "/" + st.TriggeredID }

// MaxAttempts is how often a step of an evaluation is tried before the
// evaluation is aborted as failed (see State.Abort): with the worker's
// doubling retry delay, about two minutes of a failing store or repository.
const MaxAttempts = 8

// Job is a job to enqueue with a Plan.
type Job struct {
	Kind        string
	Payload     []byte
	UniqueKey   string
	MaxAttempts int
}

// Plan is what a trigger writes in one transaction: the events that open
// the evaluation and its first job.
type Plan struct {
	Events []*event.Event
	Job    Job
	State  State
}

// Outcome is what one step records in one transaction: its events, and the
// state of the next step, or nil when the evaluation has finished.
type Outcome struct {
	Events []*event.Event
	Next   *State
	// Result is the evaluation's result when the step finished it, as
	// its evaluation.finished event carries it, so that a caller running
	// the steps in process reads it as a value; nil otherwise.
	Result *slo.Evaluation
	// Outage is set when the evaluation ended errored because the
	// monitoring system was unavailable (see MonitoringUnavailable): why.
	Outage string
	// RunAt is when Next runs; the zero time means at once. A step that
	// waits for an integration's answer runs again later.
	RunAt time.Time
}

// Request is an evaluation asked for through the API or the CLI.
type Request struct {
	Project, Stage, Service string
	Start, End              time.Time
	Labels                  map[string]string
	// KeptnContext is the new context, a UUID the caller draws.
	KeptnContext string
	// GitCommitID, when set, is the resource version whose SLO file the
	// evaluation reads (Keptn's gitcommitid).
	GitCommitID string
}

// FromRequest plans an evaluation asked for through the API: tend runs the
// whole sequence, opening it with <stage>.evaluation.triggered and
// evaluation.triggered.
func FromRequest(r Request, now time.Time) (Plan, error) {
	if r.Project == "" || r.Stage == "" || r.Service == "" || r.KeptnContext == "" {
		return Plan{}, fmt.Errorf("plan evaluation: project, stage, service and keptn context are required")
	}
	if !r.End.After(r.Start) {
		return Plan{}, fmt.Errorf("plan evaluation: %w: the end is not after the start", ErrWindow)
	}
	st := State{
		Step: StepStart, KeptnContext: r.KeptnContext,
		Project: r.Project, Stage: r.Stage, Service: r.Service, Labels: cloneLabels(r.Labels),
		Start: r.Start.UTC(), End: r.End.UTC(), GitCommitID: r.GitCommitID,
	}
	seq, err := st.build(now, deriveID(r.KeptnContext, "sequence"), event.SequenceType(r.Stage, event.SequenceEvaluation, event.PhaseTriggered), "", st.triggerData())
	if err != nil {
		return Plan{}, err
	}
	st.SequenceID = seq.ID
	st.TriggeredID = deriveID(seq.ID, "evaluation.triggered")
	task, err := st.build(now, st.TriggeredID, event.TypeEvaluationTriggered, "", st.triggerData())
	if err != nil {
		return Plan{}, err
	}
	return st.plan(seq, task), nil
}

func (st State) plan(evs ...*event.Event) Plan {
	return Plan{
		Events: evs,
		Job:    Job{Kind: JobKind, Payload: st.Payload(), UniqueKey: st.JobKey(), MaxAttempts: MaxAttempts},
		State:  st,
	}
}

// common is the data every event of the evaluation carries.
type common struct {
	Project string            `json:"project"`
	Stage   string            `json:"stage"`
	Service string            `json:"service"`
	Labels  map[string]string `json:"labels,omitempty"`
	Status  string            `json:"status,omitempty"`
	Result  string            `json:"result,omitempty"`
	Message string            `json:"message,omitempty"`
}

func (st State) common() common {
	return common{Project: st.Project, Stage: st.Stage, Service: st.Service, Labels: st.Labels}
}

// windowData is Keptn's evaluation window object of a triggered event.
type windowData struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func (st State) triggerData() any {
	return struct {
		common
		Evaluation windowData `json:"evaluation"`
	}{st.common(), windowData{Start: formatTime(st.Start), End: formatTime(st.End)}}
}

// build makes one event of the evaluation in its context, with a fixed id.
func (st State) build(now time.Time, id, typ, triggeredID string, data any) (*event.Event, error) {
	b := event.Builder{Source: Source, Now: func() time.Time { return now }, NewID: func() string { return id }}
	e, err := b.New(typ, st.KeptnContext, triggeredID, data)
	if err != nil {
		return nil, fmt.Errorf("evaluation %s: %w", st.KeptnContext, err)
	}
	e.GitCommitID = st.GitCommitID
	return e, nil
}

// StartInput is what the start step read.
type StartInput struct {
	// SLO is the service's slo.yaml; nil when there is none.
	SLO []byte
	// SLOVersion is the commit the SLO was read at.
	SLOVersion string
	// SLOProblem says why the SLO could not be read when SLO is nil and
	// the reason is not simply a missing file (the project or stage does
	// not exist); "" means the file does not exist.
	SLOProblem string
	// Provider is the configured SLI provider's name; "" when none is
	// configured for the project, stage and service.
	Provider string
	// Specs decodes SLO, so that evaluations of one version of a file
	// share one decoding; nil decodes it here.
	Specs *spec.Cache
	// External, when set, is the sliProvider of a provider that a Keptn
	// integration serves: get-sli.triggered names it, tend sends no
	// get-sli.started, and the evaluation waits up to Timeout for the
	// integration's get-sli.finished.
	External string
	Timeout  time.Duration
}

// SLIPollInterval is how often an evaluation waiting for an external
// provider looks for its answer.
const SLIPollInterval = 2 * time.Second

// Begin is the first step: evaluation.started, then either the get-sli
// task or, when the evaluation cannot run, a failed evaluation.finished
// that says why.
func (st State) Begin(now time.Time, in StartInput) (Outcome, error) {
	started, err := st.build(now, st.id("evaluation.started"), event.TypeEvaluationStarted, st.TriggeredID, st.common())
	if err != nil {
		return Outcome{}, err
	}
	where := fmt.Sprintf("project %s, stage %s, service %s", st.Project, st.Stage, st.Service)
	if in.SLO == nil {
		msg := in.SLOProblem
		if msg == "" {
			msg = "no SLO file: there is no slo.yaml for " + where + `; add one with "tend add-resource --project ` + st.Project + ` --stage ` + st.Stage + ` --service ` + st.Service + ` --resource slo.yaml"`
		}
		return st.fail(now, []*event.Event{started}, msg, nil, "")
	}
	next := st
	next.SLO, next.SLOVersion = in.SLO, in.SLOVersion
	s, diags := decodeSLO(in.Specs, in.SLO)
	if s == nil || diags != "" {
		return next.fail(now, []*event.Event{started}, "the SLO file slo.yaml of "+where+" is invalid: "+diags, nil, in.SLOVersion)
	}
	next.Objective = s
	next.Indicators = indicators(s)
	next.Filters = maps.Clone(s.Filter)
	if in.Provider == "" {
		msg := "no SLI provider configured for " + where + `: run "tend configure monitoring prometheus --project ` + st.Project + ` --url URL" (or dynatrace)`
		values := make([]slo.SLIResult, len(next.Indicators))
		for i, name := range next.Indicators {
			values[i] = slo.SLIResult{Metric: name, Message: "no SLI provider configured"}
		}
		ev := slo.Evaluate(s, values, nil)
		return next.fail(now, []*event.Event{started}, msg, &ev, in.SLOVersion)
	}
	next.Provider = in.Provider
	next.GetSLIID = st.id("get-sli.triggered")
	next.Step = StepGetSLI
	sliProvider := in.Provider
	if in.External != "" {
		sliProvider, next.ExternalProvider = in.External, in.External
		next.SLIDeadline = now.Add(in.Timeout).UTC()
	}
	filters := make([]keyValue, 0, len(next.Filters))
	for _, k := range slices.Sorted(maps.Keys(next.Filters)) {
		filters = append(filters, keyValue{Key: k, Value: next.Filters[k]})
	}
	trig, err := next.build(now, next.GetSLIID, event.TypeGetSLITriggered, "", struct {
		common
		Deployment string          `json:"deployment,omitempty"`
		GetSLI     getSLITriggered `json:"get-sli"`
	}{st.common(), st.Deployment, getSLITriggered{
		SLIProvider: sliProvider, Start: formatTime(st.Start), End: formatTime(st.End),
		Indicators: next.Indicators, CustomFilters: filters,
	}})
	if err != nil {
		return Outcome{}, err
	}
	if in.External != "" {
		// The integration sends get-sli.started and .finished itself.
		wait, _ := next.SLIWait(now)
		return Outcome{Events: []*event.Event{started, trig}, Next: &next, RunAt: wait.RunAt}, nil
	}
	sliStarted, err := next.build(now, st.id("get-sli.started"), event.TaskType(event.TaskGetSLI, event.PhaseStarted), next.GetSLIID, st.common())
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Events: []*event.Event{started, trig, sliStarted}, Next: &next}, nil
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// getSLITriggered is Keptn's get-sli object of get-sli.triggered.
type getSLITriggered struct {
	SLIProvider   string     `json:"sliProvider"`
	Start         string     `json:"start"`
	End           string     `json:"end"`
	Indicators    []string   `json:"indicators"`
	CustomFilters []keyValue `json:"customFilters"`
}

// getSLIFinished is Keptn's get-sli object of get-sli.finished.
type getSLIFinished struct {
	Start           string          `json:"start"`
	End             string          `json:"end"`
	IndicatorValues []slo.SLIResult `json:"indicatorValues"`
}

// SLIsFetched is the second step: get-sli.finished with the values, one
// per indicator in order. A value that could not be fetched makes the task
// errored with result fail and a message naming it; the evaluation still
// runs, and under Keptn's rules the objective of that SLI fails.
func (st State) SLIsFetched(now time.Time, values []slo.SLIResult) (Outcome, error) {
	if st.Step != StepGetSLI {
		return Outcome{}, fmt.Errorf("evaluation %s: SLIs fetched in step %q", st.KeptnContext, st.Step)
	}
	values = completeValues(st.Indicators, values)
	c := st.common()
	c.Status, c.Result = event.StatusSucceeded, event.ResultPass
	var failed []string
	for _, v := range values {
		if !v.Success {
			failed = append(failed, v.Message)
		}
	}
	if len(failed) > 0 {
		c.Status, c.Result = event.StatusErrored, event.ResultFail
		c.Message = fmt.Sprintf("%d of %d SLIs failed: %s", len(failed), len(values), strings.Join(failed, "; "))
	}
	fin, err := st.build(now, st.id("get-sli.finished"), event.TypeGetSLIFinished, st.GetSLIID, struct {
		common
		GetSLI getSLIFinished `json:"get-sli"`
	}{c, getSLIFinished{Start: formatTime(st.Start), End: formatTime(st.End), IndicatorValues: values}})
	if err != nil {
		return Outcome{}, err
	}
	next := st
	next.Step = StepEvaluate
	next.Values = values
	return Outcome{Events: []*event.Event{fin}, Next: &next}, nil
}

// MonitoringUnavailable is the second step when every SLI failed because
// the monitoring system could not be reached or answered with a server
// error (the provider's sli.OutageError; reason is its text): get-sli.finished
// with the failed values, then, without scoring them, an evaluation.finished
// with status errored and result fail whose message names the outage. The
// values are no measurement of the service, so the evaluation is errored,
// not failed; a quality gate still does not pass (it fails closed), and a
// remediation can tell an outage from a failed verification.
func (st State) MonitoringUnavailable(now time.Time, values []slo.SLIResult, reason string) (Outcome, error) {
	fetched, err := st.SLIsFetched(now, values)
	if err != nil {
		return Outcome{}, err
	}
	next := *fetched.Next
	msg := "monitoring unavailable, the evaluation could not measure anything: " + reason
	s, _ := next.objective()
	var ev *slo.Evaluation
	if s != nil {
		e := slo.Evaluate(s, next.Values, nil)
		ev = &e
	}
	out, err := next.fail(now, fetched.Events, msg, ev, next.SLOVersion)
	if err != nil {
		return Outcome{}, err
	}
	out.Outage = reason
	return out, nil
}

// SLIAnswer is an integration's get-sli.finished, as the runner read it.
type SLIAnswer struct {
	Status, Result, Message string
	Values                  []slo.SLIResult
}

// SLIsAnswered takes an external provider's answer: its values, one per
// indicator (missing ones failed), go to the evaluate step. The answer is
// already in the event log, so the step emits nothing. An errored answer
// without values fails every indicator with its message.
func (st State) SLIsAnswered(a SLIAnswer) (Outcome, error) {
	if st.Step != StepGetSLI || st.ExternalProvider == "" {
		return Outcome{}, fmt.Errorf("evaluation %s: an external answer in step %q", st.KeptnContext, st.Step)
	}
	values := a.Values
	if len(values) == 0 && a.Status == event.StatusErrored {
		msg := a.Message
		if msg == "" {
			msg = "the provider reported an error"
		}
		values = make([]slo.SLIResult, len(st.Indicators))
		for i, name := range st.Indicators {
			values[i] = slo.SLIResult{Metric: name, Message: fmt.Sprintf("SLI %q: %s: %s", name, st.ExternalProvider, msg)}
		}
	}
	next := st
	next.Step = StepEvaluate
	next.Values = completeValues(st.Indicators, values)
	return Outcome{Next: &next}, nil
}

// SLIWait is the get-sli step while no external answer has come: wait and
// look again, or, past the deadline, close the get-sli task as errored and
// fail the evaluation saying which provider did not answer.
func (st State) SLIWait(now time.Time) (Outcome, error) {
	if st.Step != StepGetSLI || st.ExternalProvider == "" {
		return Outcome{}, fmt.Errorf("evaluation %s: waiting for an external answer in step %q", st.KeptnContext, st.Step)
	}
	if now.Before(st.SLIDeadline) {
		next := st
		runAt := now.Add(SLIPollInterval)
		if runAt.After(st.SLIDeadline) {
			runAt = st.SLIDeadline
		}
		return Outcome{Next: &next, RunAt: runAt}, nil
	}
	msg := fmt.Sprintf("no SLI provider answered: nothing sent get-sli.finished for sliProvider %q within the timeout (until %s); "+
		"check that an integration subscribed to sh.keptn.event.get-sli.triggered is running (tend get integrations)",
		st.ExternalProvider, formatTime(st.SLIDeadline))
	c := st.common()
	c.Status, c.Result, c.Message = event.StatusErrored, event.ResultFail, msg
	fin, err := st.build(now, st.id("get-sli.finished"), event.TypeGetSLIFinished, st.GetSLIID, struct {
		common
		GetSLI getSLIFinished `json:"get-sli"`
	}{c, getSLIFinished{Start: formatTime(st.Start), End: formatTime(st.End), IndicatorValues: []slo.SLIResult{}}})
	if err != nil {
		return Outcome{}, err
	}
	return st.fail(now, []*event.Event{fin}, msg, nil, st.SLOVersion)
}

// completeValues returns one value per indicator, in order: a provider that
// left one out has it failed, so a missing value can never go unnoticed.
func completeValues(indicators []string, values []slo.SLIResult) []slo.SLIResult {
	byName := make(map[string]slo.SLIResult, len(values))
	for _, v := range values {
		if _, dup := byName[v.Metric]; !dup {
			byName[v.Metric] = v
		}
	}
	out := make([]slo.SLIResult, len(indicators))
	for i, name := range indicators {
		v, ok := byName[name]
		if !ok {
			v = slo.SLIResult{Metric: name, Message: fmt.Sprintf("SLI %q: the provider returned no result", name)}
		}
		v.ComparedValue = 0
		out[i] = v
	}
	return out
}

// Evaluate is the last step: the SLO scored against the values and the
// baseline (earlier evaluations of the same project, stage and service,
// newest first; see Baseline), then evaluation.finished and, when tend runs
// the sequence, <stage>.evaluation.finished.
func (st State) Evaluate(now time.Time, previous []slo.Previous) (Outcome, error) {
	if st.Step != StepEvaluate {
		return Outcome{}, fmt.Errorf("evaluation %s: evaluate in step %q", st.KeptnContext, st.Step)
	}
	s, diags := st.objective()
	if s == nil || diags != "" {
		// StepStart checked the same bytes; only a state stored before
		// Objective was kept, read by a changed decoder, gets here.
		return st.fail(now, nil, "the SLO file slo.yaml is invalid: "+diags, nil, st.SLOVersion)
	}
	ev := slo.Evaluate(s, st.Values, previous)
	ev.TimeStart, ev.TimeEnd = formatTime(st.Start), formatTime(st.End)
	c := st.common()
	c.Status, c.Result, c.Message = event.StatusSucceeded, string(ev.Result), ev.Message
	return st.finish(now, nil, c, ev, st.SLOVersion)
}

// Abort ends the evaluation in whatever step it is with a failed
// evaluation.finished saying msg: the handler's last attempt at a step
// failed (the store or the resource repository kept failing), and an
// evaluation that could not run must still finish, as a fail.
func (st State) Abort(now time.Time, msg string) (Outcome, error) {
	var before []*event.Event
	if st.Step == StepStart {
		started, err := st.build(now, st.id("evaluation.started"), event.TypeEvaluationStarted, st.TriggeredID, st.common())
		if err != nil {
			return Outcome{}, err
		}
		before = append(before, started)
	}
	return st.fail(now, before, "the evaluation could not run: "+msg, nil, st.SLOVersion)
}

// fail ends the evaluation with result fail and status errored: the
// evaluation could not run as asked, and that is never a pass. ev, when not
// nil, carries indicator results worth showing.
func (st State) fail(now time.Time, before []*event.Event, msg string, ev *slo.Evaluation, version string) (Outcome, error) {
	e := slo.Evaluation{IndicatorResults: []slo.IndicatorResult{}, ComparedEvents: []string{}}
	if ev != nil {
		e = *ev
	}
	e.Result, e.Score, e.Message = slo.Fail, 0, msg
	e.TimeStart, e.TimeEnd = formatTime(st.Start), formatTime(st.End)
	c := st.common()
	c.Status, c.Result, c.Message = event.StatusErrored, event.ResultFail, msg
	return st.finish(now, before, c, e, version)
}

// EvaluationData is Keptn's evaluation object of evaluation.finished.
type EvaluationData struct {
	slo.Evaluation
	// SLOFileContent is the SLO file evaluated, base64-encoded.
	SLOFileContent string `json:"sloFileContent"`
	// GitCommit is the resource version the SLO file was read at.
	GitCommit string `json:"gitCommit"`
}

// FinishedData is the data of evaluation.finished.
type FinishedData struct {
	Project    string            `json:"project"`
	Stage      string            `json:"stage"`
	Service    string            `json:"service"`
	Labels     map[string]string `json:"labels,omitempty"`
	Status     string            `json:"status"`
	Result     string            `json:"result"`
	Message    string            `json:"message,omitempty"`
	Evaluation EvaluationData    `json:"evaluation"`
}

func (st State) finish(now time.Time, before []*event.Event, c common, ev slo.Evaluation, version string) (Outcome, error) {
	data := FinishedData{
		Project: c.Project, Stage: c.Stage, Service: c.Service, Labels: c.Labels,
		Status: c.Status, Result: c.Result, Message: c.Message,
		Evaluation: EvaluationData{Evaluation: ev, SLOFileContent: encodeBase64(st.SLO), GitCommit: version},
	}
	fin, err := st.build(now, st.id("evaluation.finished"), event.TypeEvaluationFinished, st.TriggeredID, data)
	if err != nil {
		return Outcome{}, err
	}
	result := ev
	evs := append(before, fin)
	if st.SequenceID != "" {
		seq, err := st.build(now, st.id("sequence.finished"), event.SequenceType(st.Stage, event.SequenceEvaluation, event.PhaseFinished), st.SequenceID, c)
		if err != nil {
			return Outcome{}, err
		}
		evs = append(evs, seq)
	}
	return Outcome{Events: evs, Result: &result}, nil
}

// id derives the id of one of the evaluation's events from its context and
// its evaluation.triggered id (which an outside sender chose, so the
// context keeps two senders' equal ids apart).
func (st State) id(role string) string { return deriveID(st.KeptnContext, st.TriggeredID, role) }

// indicators returns the SLI names of the SLO's objectives, each once, in
// file order, then those of its budget objectives.
func indicators(s *slo.SLO) []string {
	var out []string
	for _, o := range s.Objectives {
		if o.SLI != "" && !slices.Contains(out, o.SLI) {
			out = append(out, o.SLI)
		}
	}
	// Budget objectives (a tend extension) are fetched as indicators of
	// their own, named so no sli.yaml name can collide (slo.BudgetRemainingSLI).
	for _, b := range s.Budgets {
		for _, name := range b.Indicators() {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// idNamespace is the namespace of derived event ids (a random UUID fixed
// here, so tend's ids never collide with other name-based UUIDs).
var idNamespace = [16]byte{0x6b, 0x1f, 0x3c, 0x52, 0x0e, 0x4d, 0x4a, 0x8b, 0x9e, 0x21, 0x5a, 0x77, 0xc0, 0x13, 0xd4, 0x2f}

// deriveID returns the id of parts in idNamespace.
func deriveID(parts ...string) string { return event.DerivedID(idNamespace, parts...) }

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func cloneLabels(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	return maps.Clone(l)
}
