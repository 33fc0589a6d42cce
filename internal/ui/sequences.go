package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
)

// The sequence pages show shipyard sequences (internal/sequence) as a
// person follows them: a list per project, and per keptn context a lane per
// stage with its tasks, coloured by result, how long each took, who
// answered it, its events and its integrations' log lines, with the
// buttons that answer a waiting approval and pause, resume or abort.

// Sequencer answers approvals and controls sequences. The API server
// implements it, so the UI's buttons run the code of tend approve and
// decline (POST /api/v1/event) and of the control route.
type Sequencer interface {
	// AnswerApproval approves or declines the waiting approval.triggered
	// event triggeredID on behalf of p. The error matches
	// store.ErrNotFound when no such approval waits.
	AnswerApproval(ctx context.Context, p auth.Principal, project, triggeredID string, approve bool) (string, error)
	// ControlSequence pauses, resumes or aborts (state) the sequences of a
	// keptn context, in stage or all. The error matches store.ErrNotFound
	// when there is none and sequence.ErrIllegal when none can take it.
	ControlSequence(ctx context.Context, project, keptnContext, stage, state string) ([]string, error)
}

// maxSequenceRecords bounds the stage runs one list reads.
const maxSequenceRecords = 4 * store.MaxPageSize

func sequencesURL(project string) string { return projectURL(project) + "/sequences" }
func sequenceURL(project, kctx string) string {
	return sequencesURL(project) + "/" + url.PathEscape(kctx)
}

// stateClass colours a sequence state or a task's status word.
func stateClass(s string) string {
	switch s {
	case string(sequence.Finished), "pass", "succeeded":
		return "status-pass"
	case string(sequence.Started), "running", "triggered", "delayed":
		return "status-info"
	case string(sequence.Paused), string(sequence.Aborted), "warning", "approval":
		return "status-warning"
	case string(sequence.TimedOut), "fail", "errored":
		return "status-fail"
	}
	return "status-none"
}

// seqSummary is one keptn context's sequence in the list.
type seqSummary struct {
	Project, KeptnContext, Name, Service string
	// Image is the image the sequence delivers, from its trigger.
	Image             string
	State, StateClass string
	Time              time.Time
	Stages            []stageChip
	Href              string
}

type stageChip struct {
	Stage, Word, Class string
}

// contextState folds a context's stage runs (oldest first) into one
// state: the first that has not ended, else the newest's.
func contextState(runs []sequence.Sequence) sequence.State {
	for _, r := range runs {
		if !r.State.Ended() {
			return r.State
		}
	}
	return runs[len(runs)-1].State
}

// runWord is what a stage run's chip says: its state while it runs, its
// result when it finished.
func runWord(r sequence.Sequence) string {
	switch {
	case r.State == sequence.Finished && r.Status == event.StatusErrored:
		return "errored"
	case r.State == sequence.Finished && r.Result != "":
		return r.Result
	}
	return string(r.State)
}

type sequencesData struct {
	pageBase
	Project   string
	State     string
	States    []string
	Sequences []seqSummary
	FilterURL string
}

// sequencesPage lists sequences, newest first, one entry per keptn
// context, optionally of one state: a project's at
// /projects/{project}/sequences, every readable project's at /sequences.
func (u *UI) sequencesPage(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	p := principal(r)
	f := store.SequenceFilter{Project: project}
	d := sequencesData{Project: project, State: r.URL.Query().Get("state")}
	if project != "" {
		if !u.canRead(w, r, project) {
			return
		}
		d.pageBase = base(sess(r), "Sequences of "+project, crumb{"Projects", "/"}, crumb{project, projectURL(project)}, crumb{Label: "Sequences"})
		d.FilterURL = sequencesURL(project)
	} else {
		// A restricted token sees its own project's.
		f.Project = p.Project
		d.pageBase = base(sess(r), "Sequences", crumb{Label: "Sequences"})
		d.FilterURL = "/sequences"
	}
	for _, s := range sequence.States {
		d.States = append(d.States, string(s))
	}
	if d.State != "" && !slices.Contains(d.States, d.State) {
		u.renderError(w, r, http.StatusBadRequest, fmt.Sprintf("State %q is unknown: use waiting, started, paused, finished, aborted or timedOut.", d.State))
		return
	}
	groups, order, err := u.sequenceRuns(r.Context(), f)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	for _, kc := range order {
		runs := groups[kc]
		first := runs[0]
		if p.Can(auth.ActionReadProject, first.Project) != nil {
			continue
		}
		st := contextState(runs)
		if d.State != "" && string(st) != d.State {
			continue
		}
		it := seqSummary{Project: first.Project, KeptnContext: kc, Name: first.Name, Service: first.Service, Image: carriedImage(first),
			State: string(st), StateClass: stateClass(string(st)), Time: first.CreatedAt, Href: sequenceURL(first.Project, kc)}
		for _, run := range runs {
			wd := runWord(run)
			it.Stages = append(it.Stages, stageChip{Stage: run.Stage, Word: wd, Class: stateClass(wd)})
		}
		d.Sequences = append(d.Sequences, it)
	}
	u.render(w, r, http.StatusOK, "sequences", d)
}

