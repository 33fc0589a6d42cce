package tutorial

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/slo"
)

// narrator writes the story: numbered steps, lines stamped with the time
// since the start, the commands run and their output indented.
type narrator struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	steps int
	tell  teller
	now   func() time.Time
}

func newNarrator(out io.Writer) *narrator {
	return &narrator{out: out, start: time.Now(), now: time.Now, tell: teller{settling: Settling}}
}

func (n *narrator) stamp() string {
	d := n.now().Sub(n.start).Round(time.Second)
	return fmt.Sprintf("[%02d:%02d]", int(d.Minutes()), int(d.Seconds())%60)
}

// step starts a numbered step.
func (n *narrator) step(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.steps++
	fmt.Fprintf(n.out, "\n%s %d. %s\n", n.stamp(), n.steps, fmt.Sprintf(format, args...))
}

// say writes one stamped line.
func (n *narrator) say(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.out, "%s    %s\n", n.stamp(), fmt.Sprintf(format, args...))
}

// command shows a command as a user would type it.
func (n *narrator) command(args []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	name := "tend"
	if len(args) > 0 && (args[0] == "curl" || args[0] == "kubectl") {
		name = ""
	}
	fmt.Fprintf(n.out, "%s    $ %s\n", n.stamp(), strings.TrimSpace(name+" "+strings.Join(q, " ")))
}

// indent writes an unstamped, indented line under a command.
func (n *narrator) indent(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.out, "           %s\n", fmt.Sprintf(format, args...))
}

// indented is a writer that indents a command's output.
func (n *narrator) indented() io.Writer { return &indentWriter{n: n, bol: true} }

type indentWriter struct {
	n   *narrator
	bol bool
}

func (w *indentWriter) Write(p []byte) (int, error) {
	w.n.mu.Lock()
	defer w.n.mu.Unlock()
	var b strings.Builder
	for _, c := range string(p) {
		if w.bol {
			b.WriteString("           ")
			w.bol = false
		}
		b.WriteRune(c)
		if c == '\n' {
			w.bol = true
		}
	}
	if _, err := io.WriteString(w.n.out, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+%@", r))
	}) < 0 {
		return s
	}
	if strings.HasPrefix(s, "Authorization: $") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// teller turns the remediation's events into the story's lines. It keeps
// count of the actions, since the events name actions but not their
// place.
type teller struct {
	settling time.Duration
	action   int    // 1-based number of the current action
	kind     string // its action type
}

// eventBody is what the story reads of a CloudEvent.
type eventBody struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Time         time.Time `json:"time"`
	KeptnContext string    `json:"shkeptncontext"`
	Data         eventData `json:"data"`
}

type eventData struct {
	Project string `json:"project"`
	Stage   string `json:"stage"`
	Service string `json:"service"`
	Status  string `json:"status"`
	Result  string `json:"result"`
	Message string `json:"message"`
	Problem *struct {
		ProblemTitle string `json:"problemTitle"`
		RootCause    string `json:"rootCause"`
	} `json:"problem"`
	Action *struct {
		Name   string `json:"name"`
		Action string `json:"action"`
		Plan   string `json:"plan"`
	} `json:"action"`
	Evaluation json.RawMessage `json:"evaluation"`
	// Deployment is what a deployment, release or rollback task reported.
	Deployment *struct {
		Names    []string `json:"deploymentNames"`
		Strategy string   `json:"deploymentstrategy"`
		Image    string   `json:"image"`
	} `json:"deployment"`
	// Test is what a test task reported.
	Test *struct {
		Strategy     string  `json:"teststrategy"`
		Start        string  `json:"start"`
		End          string  `json:"end"`
		URL          string  `json:"url"`
		Requests     int     `json:"requests"`
		Failures     int     `json:"failures"`
		LatencyP90Ms float64 `json:"latencyP90Ms"`
	} `json:"test"`
}

func decode(raw []byte) eventBody {
	var e eventBody
	_ = json.Unmarshal(raw, &e)
	return e
}

// problemOpened describes the remediation.triggered event and returns its
// keptn context.
func (t *teller) problemOpened(raw []byte) (string, string) {
	e := decode(raw)
	title := "a problem"
	if e.Data.Problem != nil && e.Data.Problem.ProblemTitle != "" {
		title = e.Data.Problem.ProblemTitle
	}
	return fmt.Sprintf("problem opened: %s (%s/%s/%s); tend starts remediating it in keptn context %s",
		title, e.Data.Project, e.Data.Stage, e.Data.Service, e.KeptnContext), e.KeptnContext
}

