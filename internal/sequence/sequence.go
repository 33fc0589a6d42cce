package sequence

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/spec"
)

// Source is the CloudEvents source of the events the engine emits.
const Source = event.DefaultSource

// DefaultTaskTimeout is how long a triggered task waits for an executor's
// .started before it finishes errored.
const DefaultTaskTimeout = 10 * time.Minute

// NoExecutorMessage is the reason of a task that nobody started in time.
const NoExecutorMessage = "no executor answered"

// Approval modes of properties.pass and properties.warning.
const (
	ApprovalAutomatic = "automatic"
	ApprovalManual    = "manual"
)

// Phase is where the current task is.
type Phase string

// The phases of the current task.
const (
	// PhaseNone: the task has not begun (or, while paused, the previous
	// one finished and this one waits for the resume).
	PhaseNone Phase = ""
	// PhaseDelayed: waiting for triggeredAfter.
	PhaseDelayed Phase = "delayed"
	// PhaseTriggered: its .triggered was emitted; no executor started it.
	PhaseTriggered Phase = "triggered"
	// PhaseStarted: at least one executor sent .started.
	PhaseStarted Phase = "started"
)

// Task is a task of the sequence, frozen from the shipyard when the
// sequence was created.
type Task struct {
	Name           string         `json:"name"`
	TriggeredAfter time.Duration  `json:"triggeredAfter,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
}

// Answer is one executor's .finished of the current task.
type Answer struct {
	Source  string `json:"source"`
	Result  string `json:"result,omitempty"`
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// TaskResult is a finished task.
type TaskResult struct {
	Name        string `json:"name"`
	TriggeredID string `json:"triggeredId"`
	Result      string `json:"result"`
	Status      string `json:"status"`
	Message     string `json:"message,omitempty"`
	// Score is the evaluation's score, for the sequence list.
	Score *float64 `json:"score,omitempty"`
}

// EventRef names an event the sequence emitted or received.
type EventRef struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// Sequence is a sequence run: the stored document the runner keeps and
// hands back to Step.
type Sequence struct {
	ID           string `json:"id"`
	KeptnContext string `json:"shkeptncontext"`
	Project      string `json:"project"`
	Stage        string `json:"stage"`
	Service      string `json:"service,omitempty"`
	Name         string `json:"name"`
	// TriggeredID is the id of the <stage>.<name>.triggered event.
	TriggeredID string `json:"triggeredId"`
	State       State  `json:"state"`
	// Data is the data carried into every task: the trigger's data and
	// what finished tasks added, without project, stage and service.
	Data  map[string]json.RawMessage `json:"data,omitempty"`
	Tasks []Task                     `json:"tasks"`
	// Followers are the sequences whose triggeredOn names this one.
	Followers   []Follower    `json:"followers,omitempty"`
	TaskTimeout time.Duration `json:"taskTimeout"`

	// Current is the index of the running task; len(Tasks) when all ran.
	Current int   `json:"current"`
	Phase   Phase `json:"phase,omitempty"`
	// TaskTriggeredID is the current task's .triggered id.
	TaskTriggeredID string `json:"taskTriggeredId,omitempty"`
	// Deadline is when the current timer is due (triggeredAfter's end, or
	// the answer timeout).
	Deadline time.Time `json:"deadline,omitzero"`
	// TimerGen numbers the timers armed, so that each gets its own job.
	TimerGen int      `json:"timerGen,omitempty"`
	Starters []string `json:"starters,omitempty"`
	Answers  []Answer `json:"answers,omitempty"`

	Done    []TaskResult `json:"done,omitempty"`
	Result  string       `json:"result,omitempty"`
	Status  string       `json:"status,omitempty"`
	Message string       `json:"message,omitempty"`

	LatestEvent       *EventRef `json:"latestEvent,omitempty"`
	LatestFailedEvent *EventRef `json:"latestFailedEvent,omitempty"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// Timer asks the runner to deliver InputTimer at RunAt; Key is unique per
// armed timer.
type Timer struct {
	RunAt time.Time
	Key   string
}

// Outcome is what one input decided: the sequence's new state, the events
// to emit, a timer to arm and the sequences to start, all recorded in one
// transaction.
type Outcome struct {
	Sequence Sequence
	Events   []*event.Event
	Timer    *Timer
	// Evaluation is the evaluation.triggered event among Events that the
	// built-in evaluation must run, nil when none.
	Evaluation *event.Event
	// Released is true when the sequence stopped holding its project,
	// stage and service, so the next waiting one may start.
	Released bool
	// FollowUps are the <stage>.<sequence>.triggered events of the
	// sequences that this one's finish starts.
	FollowUps []*event.Event
	// Changed is false when the input was ignored (nothing to record).
	Changed bool
}

// Options configure New.
type Options struct {
	// TaskTimeout is how long a triggered task waits for an executor;
	// DefaultTaskTimeout when 0.
	TaskTimeout time.Duration
}

// ErrNotEngine means the event is not one the engine starts a sequence
// for; ErrUnknown that the shipyard has no such stage or sequence.
var (
	ErrNotEngine = errors.New("not a sequence the engine runs")
	ErrUnknown   = errors.New("no such sequence in the shipyard")
)

// reserved are the data fields the engine sets itself.
var reserved = map[string]bool{"project": true, "stage": true, "service": true, "result": true, "status": true, "message": true}

// Trigger is a <stage>.<sequence>.triggered event taken apart.
type Trigger struct {
	Stage, Name string
}

// IsTrigger reports whether ev starts an engine sequence: a
// <stage>.<sequence>.triggered event of a sequence other than remediation
// and evaluation.
func IsTrigger(ev *event.Event) (Trigger, bool) {
	t, ok := event.ParseType(ev.Type)
	if !ok || t.Legacy || !t.IsSequence() || t.Phase != event.PhaseTriggered || !Engine(t.Task) {
		return Trigger{}, false
	}
	return Trigger{Stage: t.Stage, Name: t.Task}, true
}

// ID returns the id of the sequence run of a stage and name in a Keptn
// context.
func ID(keptnContext, stage, name string) string {
	return deriveID(keptnContext, stage, name, "sequence")
}

// New creates the sequence that a <stage>.<name>.triggered event starts,
// in state Waiting; the runner then gives it InputStart when its project,
// stage and service is free.
func New(sy *spec.Shipyard, ev *event.Event, now time.Time, opts Options) (Sequence, error) {
	tr, ok := IsTrigger(ev)
	if !ok {
		return Sequence{}, fmt.Errorf("%w: %s", ErrNotEngine, ev.Type)
	}
	c, err := ev.Common()
	if err != nil {
		return Sequence{}, fmt.Errorf("sequence %s: %w", ev.Type, err)
	}
	def, ok := Lookup(sy, tr.Stage, tr.Name)
	if !ok {
		return Sequence{}, fmt.Errorf("%w: stage %q has no sequence %q", ErrUnknown, tr.Stage, tr.Name)
	}
	data := map[string]json.RawMessage{}
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return Sequence{}, fmt.Errorf("sequence %s: data: %w", ev.Type, err)
		}
	}
	for k := range reserved {
		delete(data, k)
	}
	s := Sequence{
		ID: ID(ev.KeptnContext, tr.Stage, tr.Name), KeptnContext: ev.KeptnContext,
		Project: c.Project, Stage: tr.Stage, Service: c.Service, Name: tr.Name, TriggeredID: ev.ID,
		State: Waiting, Data: data, Followers: followers(sy, tr.Stage, tr.Name),
		TaskTimeout: opts.TaskTimeout, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
		LatestEvent: &EventRef{Type: ev.Type, ID: ev.ID, Time: ev.Time},
	}
	if s.TaskTimeout <= 0 {
		s.TaskTimeout = DefaultTaskTimeout
	}
	for _, t := range def.Tasks {
		s.Tasks = append(s.Tasks, Task{Name: t.Name, TriggeredAfter: t.TriggeredAfter, Properties: t.Properties})
	}
	return s, nil
}