// sequenceRuns reads the stage runs f selects, grouped by keptn context
// (each group oldest first) in the order of the contexts' newest runs.
func (u *UI) sequenceRuns(ctx context.Context, f store.SequenceFilter) (map[string][]sequence.Sequence, []string, error) {
	f.PageSize = store.MaxPageSize
	groups := map[string][]sequence.Sequence{}
	var order []string
	for n := 0; n < maxSequenceRecords; {
		pg, err := u.store.ListSequences(ctx, f)
		if err != nil {
			return nil, nil, fmt.Errorf("list sequences: %w", err)
		}
		for _, rec := range pg.Sequences {
			n++
			s, err := sequence.Decode(rec.Doc)
			if err != nil {
				u.log.WarnContext(ctx, "ui_sequence_unreadable", "sequence_id", rec.ID, "err", err)
				continue
			}
			if _, seen := groups[rec.KeptnContext]; !seen {
				order = append(order, rec.KeptnContext)
			}
			groups[rec.KeptnContext] = append(groups[rec.KeptnContext], s)
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	for _, runs := range groups {
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].CreatedAt.Before(runs[j].CreatedAt) })
	}
	return groups, order, nil
}

// seqView is a laid-out sequence of one keptn context.
type seqView struct {
	Project, KeptnContext, Name, Service string
	State, StateClass                    string
	Ended                                bool
	LastSeq                              int64
	Lanes                                []lane
	Chart                                laneChart
	// Approvals counts the approvals that wait for an answer.
	Approvals int
}

// lane is one stage's run of the sequence.
type lane struct {
	Stage, Name       string
	State, StateClass string
	Result, Message   string
	// Image is what the sequence deployed in the stage (ImageWord says
	// how: deployed, released, rolled back) or, before any delivery
	// event named one, the image it delivers (ImageWord "delivers").
	Image, ImageWord string
	// Controls are the controls the run can take now.
	Controls []string
	Tasks    []taskView
}

// taskView is one task of a stage run.
type taskView struct {
	N           int
	Name        string
	Word, Class string
	TriggeredID string
	Start, End  time.Time
	Duration    string
	Message     string
	// Answered names who sent .started or .finished, and the integrations
	// that logged about the task.
	Answered []answerer
	// Waiting is true for a manual approval that waits for an answer.
	Waiting bool
	Events  []taskEvent
	Logs    []logView
	// Score is an evaluation's score; Image the image a deployment,
	// release or rollback reported in its finished event.
	Score, Image string
}

type answerer struct {
	Name string
	// Integration is true when a registered integration has the name.
	Integration bool
}

type taskEvent struct {
	Type, Source string
	Time         time.Time
	Href         string
}

// sequenceInput is what buildSequence lays out.
type sequenceInput struct {
	KeptnContext string
	Runs         []sequence.Sequence
	Events       []store.EventRecord
	Logs         []logView
	// Integrations are the names of the registered integrations.
	Integrations map[string]bool
	// Deployed is what the context's delivery events say it deployed,
	// by stage.
	Deployed map[string]store.DeployedImage
	Now      time.Time
}

