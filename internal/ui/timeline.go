package ui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
)

// The remediation timeline is read from the event log of the remediation's
// keptn context, so it shows a remediation run by tend and one run by an
// external Keptn remediation service alike. When tend ran it, the stored
// remediation adds what each action changed (its plan's or result's
// changes) and the authoritative end state.

// End states of a remediation as the timeline names them.
const (
	endResolved  = "resolved"
	endEscalated = "escalated"
	endStopped   = "stopped"
)

// timeline is a laid-out remediation timeline.
type timeline struct {
	KeptnContext             string
	Project, Stage, Service  string
	Title                    string
	Entries                  []timelineEntry
	Ended                    bool
	End                      string
	EndClass                 string
	LastSeq                  int64
	RemediationID, StateText string
}

// timelineEntry is one step of a remediation.
type timelineEntry struct {
	Time time.Time
	// Kind is problem, start, action, action-started, action-finished,
	// evaluation, verification, end or other; the template marks it.
	Kind    string
	Title   string
	Detail  string
	Changes []string
	Class   string
	Href    string
}

// actionInfo is data.action of Keptn's action events.
type actionInfo struct {
	Name        string `json:"name"`
	Action      string `json:"action"`
	Description string `json:"description"`
	Value       any    `json:"value"`
	Plan        string `json:"plan"`
	Changes     []struct {
		Target string `json:"target"`
		From   string `json:"from"`
		To     string `json:"to"`
	} `json:"changes"`
}

// seqEvent is a stored event with its sequence number.
type seqEvent struct {
	Seq  int64
	JSON []byte
}

// buildTimeline lays out the events of one context (in any order; they are
// sorted by sequence number). rem is the stored remediation of the context,
// or nil. evalHref links a verification evaluation to its breakdown.
func buildTimeline(kctx string, evs []seqEvent, rem *remediation.Remediation, evalHref func(project, stage, service, id string) string) timeline {
	sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	tl := timeline{KeptnContext: kctx}
	changes := map[string][]string{}
	if rem != nil {
		tl.RemediationID, tl.StateText = rem.ID, string(rem.State)
		tl.Title = rem.Title
		for _, a := range rem.Actions {
			var cs []string
			switch {
			case a.Result != nil && len(a.Result.Changes) > 0:
				for _, c := range a.Result.Changes {
					cs = append(cs, changeText(c.Target, c.From, c.To))
				}
			case a.Plan != nil:
				for _, c := range a.Plan.Changes {
					cs = append(cs, changeText(c.Target, c.From, c.To))
				}
			}
			if len(cs) > 0 {
				changes[a.TriggeredEventID] = cs
			}
		}
	}
	actionIndex := map[string]int{}
	for _, se := range evs {
		if se.Seq > tl.LastSeq {
			tl.LastSeq = se.Seq
		}
		var ev rawEvent
		if json.Unmarshal(se.JSON, &ev) != nil {
			continue
		}
		var d eventData
		_ = json.Unmarshal(ev.Data, &d)
		if tl.Project == "" {
			tl.Project, tl.Stage, tl.Service = d.Project, d.Stage, d.Service
		}
		e := timelineEntry{Time: ev.Time, Kind: "other", Title: ev.Type, Class: "status-none"}
		t, _ := event.ParseType(ev.Type)
		switch {
		case ev.Type == event.TypeProblem || ev.Type == event.TypeProblemOpen ||
			t.IsSequence() && t.Task == event.SequenceRemediation && t.Phase == event.PhaseTriggered:
			e.Kind, e.Class = "problem", "status-fail"
			title, root := problemText(d)
			e.Title = "Problem: " + title
			if tl.Title == "" {
				tl.Title = title
			}
			e.Detail = root
			if d.Problem != nil && strings.EqualFold(d.Problem.State, "RESOLVED") {
				e.Title, e.Class = "Problem resolved: "+title, "status-pass"
			}
		case t.IsSequence() && t.Task == event.SequenceRemediation && t.Phase == event.PhaseStarted:
			e.Kind, e.Title = "start", "Remediation started"
		case t.IsSequence() && t.Task == event.SequenceRemediation && t.Phase == event.PhaseFinished:
			tl.Ended = true
			tl.End = endState(d)
			e.Kind, e.Title, e.Detail = "end", "Remediation "+tl.End, d.Message
			e.Class = endClass(tl.End)
		case ev.Type == event.TypeActionTriggered:
			n := len(actionIndex) + 1
			actionIndex[ev.ID] = n
			a := decodeAction(d.Action)
			e.Kind, e.Class = "action", "status-info"
			e.Title = fmt.Sprintf("Action %d: %s", n, actionTitle(a))
			e.Detail = a.Description
			e.Changes = changes[ev.ID]
			if len(e.Changes) == 0 {
				e.Changes = plannedChange(a)
			}
		case ev.Type == event.TypeActionStarted:
			e.Kind, e.Class = "action-started", "status-info"
			e.Title = fmt.Sprintf("Action %s started", actionRef(actionIndex, ev.TriggeredID))
			if a := decodeAction(d.Action); a.Plan != "" {
				e.Detail = a.Plan
			}
		case ev.Type == event.TypeActionFinished:
			a := decodeAction(d.Action)
			e.Kind, e.Class = "action-finished", statusClass(d.Result)
			e.Title = fmt.Sprintf("Action %s finished: %s", actionRef(actionIndex, ev.TriggeredID), resultWord(d.Status, d.Result))
			e.Detail = d.Message
			e.Changes = changes[ev.TriggeredID]
			if len(e.Changes) == 0 {
				for _, c := range a.Changes {
					e.Changes = append(e.Changes, changeText(c.Target, c.From, c.To))
				}
			}
			if len(e.Changes) == 0 && a.Plan != "" {
				e.Changes = []string{a.Plan}
			}
		case ev.Type == event.TypeEvaluationTriggered:
			e.Kind, e.Class, e.Title = "evaluation", "status-none", "Verification evaluation triggered"
			var w struct{ Start, End string }
			if json.Unmarshal(d.Evaluation, &w) == nil && w.Start != "" {
				e.Detail = "window " + w.Start + " to " + w.End
			}
		case ev.Type == event.TypeEvaluationFinished:
			it, err := parseEvaluation(se.JSON)
			if err != nil {
				e.Detail = err.Error()
				break
			}
			e.Kind, e.Class = "verification", statusClass(it.Result)
			e.Title = "Verification evaluation: " + it.Result + scoreText(it)
			var parts []string
			for _, ir := range it.Indicators {
				parts = append(parts, fmt.Sprintf("%s %s (%s)", sliName(ir), formatNumber(ir.Value.Value), ir.Status))
			}
			e.Detail = strings.Join(parts, "; ")
			if evalHref != nil && d.Project != "" && d.Stage != "" && d.Service != "" {
				e.Href = evalHref(d.Project, d.Stage, d.Service, it.ID)
			}
		case ev.Type == event.TypeEvaluationStarted || ev.Type == event.TypeGetActionTriggered:
			continue
		case ev.Type == event.TypeGetActionFinished:
			e.Title = "Next action chosen"
			if a := decodeAction(d.Action); a.Action != "" || a.Name != "" {
				e.Title += ": " + actionTitle(a)
			}
		}
		tl.Entries = append(tl.Entries, e)
	}
	if rem != nil && rem.State.Terminal() {
		// The stored state is the authority on how it ended.
		tl.Ended, tl.End = true, string(rem.State)
	}
	tl.EndClass = endClass(tl.End)
	if tl.Title == "" {
		tl.Title = "keptn context " + kctx
	}
	return tl
}