// Step applies one input. For InputTaskStarted and InputTaskFinished, ev is
// the executor's event; for the others it is nil. It returns ErrIllegal
// for an input the state does not allow.
func (s Sequence) Step(now time.Time, in Input, ev *event.Event) (Outcome, error) {
	m, err := lookup(s.State, in)
	if err != nil {
		return Outcome{}, err
	}
	if m == ignore {
		return Outcome{Sequence: s}, nil
	}
	s.Data = maps.Clone(s.Data)
	s.Starters = append([]string(nil), s.Starters...)
	s.Answers = append([]Answer(nil), s.Answers...)
	s.Done = append([]TaskResult(nil), s.Done...)
	o := &Outcome{Changed: true}
	now = now.UTC()
	switch in {
	case InputStart:
		s.State = Started
		err = s.advance(now, o)
	case InputTimer:
		err = s.timer(now, o)
	case InputTaskStarted:
		err = s.started(now, ev, o)
	case InputTaskFinished:
		err = s.finished(now, ev, o)
	case InputPause:
		s.State = Paused
	case InputResume:
		s.State = Started
		err = s.resume(now, o)
	case InputAbort:
		err = s.abort(now, o)
	}
	if err != nil {
		return Outcome{}, err
	}
	if !o.Changed {
		return Outcome{Sequence: s}, nil
	}
	s.UpdatedAt = now
	for _, e := range o.Events {
		s.LatestEvent = &EventRef{Type: e.Type, ID: e.ID, Time: e.Time}
	}
	o.Sequence = s
	return *o, nil
}