// buildSequence lays out the stage runs of one keptn context with their
// events and log lines.
func buildSequence(in sequenceInput) seqView {
	first := in.Runs[0]
	st := contextState(in.Runs)
	v := seqView{Project: first.Project, KeptnContext: in.KeptnContext, Name: first.Name, Service: first.Service,
		State: string(st), StateClass: stateClass(string(st)), Ended: st.Ended()}
	byID := map[string]store.EventRecord{}
	answers := map[string][]store.EventRecord{}
	for _, e := range in.Events {
		if e.Seq > v.LastSeq {
			v.LastSeq = e.Seq
		}
		byID[e.ID] = e
		if e.TriggeredID != "" {
			answers[e.TriggeredID] = append(answers[e.TriggeredID], e)
		}
	}
	logs := map[string][]logView{}
	for _, l := range in.Logs {
		logs[l.TriggeredID] = append(logs[l.TriggeredID], l)
	}
	for _, run := range in.Runs {
		if !run.State.Ended() {
			// A stage that runs keeps the whole context open.
			v.Ended = false
		}
		ln := lane{Stage: run.Stage, Name: run.Name, State: string(run.State), StateClass: stateClass(string(run.State)),
			Result: run.Result, Message: run.Message}
		if d, ok := in.Deployed[run.Stage]; ok {
			ln.Image, ln.ImageWord = d.Image, typeShort(d.EventType)
		} else if img := carriedImage(run); img != "" {
			ln.Image, ln.ImageWord = img, "delivers"
		}
		for _, c := range []struct {
			name string
			in   sequence.Input
		}{{"pause", sequence.InputPause}, {"resume", sequence.InputResume}, {"abort", sequence.InputAbort}} {
			// Offer only the controls that change something.
			if sequence.Allowed(run.State, c.in) == nil && !(c.in == sequence.InputPause && run.State == sequence.Paused) &&
				!(c.in == sequence.InputResume && run.State != sequence.Paused) {
				ln.Controls = append(ln.Controls, c.name)
			}
		}
		for i, t := range run.Tasks {
			tv := taskView{N: i + 1, Name: t.Name}
			switch {
			case i < len(run.Done):
				d := run.Done[i]
				tv.TriggeredID, tv.Message = d.TriggeredID, d.Message
				tv.Word = resultWord(d.Status, d.Result)
				if d.Score != nil {
					tv.Score = formatNumber(*d.Score)
				}
			case i == run.Current && !run.State.Ended() && run.State != sequence.Waiting:
				tv.TriggeredID = run.TaskTriggeredID
				switch run.Phase {
				case sequence.PhaseDelayed:
					tv.Word = "delayed"
				case sequence.PhaseTriggered, sequence.PhaseStarted:
					tv.Word = "running"
					if run.Phase == sequence.PhaseTriggered {
						tv.Word = "triggered"
					}
					if t.Name == event.TaskApproval {
						tv.Word, tv.Waiting = "approval", true
						v.Approvals++
					}
				default:
					tv.Word = string(run.State)
				}
			case run.State.Ended():
				tv.Word = "skipped"
			default:
				tv.Word = "pending"
			}
			tv.Class = stateClass(tv.Word)
			if tv.TriggeredID != "" {
				if trig, ok := byID[tv.TriggeredID]; ok {
					tv.Start = trig.Time
					tv.Events = append(tv.Events, taskEvent{Type: trig.Type, Source: trig.Source, Time: trig.Time, Href: contextURL(in.KeptnContext) + "#event-" + strconv.FormatInt(trig.Seq, 10)})
				}
				seen := map[string]bool{}
				for _, a := range answers[tv.TriggeredID] {
					tv.Events = append(tv.Events, taskEvent{Type: a.Type, Source: a.Source, Time: a.Time, Href: contextURL(in.KeptnContext) + "#event-" + strconv.FormatInt(a.Seq, 10)})
					if t, ok := event.ParseType(a.Type); ok && t.Phase == event.PhaseFinished {
						if a.Time.After(tv.End) {
							tv.End = a.Time
						}
						if slices.Contains(store.DeliveryFinishedTypes, a.Type) {
							if img, _ := store.ImageOf(a.JSON); img != "" {
								tv.Image = img
							}
						}
					}
					if !seen[a.Source] {
						seen[a.Source] = true
						tv.Answered = append(tv.Answered, answerer{Name: sourceName(a.Source), Integration: in.Integrations[a.Source]})
					}
				}
				tv.Logs = logs[tv.TriggeredID]
				for _, l := range tv.Logs {
					if !seen[l.Integration] {
						seen[l.Integration] = true
						tv.Answered = append(tv.Answered, answerer{Name: l.Integration, Integration: true})
					}
				}
			}
			if tv.Word == "skipped" || tv.Word == "pending" {
				tv.End = time.Time{}
			}
			if !tv.Start.IsZero() {
				end := tv.End
				if end.IsZero() && i >= len(run.Done) && !run.State.Ended() {
					end = in.Now
				}
				if !end.IsZero() {
					tv.Duration = formatDuration(end.Sub(tv.Start))
				}
			}
			ln.Tasks = append(ln.Tasks, tv)
		}
		v.Lanes = append(v.Lanes, ln)
	}
	// A finished stage's follow-ups are triggered in the same step, and
	// their runs are created by the next one: a trigger without a run yet
	// is a lane about to start, and the sequence has not ended.
	have := map[string]bool{}
	for _, run := range in.Runs {
		have[run.Stage+"."+run.Name] = true
	}
	for _, e := range in.Events {
		t, ok := event.ParseType(e.Type)
		if !ok || t.Legacy || !t.IsSequence() || t.Phase != event.PhaseTriggered || !sequence.Engine(t.Task) || have[t.Stage+"."+t.Task] {
			continue
		}
		have[t.Stage+"."+t.Task] = true
		v.Ended, v.State, v.StateClass = false, string(sequence.Waiting), stateClass(string(sequence.Waiting))
		v.Lanes = append(v.Lanes, lane{Stage: t.Stage, Name: t.Task, State: string(sequence.Waiting), StateClass: stateClass(string(sequence.Waiting))})
	}
	v.Chart = layoutLanes(v.Lanes, in.Now)
	return v
}