// problemText returns a problem event's title and root cause.
func problemText(d eventData) (title, rootCause string) {
	if d.Problem != nil {
		title, rootCause = d.Problem.ProblemTitle, d.Problem.RootCause
	}
	if title == "" {
		title = d.ProblemTitle
	}
	if title == "" {
		title = "(untitled)"
	}
	return title, rootCause
}

// endState names how remediation.finished says it ended, the way tend's
// loop writes it: succeeded+pass resolved, succeeded+fail escalated,
// aborted stopped.
func endState(d eventData) string {
	switch {
	case d.Status == event.StatusAborted:
		return endStopped
	case d.Result == event.ResultFail || d.Status == event.StatusErrored:
		return endEscalated
	default:
		return endResolved
	}
}

func endClass(end string) string {
	switch end {
	case endResolved:
		return "status-pass"
	case endEscalated:
		return "status-fail"
	case endStopped:
		return "status-warning"
	}
	return "status-none"
}

func decodeAction(raw json.RawMessage) actionInfo {
	var a actionInfo
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &a)
	}
	return a
}

func actionTitle(a actionInfo) string {
	switch {
	case a.Name != "" && a.Action != "" && a.Name != a.Action:
		return a.Name + " (" + a.Action + ")"
	case a.Name != "":
		return a.Name
	case a.Action != "":
		return a.Action
	}
	return "unnamed action"
}

func actionRef(index map[string]int, triggeredID string) string {
	if n, ok := index[triggeredID]; ok {
		return fmt.Sprint(n)
	}
	return "(unknown)"
}

func resultWord(status, result string) string {
	switch {
	case status == event.StatusErrored:
		return "errored"
	case status == event.StatusAborted:
		return "aborted"
	case result != "":
		return result
	case status != "":
		return status
	}
	return "done"
}

// changeText writes one change: "replicas: 1 → 2".
func changeText(target, from, to string) string {
	if from == "" {
		return target + ": → " + to
	}
	return target + ": " + from + " → " + to
}

// plannedChange says what an action asks for when no plan is known yet:
// Keptn's scaling value is a replica delta, a toggle's value maps flags to
// on or off.
func plannedChange(a actionInfo) []string {
	if a.Plan != "" {
		return []string{a.Plan}
	}
	switch v := a.Value.(type) {
	case nil:
		return nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			out = append(out, changeText(k, "", fmt.Sprint(v[k])))
		}
		return out
	default:
		s := fmt.Sprint(v)
		if a.Action == "scaling" {
			if !strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "+") {
				s = "+" + s
			}
			return []string{"replicas " + s}
		}
		return []string{"value " + s}
	}
}