// advance triggers tasks until one must be waited for, or finishes.
func (s *Sequence) advance(now time.Time, o *Outcome) error {
	for s.State == Started {
		if s.Current >= len(s.Tasks) {
			return s.finish(now, Finished, o)
		}
		t := s.Tasks[s.Current]
		switch s.Phase {
		case PhaseNone:
			if t.TriggeredAfter > 0 {
				s.Phase = PhaseDelayed
				s.arm(now.Add(t.TriggeredAfter), o)
				return nil
			}
		case PhaseDelayed:
			if now.Before(s.Deadline) {
				return nil
			}
		default:
			return nil
		}
		done, err := s.trigger(now, o)
		if err != nil || !done {
			return err
		}
	}
	return nil
}

// arm sets the sequence's one timer.
func (s *Sequence) arm(at time.Time, o *Outcome) {
	s.Deadline = at
	s.TimerGen++
	o.Timer = &Timer{RunAt: at, Key: s.ID + "/" + strconv.Itoa(s.Current) + "/timer/" + strconv.Itoa(s.TimerGen)}
}

// trigger emits the current task's .triggered. done is true when a
// built-in finished it at once (automatic approval).
func (s *Sequence) trigger(now time.Time, o *Outcome) (done bool, err error) {
	t := s.Tasks[s.Current]
	s.TaskTriggeredID = s.taskID("triggered")
	s.Phase, s.Starters, s.Answers, s.Deadline = PhaseTriggered, nil, nil, time.Time{}
	data := s.taskData(t)
	prev := s.aggregate()
	if t.Name == event.TaskApproval {
		data["result"], data["status"] = prev.Result, prev.Status
	}
	ev, err := s.build(now, s.TaskTriggeredID, event.TaskType(t.Name, event.PhaseTriggered), "", data)
	if err != nil {
		return false, err
	}
	o.Events = append(o.Events, ev)
	switch t.Name {
	case event.TaskApproval:
		if approvalMode(t, prev.Result) == ApprovalManual {
			return false, nil // waits for approval.finished, without timeout
		}
		common := s.common()
		common["result"], common["status"] = prev.Result, event.StatusSucceeded
		common["message"] = "approved automatically"
		st, err := s.build(now, s.taskID("started"), event.TaskType(t.Name, event.PhaseStarted), s.TaskTriggeredID, s.common())
		if err != nil {
			return false, err
		}
		fin, err := s.build(now, s.taskID("finished"), event.TaskType(t.Name, event.PhaseFinished), s.TaskTriggeredID, common)
		if err != nil {
			return false, err
		}
		o.Events = append(o.Events, st, fin)
		s.complete(TaskResult{Name: t.Name, TriggeredID: s.TaskTriggeredID, Result: prev.Result, Status: event.StatusSucceeded, Message: "approved automatically"})
		return true, nil
	case event.TaskEvaluation:
		o.Evaluation = ev
	}
	s.arm(now.Add(s.TaskTimeout), o)
	return false, nil
}

// approvalMode is properties.pass or properties.warning for the previous
// result; automatic when unset.
func approvalMode(t Task, result string) string {
	key := "pass"
	if result == event.ResultWarning {
		key = "warning"
	}
	if v, ok := t.Properties[key].(string); ok && v == ApprovalManual {
		return ApprovalManual
	}
	return ApprovalAutomatic
}