// formatDuration writes a duration as a person reads it: 850ms, 12s,
// 3m 20s, 1h 5m.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

type sequenceData struct {
	pageBase
	View       seqView
	CanWrite   bool
	StreamHref string
	SourceHref string
	EventsHref string
	ActionHref string
	Notice     string
}

// loadSequence reads and lays out the sequence of a keptn context in a
// project; ok is false when there is none.
func (u *UI) loadSequence(ctx context.Context, r *http.Request, project, kctx string) (seqView, bool, error) {
	kc := event.ContextFor(kctx)
	groups, _, err := u.sequenceRuns(ctx, store.SequenceFilter{Project: project, KeptnContext: kc})
	if err != nil {
		return seqView{}, false, err
	}
	runs := groups[kc]
	if len(runs) == 0 {
		return seqView{}, false, nil
	}
	in := sequenceInput{KeptnContext: kctx, Runs: runs, Now: u.now(), Integrations: map[string]bool{}, Deployed: map[string]store.DeployedImage{}}
	if runs[0].Service != "" {
		images, err := u.deployedImages(ctx, store.DeployedFilter{Project: project, Service: runs[0].Service, KeptnContext: kc})
		if err != nil {
			return seqView{}, false, err
		}
		for k, d := range images {
			in.Deployed[k[0]] = d
		}
	}
	pageKey := ""
	for len(in.Events) < maxTimelineEvents {
		pg, err := u.store.ListEvents(ctx, store.EventFilter{KeptnContext: kc, Project: project, PageSize: store.MaxPageSize, PageKey: pageKey})
		if err != nil {
			return seqView{}, false, fmt.Errorf("list events: %w", err)
		}
		in.Events = append(in.Events, pg.Events...)
		if pg.NextPageKey == "" {
			break
		}
		pageKey = pg.NextPageKey
	}
	if ins, err := u.store.ListIntegrations(ctx); err == nil {
		for _, i := range ins {
			in.Integrations[i.Name] = true
		}
	}
	in.Logs = u.contextLogs(r, kc)
	return buildSequence(in), true, nil
}

