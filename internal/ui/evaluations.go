package ui

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/slo"
)

// rawEvent is the part of a stored CloudEvent the UI reads. Stored events
// come from outside (any Keptn integration may send them), so every field
// is optional and a malformed one is shown, not trusted.
type rawEvent struct {
	ID           string          `json:"id"`
	Source       string          `json:"source"`
	Type         string          `json:"type"`
	Time         time.Time       `json:"time"`
	KeptnContext string          `json:"shkeptncontext"`
	TriggeredID  string          `json:"triggeredid"`
	Data         json.RawMessage `json:"data"`
}

// eventData is the Keptn data the UI shows. Keptn's problem events wrote
// ProblemTitle; encoding/json matches names case-insensitively, so both
// spellings land here.
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
		ProblemURL   string `json:"problemURL"`
		State        string `json:"state"`
	} `json:"problem"`
	ProblemTitle string          `json:"problemTitle"`
	Action       json.RawMessage `json:"action"`
	Evaluation   json.RawMessage `json:"evaluation"`
}

// evaluationItem is one finished evaluation of a service.
type evaluationItem struct {
	// ID is the evaluation.finished event's id; pages select by it.
	ID           string
	KeptnContext string
	TriggeredID  string
	Time         time.Time
	Source       string
	Result       string
	Score        float64
	HasScore     bool
	Message      string
	Start, End   string
	Indicators   []slo.IndicatorResult
	// Compared are the ids of the evaluations the relative criteria were
	// compared against; none means compared values mean nothing.
	Compared    []string
	Invalidated bool
	// Budget are the results of the SLO's budget objectives (tend's
	// extension beside Keptn's indicator results).
	Budget []slo.BudgetResult
}

// sloTarget is one pass or warning target of an indicator.
type sloTarget = slo.Target

// parseEvaluation reads an evaluation.finished event. An event without an
// evaluation object (an errored evaluation) still yields an item with the
// event's result and message.
func parseEvaluation(raw []byte) (it evaluationItem, err error) {
	defer func() {
		// An evaluation that says nothing of its result did not pass.
		if it.Result == "" {
			it.Result = "fail"
		}
	}()
	var ev rawEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return evaluationItem{}, fmt.Errorf("read evaluation event: %w", err)
	}
	it = evaluationItem{ID: ev.ID, KeptnContext: ev.KeptnContext, TriggeredID: ev.TriggeredID, Time: ev.Time, Source: ev.Source}
	var d eventData
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return it, fmt.Errorf("read evaluation event %s data: %w", ev.ID, err)
		}
	}
	it.Result, it.Message = d.Result, d.Message
	if len(d.Evaluation) > 0 && string(d.Evaluation) != "null" {
		var e slo.Evaluation
		if err := json.Unmarshal(d.Evaluation, &e); err != nil {
			return it, fmt.Errorf("read evaluation event %s: %w", ev.ID, err)
		}
		if e.Result != "" {
			it.Result = string(e.Result)
		}
		it.Score, it.HasScore = e.Score, true
		if e.Message != "" {
			it.Message = e.Message
		}
		it.Start, it.End, it.Indicators, it.Compared = e.TimeStart, e.TimeEnd, e.IndicatorResults, e.ComparedEvents
		it.Budget = e.Budget
	}
	return it, nil
}

// sliName is how a page names an indicator: its display name, else its
// metric.
func sliName(ir slo.IndicatorResult) string {
	if ir.DisplayName != "" {
		return ir.DisplayName
	}
	return ir.Value.Metric
}

// formatNumber writes a value compactly: up to four significant decimals,
// no trailing zeros.
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// statusClass maps a result or status to the CSS class that colours it;
// anything unknown is "none".
func statusClass(s string) string {
	switch s {
	case "pass", "warning", "fail", "info":
		return "status-" + s
	}
	return "status-none"
}