func (s *Sequence) timer(now time.Time, o *Outcome) error {
	if s.Deadline.IsZero() || now.Before(s.Deadline) {
		o.Changed = false // an old timer, or one that fired early
		return nil
	}
	switch s.Phase {
	case PhaseDelayed:
		return s.advance(now, o)
	case PhaseTriggered:
		t := s.Tasks[s.Current]
		data := s.common()
		data["result"], data["status"], data["message"] = event.ResultFail, event.StatusErrored, NoExecutorMessage
		fin, err := s.build(now, s.taskID("timeout"), event.TaskType(t.Name, event.PhaseFinished), s.TaskTriggeredID, data)
		if err != nil {
			return err
		}
		o.Events = append(o.Events, fin)
		s.complete(TaskResult{Name: t.Name, TriggeredID: s.TaskTriggeredID, Result: event.ResultFail, Status: event.StatusErrored, Message: NoExecutorMessage})
		s.LatestFailedEvent = &EventRef{Type: fin.Type, ID: fin.ID, Time: fin.Time}
		s.Message = fmt.Sprintf("task %s: %s within %s", t.Name, NoExecutorMessage, s.TaskTimeout)
		return s.finish(now, TimedOut, o)
	}
	o.Changed = false
	return nil
}

// answers reports whether ev answers the current task.
func (s *Sequence) answers(ev *event.Event, p event.Phase) bool {
	if ev == nil || s.Current >= len(s.Tasks) || s.TaskTriggeredID == "" || ev.TriggeredID != s.TaskTriggeredID {
		return false
	}
	t, ok := event.ParseType(ev.Type)
	return ok && !t.IsSequence() && t.Phase == p && t.Task == s.Tasks[s.Current].Name &&
		(s.Phase == PhaseTriggered || s.Phase == PhaseStarted)
}

func (s *Sequence) started(_ time.Time, ev *event.Event, o *Outcome) error {
	if !s.answers(ev, event.PhaseStarted) || contains(s.Starters, ev.Source) {
		o.Changed = false
		return nil
	}
	s.Starters = append(s.Starters, ev.Source)
	s.Phase, s.Deadline = PhaseStarted, time.Time{}
	return nil
}

func (s *Sequence) finished(now time.Time, ev *event.Event, o *Outcome) error {
	if !s.answers(ev, event.PhaseFinished) {
		o.Changed = false
		return nil
	}
	for _, a := range s.Answers {
		if a.Source == ev.Source {
			o.Changed = false
			return nil
		}
	}
	c, _ := ev.Common()
	a := Answer{Source: ev.Source, Result: c.Result, Status: c.Status, Message: c.Message}
	if a.Result == "" {
		a.Result = event.ResultPass
	}
	if a.Status == "" {
		a.Status = event.StatusSucceeded
	}
	s.Answers = append(s.Answers, a)
	s.carry(ev)
	if !contains(s.Starters, ev.Source) {
		s.Starters = append(s.Starters, ev.Source)
	}
	if len(s.Answers) < len(s.Starters) {
		s.Phase = PhaseStarted
		return nil // others that started have not finished
	}
	t := s.Tasks[s.Current]
	r := TaskResult{Name: t.Name, TriggeredID: s.TaskTriggeredID, Result: event.ResultPass, Status: event.StatusSucceeded}
	for _, a := range s.Answers {
		r.Result, r.Status = worseResult(r.Result, a.Result), worseStatus(r.Status, a.Status)
		if a.Message != "" {
			r.Message = a.Message
		}
	}
	if t.Name == event.TaskEvaluation {
		r.Score = evaluationScore(ev.Data)
	}
	s.complete(r)
	if r.Result == event.ResultFail || r.Status == event.StatusErrored {
		s.LatestFailedEvent = &EventRef{Type: ev.Type, ID: ev.ID, Time: ev.Time}
		if r.Message != "" {
			s.Message = "task " + t.Name + ": " + r.Message
		}
		return s.finish(now, Finished, o)
	}
	return s.advance(now, o)
}

// complete records the current task's result and moves to the next.
func (s *Sequence) complete(r TaskResult) {
	s.Done = append(s.Done, r)
	s.Current++
	s.Phase, s.TaskTriggeredID, s.Starters, s.Answers, s.Deadline = PhaseNone, "", nil, nil, time.Time{}
}