func (u *UI) sequenceData(w http.ResponseWriter, r *http.Request) (sequenceData, bool) {
	project, kctx := r.PathValue("project"), r.PathValue("keptnContext")
	if !u.canRead(w, r, project) {
		return sequenceData{}, false
	}
	v, ok, err := u.loadSequence(r.Context(), r, project, kctx)
	if err != nil {
		u.internalError(w, r, err)
		return sequenceData{}, false
	}
	if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s has no sequence with keptn context %s.", project, kctx))
		return sequenceData{}, false
	}
	href := sequenceURL(project, kctx)
	d := sequenceData{
		pageBase: base(sess(r), "Sequence "+v.Name+" of "+kctx, crumb{"Projects", "/"}, crumb{project, projectURL(project)},
			crumb{"Sequences", sequencesURL(project)}, crumb{Label: v.Name + " " + short(kctx)}),
		View:       v,
		CanWrite:   principal(r).Can(auth.ActionWriteProject, project) == nil,
		StreamHref: contextURL(kctx) + "/stream?after=" + strconv.FormatInt(v.LastSeq, 10),
		SourceHref: href + "/body",
		EventsHref: contextURL(kctx),
		ActionHref: href,
		Notice:     noticeText(r.URL.Query().Get("done")),
	}
	return d, true
}