// line returns the story's lines for one event of the remediation's
// keptn context (none for events that add nothing to the story). changes
// are what tend recorded the current action changed, for action.finished.
func (t *teller) line(typ string, raw []byte, changes []apitypes.ActionChange) []string {
	e := decode(raw)
	d := e.Data
	switch {
	case typ == remediationType("triggered"):
		l, _ := t.problemOpened(raw)
		return []string{l}
	case typ == "sh.keptn.event.action.triggered":
		t.action++
		if d.Action != nil {
			t.kind = d.Action.Action
			return []string{fmt.Sprintf("action %d %s (%s): triggered", t.action, d.Action.Action, d.Action.Name)}
		}
	case typ == "sh.keptn.event.action.started":
		if d.Action != nil {
			return []string{fmt.Sprintf("action %d %s: %s", t.action, d.Action.Action, plan(d))}
		}
	case typ == "sh.keptn.event.action.finished":
		kind := t.kind
		if d.Action != nil {
			kind = d.Action.Action
		}
		if d.Status != "succeeded" || d.Result == "fail" {
			return []string{fmt.Sprintf("action %d %s failed: %s", t.action, kind, d.Message)}
		}
		what := d.Message
		if len(changes) > 0 {
			var parts []string
			for _, c := range changes {
				parts = append(parts, fmt.Sprintf("%s: %s → %s", c.Target, c.From, c.To))
			}
			what = strings.Join(parts, ", ")
		}
		return []string{
			fmt.Sprintf("action %d %s finished: %s", t.action, kind, what),
			fmt.Sprintf("settling: tend waits %s, then verifies the action with an evaluation over that window", duration(t.settling)),
		}
	case typ == "sh.keptn.event.evaluation.triggered":
		var w struct {
			Start string `json:"start"`
			End   string `json:"end"`
		}
		_ = json.Unmarshal(d.Evaluation, &w)
		return []string{fmt.Sprintf("verification of action %d: evaluating the SLO from %s to %s", t.action, clock(w.Start), clock(w.End))}
	case typ == "sh.keptn.event.evaluation.finished":
		return []string{fmt.Sprintf("verification of action %d: %s", t.action, evaluationText(d))}
	case typ == remediationType("finished"):
		end := "ended"
		switch {
		case d.Result == "pass" && d.Status == "succeeded":
			end = "resolved"
		case d.Status == "succeeded":
			end = "escalated"
		case d.Status == "aborted":
			end = "stopped"
		}
		return []string{fmt.Sprintf("remediation %s: %s", end, d.Message)}
	}
	return nil
}

// plan says what an action is about to do: its plan's summary.
func plan(d eventData) string {
	if d.Action.Plan != "" {
		return d.Action.Plan
	}
	return "started"
}

// evaluationText summarises an evaluation.finished event: the result, the
// score and each SLI's value.
func evaluationText(d eventData) string {
	var ev slo.Evaluation
	if err := json.Unmarshal(d.Evaluation, &ev); err != nil || ev.Result == "" {
		return fmt.Sprintf("%s (%s)", d.Result, d.Message)
	}
	var vals []string
	for _, ir := range ev.IndicatorResults {
		v := ir.Value
		switch {
		case !v.Success:
			vals = append(vals, fmt.Sprintf("%s: no value (%s)", v.Metric, v.Message))
		case strings.HasPrefix(v.Metric, "response_time"):
			vals = append(vals, fmt.Sprintf("%s %s ms", v.Metric, strconv.FormatFloat(v.Value, 'f', 0, 64)))
		default:
			vals = append(vals, fmt.Sprintf("%s %s", v.Metric, strconv.FormatFloat(v.Value, 'g', 4, 64)))
		}
	}
	s := fmt.Sprintf("%s (score %s%%", ev.Result, strconv.FormatFloat(ev.Score, 'f', -1, 64))
	if len(vals) > 0 {
		s += ", " + strings.Join(vals, ", ")
	}
	return s + ")"
}

// clock shows the time of day of an RFC 3339 time.
func clock(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("15:04:05")
}

// duration writes a duration as people do: 1m, 2m30s, 10s.
func duration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