func (s *Sequence) resume(now time.Time, o *Outcome) error {
	switch s.Phase {
	case PhaseDelayed, PhaseTriggered:
		if !s.Deadline.IsZero() {
			// A timer that came due while paused was ignored: arm it
			// again.
			at := s.Deadline
			if at.Before(now) {
				at = now
			}
			s.arm(at, o)
			s.Deadline = at
		}
		return nil
	case PhaseStarted:
		return nil
	}
	return s.advance(now, o)
}

func (s *Sequence) abort(now time.Time, o *Outcome) error {
	if s.Current < len(s.Tasks) && (s.Phase == PhaseTriggered || s.Phase == PhaseStarted) {
		// End the running task's wait, so pollers no longer see it open.
		t := s.Tasks[s.Current]
		data := s.common()
		data["result"], data["status"], data["message"] = event.ResultFail, event.StatusAborted, "sequence aborted"
		fin, err := s.build(now, s.taskID("aborted"), event.TaskType(t.Name, event.PhaseFinished), s.TaskTriggeredID, data)
		if err != nil {
			return err
		}
		o.Events = append(o.Events, fin)
	}
	s.Message = "aborted"
	return s.finish(now, Aborted, o)
}

// finish ends the sequence: its <stage>.<name>.finished with the
// aggregated result and status, and the follow-up sequences.
func (s *Sequence) finish(now time.Time, end State, o *Outcome) error {
	wasActive := s.State.Active()
	agg := s.aggregate()
	s.State, s.Result, s.Status = end, agg.Result, agg.Status
	if end == Aborted {
		s.Status = event.StatusAborted
	}
	s.Phase, s.Deadline = PhaseNone, time.Time{}
	data := s.common()
	for k, v := range s.Data {
		data[k] = v
	}
	data["result"], data["status"] = s.Result, s.Status
	if s.Message != "" {
		data["message"] = s.Message
	}
	fin, err := s.build(now, deriveID(s.KeptnContext, s.Stage, s.Name, "finished"),
		event.SequenceType(s.Stage, s.Name, event.PhaseFinished), s.TriggeredID, data)
	if err != nil {
		return err
	}
	o.Events = append(o.Events, fin)
	o.Released = wasActive
	if end == Aborted {
		return nil
	}
	for _, f := range s.Followers {
		if !s.matches(f.Match, fin.Data) {
			continue
		}
		fd := s.common()
		for k, v := range s.Data {
			fd[k] = v
		}
		fd["stage"] = f.Stage
		ev, err := s.build(now, deriveID(s.KeptnContext, f.Stage, f.Name, "triggered"), event.SequenceType(f.Stage, f.Name, event.PhaseTriggered), "", fd)
		if err != nil {
			return err
		}
		o.FollowUps = append(o.FollowUps, ev)
	}
	return nil
}

// matches applies a triggeredOn selector to the finished sequence: result
// is the sequence's result, <task>.result a task's, anything else a path
// into the finished event's data. No selector matches pass and warning.
func (s *Sequence) matches(match map[string]string, data json.RawMessage) bool {
	if len(match) == 0 {
		return s.Result == event.ResultPass || s.Result == event.ResultWarning
	}
	for k, want := range match {
		got, found := "", false
		if k == "result" {
			got, found = s.Result, true
		} else if task, ok := strings.CutSuffix(k, ".result"); ok {
			for i := len(s.Done) - 1; i >= 0; i-- {
				if s.Done[i].Name == task {
					got, found = s.Done[i].Result, true
					break
				}
			}
		}
		if !found {
			got, found = path(data, k)
		}
		if !found || got != want {
			return false
		}
	}
	return true
}