func short(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// noticeText is the message shown after a button's POST redirected back.
func noticeText(done string) string {
	switch done {
	case "approve":
		return "Approved: the sequence goes on."
	case "decline":
		return "Declined: the sequence ends with result fail."
	case "pause":
		return "Pause requested: no further task starts until you resume."
	case "resume":
		return "Resume requested: the sequence goes on."
	case "abort":
		return "Abort requested: the running task's wait ends and the sequence finishes aborted."
	}
	return ""
}

func (u *UI) sequencePage(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.sequenceData(w, r); ok {
		u.render(w, r, http.StatusOK, "sequence", d)
	}
}

func (u *UI) sequenceFragment(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.sequenceData(w, r); ok {
		u.renderFragment(w, r, "sequence", "sequence-body", d)
	}
}

// canWrite answers 403 (or 404 when the project may not even be read)
// when the session may not change project.
func (u *UI) canWrite(w http.ResponseWriter, r *http.Request, project string) bool {
	if !u.canRead(w, r, project) {
		return false
	}
	if principal(r).Can(auth.ActionWriteProject, project) != nil {
		u.renderError(w, r, http.StatusForbidden, fmt.Sprintf("Your token may read project %s but not change it; sign in with a write token.", project))
		return false
	}
	return true
}

// answerApproval is the Approve and Decline buttons of a waiting approval.
func (u *UI) answerApproval(w http.ResponseWriter, r *http.Request) {
	project, kctx, id := r.PathValue("project"), r.PathValue("keptnContext"), r.PathValue("triggeredID")
	if !u.canWrite(w, r, project) {
		return
	}
	answer := r.PostForm.Get("answer")
	if answer != "approve" && answer != "decline" {
		u.renderError(w, r, http.StatusBadRequest, "The form must say approve or decline.")
		return
	}
	_, err := u.seq.AnswerApproval(r.Context(), principal(r), project, id, answer == "approve")
	switch {
	case errors.Is(err, store.ErrNotFound):
		u.renderError(w, r, http.StatusConflict, fmt.Sprintf("Approval %s no longer waits: it was answered already, or the sequence ended.", id))
		return
	case errors.Is(err, auth.ErrForbidden):
		u.renderError(w, r, http.StatusForbidden, "Your token may not answer this approval.")
		return
	case err != nil:
		u.internalError(w, r, err)
		return
	}
	u.log.InfoContext(r.Context(), "ui_approval_answered", "project", project, "keptn_context", kctx, "triggered_id", id, "answer", answer, "token_name", principal(r).TokenName)
	http.Redirect(w, r, sequenceURL(project, kctx)+"?done="+answer, http.StatusSeeOther)
}

// controlSequence is the Pause, Resume and Abort buttons of a stage run.
func (u *UI) controlSequence(w http.ResponseWriter, r *http.Request) {
	project, kctx := r.PathValue("project"), r.PathValue("keptnContext")
	if !u.canWrite(w, r, project) {
		return
	}
	state := r.PostForm.Get("state")
	_, err := u.seq.ControlSequence(r.Context(), project, kctx, r.PostForm.Get("stage"), state)
	switch {
	case errors.Is(err, store.ErrInvalid):
		u.renderError(w, r, http.StatusBadRequest, "The form must say pause, resume or abort.")
		return
	case errors.Is(err, store.ErrNotFound):
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s has no such sequence with keptn context %s.", project, kctx))
		return
	case errors.Is(err, sequence.ErrIllegal):
		u.renderError(w, r, http.StatusConflict, "The sequence cannot take that now: "+err.Error()+".")
		return
	case err != nil:
		u.internalError(w, r, err)
		return
	}
	u.log.InfoContext(r.Context(), "ui_sequence_controlled", "project", project, "keptn_context", kctx, "state", state, "token_name", principal(r).TokenName)
	http.Redirect(w, r, sequenceURL(project, kctx)+"?done="+state, http.StatusSeeOther)
}

// Lane chart geometry, in SVG user units.
const (
	laneLabelW = 130
	laneW      = 980
	laneH      = 34
	laneBarH   = 22
	laneHeadH  = 20
)

// laneChart is the sequence drawn on a time axis: a row per stage, a bar
// per task from its .triggered to its .finished (or now while it runs).
type laneChart struct {
	Width, Height int
	Rows          []laneRow
	Bars          []laneBar
	Ticks         []laneTick
	Label         string
}

type laneRow struct {
	Label string
	Y     int
}

type laneBar struct {
	X, Y, W, H   int
	Class, Title string
	Text         string
	TextX, TextY int
}

type laneTick struct {
	X     int
	Label string
}

// layoutLanes lays out the chart of lanes; tasks that never began have no
// bar.
func layoutLanes(lanes []lane, now time.Time) laneChart {
	c := laneChart{Width: laneLabelW + laneW + 60, Height: laneHeadH + len(lanes)*laneH + 4,
		Label: "Tasks of each stage over time, coloured by result"}
	var from, to time.Time
	for _, ln := range lanes {
		for _, t := range ln.Tasks {
			if t.Start.IsZero() {
				continue
			}
			end := taskEnd(t, now)
			if from.IsZero() || t.Start.Before(from) {
				from = t.Start
			}
			if end.After(to) {
				to = end
			}
		}
	}
	span := to.Sub(from)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) int { return laneLabelW + int(float64(laneW)*float64(t.Sub(from))/float64(span)) }
	for i := 0; i <= 4 && !from.IsZero(); i++ {
		at := from.Add(span * time.Duration(i) / 4)
		c.Ticks = append(c.Ticks, laneTick{X: x(at), Label: "+" + formatDuration(at.Sub(from))})
	}
	for i, ln := range lanes {
		y := laneHeadH + i*laneH
		c.Rows = append(c.Rows, laneRow{Label: ln.Stage, Y: y + laneBarH/2 + 5})
		for _, t := range ln.Tasks {
			if t.Start.IsZero() {
				continue
			}
			bx, bw := x(t.Start), x(taskEnd(t, now))-x(t.Start)
			if bw < 4 {
				bw = 4
			}
			b := laneBar{X: bx, Y: y, W: bw, H: laneBarH, Class: t.Class,
				Title: fmt.Sprintf("%s · %s: %s", ln.Stage, t.Name, t.Word)}
			if t.Duration != "" {
				b.Title += " (" + t.Duration + ")"
			}
			// A label fits when the bar is wide enough for it.
			if len(t.Name)*7+8 < bw {
				b.Text, b.TextX, b.TextY = t.Name, bx+4, y+laneBarH/2+4
			}
			c.Bars = append(c.Bars, b)
		}
	}
	return c
}

func taskEnd(t taskView, now time.Time) time.Time {
	if !t.End.IsZero() {
		return t.End
	}
	if t.Duration != "" {
		return now
	}
	return t.Start
}

// sourceName shortens the sources of tend's own clients
// (https://github.com/tendhq/tend/cli, .../ui) to "tend cli", "tend ui".
func sourceName(src string) string {
	if rest, ok := strings.CutPrefix(src, "https://github.com/tendhq/tend/"); ok && rest != "" {
		return "tend " + rest
	}
	return src
}
