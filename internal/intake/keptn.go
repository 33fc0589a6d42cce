package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// IsProblemType reports whether FromEvent reads events of type typ: the
// legacy sh.keptn.events.problem and sh.keptn.event.problem.open, and any
// sh.keptn.event.<stage>.remediation.triggered.
func IsProblemType(typ string) bool {
	if typ == event.TypeProblem || typ == event.TypeProblemOpen {
		return true
	}
	t, ok := event.ParseType(typ)
	return ok && t.IsSequence() && t.Task == event.SequenceRemediation && t.Phase == event.PhaseTriggered
}

// FromEvent reads a problem event that event.Parse has accepted and returns
// its notification (always one; a slice so that callers treat every source
// alike).
//
//   - sh.keptn.events.problem (a Dynatrace problem notification, or its
//     re-emission by Keptn's Dynatrace service): State OPEN opens, RESOLVED
//     and CLOSED close. The project, stage and service come from the
//     keptn_project:, keptn_stage: and keptn_service: tags, which win over
//     the KeptnProject, KeptnStage and KeptnService fields, which win over
//     data.project, data.stage and data.service; an empty value counts as
//     absent.
//   - sh.keptn.event.problem.open (Keptn 0.6/0.7): the same fields at the
//     top level of data; it always opens unless its State says otherwise.
//   - sh.keptn.event.<stage>.remediation.triggered: the problem in
//     data.problem, with Keptn's names (problemTitle, rootCause) or
//     Dynatrace's (ProblemTitle, PID, ...). The stage is the one in the
//     type; data.project and data.service win over the problem's tags and
//     Keptn* fields, since they are the sequence's own.
//
// The key is "dynatrace/<PID>" (else the ProblemID) when the event carries
// one, so all notifications of one Dynatrace problem are one problem
// whichever event type brought them; else "keptn/<shkeptncontext>".
//
// It returns ErrNotProblem for other event types, and an error matching
// ErrInvalid when the data cannot be read as a problem. A problem without a
// usable project, stage or service is not an error: it comes back with
// Unmatched set.
func FromEvent(ev *event.Event) ([]Notification, error) {
	if ev == nil {
		return nil, fmt.Errorf("read problem event: %w: no event", ErrInvalid)
	}
	if !IsProblemType(ev.Type) {
		return nil, fmt.Errorf("read problem event: %w: type %q", ErrNotProblem, ev.Type)
	}
	data, err := object(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("read problem event %s: %w: data %v", ev.ID, ErrInvalid, err)
	}
	common, _ := ev.Common() // event.Parse has checked these fields' types.

	n := Notification{
		Origin:       ev.Source,
		KeptnContext: ev.KeptnContext,
		EventID:      ev.ID,
		Labels:       common.Labels,
		State:        StateOpen,
	}
	problem := data
	var typeStage string
	remediation := false
	switch ev.Type {
	case event.TypeProblem, event.TypeProblemOpen:
		n.Source = SourceDynatrace
	default:
		n.Source = SourceKeptn
		remediation = true
		t, _ := event.ParseType(ev.Type)
		typeStage = t.Stage
		if raw, ok := data["problem"]; ok && !isNullJSON(raw) {
			problem, err = object(raw)
			if err != nil {
				return nil, fmt.Errorf("read problem event %s: %w: data.problem %v", ev.ID, ErrInvalid, err)
			}
		}
	}

	var bad []string
	str := func(obj map[string]json.RawMessage, names ...string) string {
		for _, name := range names {
			raw, ok := obj[name]
			if !ok || isNullJSON(raw) {
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				bad = append(bad, name)
				continue
			}
			if s = strings.TrimSpace(s); s != "" {
				return s
			}
		}
		return ""
	}

	state := str(problem, "State", "state")
	switch strings.ToUpper(state) {
	case "OPEN":
		n.State = StateOpen
	case "RESOLVED", "CLOSED":
		n.State = StateClosed
	case "":
		if ev.Type == event.TypeProblem {
			return nil, fmt.Errorf("read problem event %s: %w: data.State is missing; a problem notification says State OPEN, RESOLVED or CLOSED", ev.ID, ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("read problem event %s: %w: State %q is not OPEN, RESOLVED or CLOSED", ev.ID, ErrInvalid, state)
	}

	n.Title = str(problem, "ProblemTitle", "problemTitle")
	n.RootCause = str(problem, "rootCause", "RootCause")
	n.Entity = str(problem, "ImpactedEntity", "impactedEntity")
	n.URL = str(problem, "ProblemURL", "problemURL", "Problem URL")
	if n.URL == "" {
		n.URL = common.Labels["Problem URL"]
	}
	pid := str(problem, "PID", "pid")
	if pid == "" {
		pid = str(problem, "ProblemID", "problemID", "problemId")
	}

	details := problem["ProblemDetails"]
	if details == nil {
		details = problem["problemDetails"]
	}
	start, end := ev.Time, time.Time{}
	if details != nil && !isNullJSON(details) {
		var s string
		if json.Unmarshal(details, &s) == nil {
			n.Details = s
		} else {
			var b bytes.Buffer
			if json.Compact(&b, details) == nil {
				n.Details = b.String()
			}
			if d, err := object(details); err == nil {
				if t, ok := epochMillis(d["startTime"]); ok {
					start = t
				}
				if t, ok := epochMillis(d["endTime"]); ok {
					end = t
				}
			}
		}
	}
	n.StartsAt = start
	if n.State == StateClosed {
		n.EndsAt = end
		if n.EndsAt.IsZero() {
			n.EndsAt = ev.Time
		}
	}

	tags := parseTags(problem["Tags"])
	// Where the project, stage and service come from, in order of
	// precedence.
	fromTags := [3]string{tags["keptn_project"], tags["keptn_stage"], tags["keptn_service"]}
	fromFields := [3]string{str(problem, "KeptnProject"), str(problem, "KeptnStage"), str(problem, "KeptnService")}
	fromData := [3]string{common.Project, common.Stage, common.Service}
	if len(bad) > 0 {
		return nil, fmt.Errorf("read problem event %s: %w: %s must be strings", ev.ID, ErrInvalid, strings.Join(bad, ", "))
	}

	var what [3]string
	for i := range 3 {
		name := entityNames[i]
		tag, field, dataName := "keptn_"+name+":", "Keptn"+strings.ToUpper(name[:1])+name[1:], "data."+name
		var order [3]string
		var src [3]string
		if remediation {
			order = [3]string{fromData[i], fromTags[i], fromFields[i]}
			src = [3]string{dataName, "the " + tag + " tag", field}
		} else {
			order = [3]string{fromTags[i], fromFields[i], fromData[i]}
			src = [3]string{"the " + tag + " tag", field, dataName}
		}
		v := ""
		for j, o := range order {
			if o != "" {
				v, what[i] = o, src[j]
				break
			}
		}
		if v == "" {
			what[i] = fmt.Sprintf("the event has no %s, %s or %s", src[0], src[1], src[2])
		}
		switch i {
		case 0:
			n.Project = v
		case 1:
			n.Stage = v
		case 2:
			n.Service = v
		}
	}
	// The key names the project the problem is filed under, so that one
	// project's notifications can never find another's problem.
	if pid != "" {
		n.Key = "dynatrace/" + n.Project + "/" + pid
	} else {
		n.Key = "keptn/" + n.Project + "/" + ev.KeptnContext
	}
	if remediation {
		if common.Stage != "" && common.Stage != typeStage {
			n.Stage = typeStage
			n.Unmatched = fmt.Sprintf("data.stage %q disagrees with the stage %q in the event type %s", common.Stage, typeStage, ev.Type)
			return []Notification{n}, nil
		}
		n.Stage, what[1] = typeStage, "the event type"
	}
	checkLocation(&n, what)
	return []Notification{n}, nil
}

// object decodes a JSON object keeping its keys exactly as written (a
// repeated key counts by its last value).
func object(raw json.RawMessage) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("is not a JSON object")
	}
	return m, nil
}

func isNullJSON(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// epochMillis reads Dynatrace's millisecond timestamps; 0 and absent are
// "not given".
func epochMillis(raw json.RawMessage) (time.Time, bool) {
	if raw == nil {
		return time.Time{}, false
	}
	var ms float64
	if json.Unmarshal(raw, &ms) != nil || ms <= 0 || ms > 253402300799999 || math.IsNaN(ms) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}

// parseTags reads Dynatrace's Tags: a comma-separated string of "key:value"
// or bare tags (or, from some senders, an array of them). The first value
// of a key wins.
func parseTags(raw json.RawMessage) map[string]string {
	if raw == nil {
		return nil
	}
	var list []string
	var s string
	if json.Unmarshal(raw, &s) == nil {
		list = strings.Split(s, ",")
	} else if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	tags := map[string]string{}
	for _, t := range list {
		k, v, ok := strings.Cut(strings.TrimSpace(t), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := tags[k]; !seen && v != "" {
			tags[k] = v
		}
	}
	return tags
}