// path reads a dotted path of data as text.
func path(data json.RawMessage, p string) (string, bool) {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return "", false
	}
	for _, part := range strings.Split(p, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[part]; !ok {
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case nil, map[string]any, []any:
		return "", false
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

// aggregate is the worst result and status of the finished tasks.
func (s *Sequence) aggregate() TaskResult {
	r := TaskResult{Result: event.ResultPass, Status: event.StatusSucceeded}
	for _, d := range s.Done {
		r.Result, r.Status = worseResult(r.Result, d.Result), worseStatus(r.Status, d.Status)
	}
	return r
}

var resultRank = map[string]int{event.ResultPass: 0, event.ResultWarning: 1, event.ResultFail: 2}

func worseResult(a, b string) string {
	if rb, ok := resultRank[b]; ok && rb > resultRank[a] {
		return b
	}
	return a
}

func worseStatus(a, b string) string {
	if a == event.StatusErrored || b == event.StatusErrored {
		return event.StatusErrored
	}
	if b == event.StatusAborted {
		return b
	}
	return a
}

// carry merges a finished task's data into the data carried on: objects
// are merged key by key, other values replaced.
func (s *Sequence) carry(ev *event.Event) {
	var d map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &d) != nil {
		return
	}
	if s.Data == nil {
		s.Data = map[string]json.RawMessage{}
	}
	for k, v := range d {
		if reserved[k] || k == "labels" {
			continue
		}
		s.Data[k] = mergeObject(s.Data[k], v)
	}
}

func mergeObject(old, add json.RawMessage) json.RawMessage {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(old, &a) != nil || json.Unmarshal(add, &b) != nil || a == nil || b == nil {
		return add
	}
	maps.Copy(a, b)
	out, err := json.Marshal(a)
	if err != nil {
		return add
	}
	return out
}

// common is project, stage, service and labels of every event.
func (s *Sequence) common() map[string]any {
	m := map[string]any{"project": s.Project, "stage": s.Stage}
	if s.Service != "" {
		m["service"] = s.Service
	}
	if l, ok := s.Data["labels"]; ok {
		m["labels"] = l
	}
	return m
}

// taskData is a task's .triggered data: the carried data, with the task's
// properties merged into the object named after the task. The evaluation
// task takes only its properties: an earlier evaluation's result carried
// on is no window to evaluate.
func (s *Sequence) taskData(t Task) map[string]any {
	m := s.common()
	for k, v := range s.Data {
		m[k] = v
	}
	var own map[string]any
	if raw, ok := s.Data[t.Name]; ok && t.Name != event.TaskEvaluation {
		_ = json.Unmarshal(raw, &own)
	}
	delete(m, t.Name)
	if own == nil && len(t.Properties) > 0 {
		own = map[string]any{}
	}
	maps.Copy(own, t.Properties)
	if own != nil {
		m[t.Name] = own
	}
	return m
}

func (s *Sequence) taskID(role string) string {
	return deriveID(s.KeptnContext, s.Stage, s.Name, strconv.Itoa(s.Current), role)
}

func (s *Sequence) build(now time.Time, id, typ, triggeredID string, data any) (*event.Event, error) {
	b := event.Builder{Source: Source, Now: func() time.Time { return now }, NewID: func() string { return id }}
	ev, err := b.New(typ, s.KeptnContext, triggeredID, data)
	if err != nil {
		return nil, fmt.Errorf("sequence %s: %w", s.ID, err)
	}
	return ev, nil
}

func evaluationScore(data json.RawMessage) *float64 {
	var d struct {
		Evaluation struct {
			Score *float64 `json:"score"`
		} `json:"evaluation"`
	}
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	return d.Evaluation.Score
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// idNamespace is the namespace of derived event ids (fixed here, so the
// engine's ids never collide with other name-based UUIDs).
var idNamespace = [16]byte{0x2d, 0x8e, 0x41, 0xa7, 0x5c, 0x13, 0x4f, 0x02, 0xb1, 0x6a, 0x93, 0x0e, 0x7d, 0xc4, 0x58, 0x21}

// deriveID returns the id of parts in idNamespace.
func deriveID(parts ...string) string { return event.DerivedID(idNamespace, parts...) }

// Image is the artifact the sequence delivers: the trigger's
// configurationChange.values.image, else "".
func (s Sequence) Image() string {
	img, _ := path(mustJSON(s.Data), "configurationChange.values.image")
	return img
}

// DerivedID returns the derived id of parts, for the runner's own events.
func DerivedID(parts ...string) string { return deriveID(parts...) }

// Encode returns the sequence as its stored document.
func (s Sequence) Encode() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		// Sequence holds strings, times, numbers and JSON already parsed.
		panic(fmt.Sprintf("sequence: encode: %v", err))
	}
	return b
}

// Decode reads a stored document.
func Decode(doc []byte) (Sequence, error) {
	var s Sequence
	if err := json.Unmarshal(doc, &s); err != nil {
		return Sequence{}, fmt.Errorf("decode sequence: %w", err)
	}
	if _, ok := transitions[s.State]; !ok {
		return Sequence{}, fmt.Errorf("decode sequence: unknown state %q", s.State)
	}
	return s, nil
}
