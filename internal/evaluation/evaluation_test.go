package evaluation

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

const testSLO = `spec_version: "1.0"
filter: {handler: "ItemsController.addToCart"}
comparison: {compare_with: single_result, include_result_with_score: pass}
objectives:
  - sli: response_time_p90
    pass: [{criteria: ["<=+10%", "<1000"]}]
    warning: [{criteria: ["<=1200"]}]
  - sli: throughput
  - sli: response_time_p90
    displayName: again
total_score: {pass: "90%", warning: "40%"}
`

func TestWindow(t *testing.T) {
	tests := []struct {
		name                  string
		timeframe, start, end string
		wantStart, wantEnd    time.Time
		wantErr               string
	}{
		{name: "nothing is the default timeframe ending now", wantStart: now.Add(-5 * time.Minute), wantEnd: now},
		{name: "timeframe alone ends now", timeframe: "10m", wantStart: now.Add(-10 * time.Minute), wantEnd: now},
		{name: "start alone runs until now", start: "2024-05-01T11:30:00Z", wantStart: now.Add(-30 * time.Minute), wantEnd: now},
		{name: "start and end", start: "2024-05-01T11:00:00Z", end: "2024-05-01T11:05:00Z", wantStart: now.Add(-time.Hour), wantEnd: now.Add(-55 * time.Minute)},
		{name: "start with a zone offset", start: "2024-05-01T13:00:00+02:00", end: "2024-05-01T13:05:00+02:00", wantStart: now.Add(-time.Hour), wantEnd: now.Add(-55 * time.Minute)},
		{name: "start and timeframe", start: "2024-05-01T11:00:00Z", timeframe: "2m", wantStart: now.Add(-time.Hour), wantEnd: now.Add(-58 * time.Minute)},
		{name: "end and timeframe together", start: "2024-05-01T11:00:00Z", end: "2024-05-01T11:05:00Z", timeframe: "5m", wantErr: "end and timeframe cannot be combined"},
		{name: "end and timeframe without start", end: "2024-05-01T11:05:00Z", timeframe: "5m", wantErr: "end and timeframe cannot be combined"},
		{name: "end without start", end: "2024-05-01T11:05:00Z", wantErr: "needs a start"},
		{name: "end before start", start: "2024-05-01T11:05:00Z", end: "2024-05-01T11:00:00Z", wantErr: "is not after the start"},
		{name: "end equals start", start: "2024-05-01T11:05:00Z", end: "2024-05-01T11:05:00Z", wantErr: "is not after the start"},
		{name: "start in the future without end", start: "2024-05-01T13:00:00Z", wantErr: "is not after the start"},
		{name: "start not RFC 3339", start: "yesterday", wantErr: `start "yesterday" is not an RFC 3339 time`},
		{name: "end not RFC 3339", start: "2024-05-01T11:00:00Z", end: "2024-05-01 11:05", wantErr: `end "2024-05-01 11:05" is not an RFC 3339 time`},
		{name: "timeframe not a duration", timeframe: "5 minutes", wantErr: `timeframe "5 minutes" is not a positive duration`},
		{name: "negative timeframe", timeframe: "-5m", wantErr: "is not a positive duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e, err := Window(now, tt.timeframe, tt.start, tt.end)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrWindow) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want ErrWindow containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !s.Equal(tt.wantStart) || !e.Equal(tt.wantEnd) {
				t.Errorf("window = %s .. %s; want %s .. %s", s, e, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

// run drives a planned evaluation through every step with the inputs
// given and returns every event in order.
func run(t *testing.T, p Plan, in StartInput, values []slo.SLIResult, previous []slo.Previous) []*event.Event {
	t.Helper()
	evs := append([]*event.Event(nil), p.Events...)
	st, err := DecodeState(p.Job.Payload)
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; ; step++ {
		if step > 3 {
			t.Fatal("the sequence does not end")
		}
		var out Outcome
		switch st.Step {
		case StepStart:
			out, err = st.Begin(now, in)
		case StepGetSLI:
			out, err = st.SLIsFetched(now, values)
		case StepEvaluate:
			out, err = st.Evaluate(now, previous)
		}
		if err != nil {
			t.Fatalf("step %s: %v", st.Step, err)
		}
		evs = append(evs, out.Events...)
		if out.Next == nil {
			return evs
		}
		// The state goes through the job payload between steps.
		if st, err = DecodeState(out.Next.Payload()); err != nil {
			t.Fatal(err)
		}
	}
}

func types(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = strings.TrimPrefix(e.Type, event.Prefix)
	}
	return out
}

func request(t *testing.T) Plan {
	t.Helper()
	p, err := FromRequest(Request{
		Project: "sockshop", Stage: "production", Service: "carts",
		Start: now.Add(-5 * time.Minute), End: now, Labels: map[string]string{"buildId": "7"},
		KeptnContext: "0b1c2d3e-4f50-4612-8a7b-8c9d0e1f2a3b",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var goodValues = []slo.SLIResult{
	{Metric: "response_time_p90", Value: 850, Success: true},
	{Metric: "throughput", Value: 12, Success: true},
}

func finishedData(t *testing.T, e *event.Event) FinishedData {
	t.Helper()
	if e.Type != event.TypeEvaluationFinished {
		t.Fatalf("event %s is not evaluation.finished", e.Type)
	}
	var d FinishedData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFullSequenceOrderAndLinks(t *testing.T) {
	p := request(t)
	evs := run(t, p, StartInput{SLO: []byte(testSLO), SLOVersion: "abc", Provider: "prometheus"}, goodValues, nil)
	want := []string{
		"production.evaluation.triggered", "evaluation.triggered", "evaluation.started",
		"get-sli.triggered", "get-sli.started", "get-sli.finished",
		"evaluation.finished", "production.evaluation.finished",
	}
	if got := types(evs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events = %v\nwant     %v", got, want)
	}
	byType := map[string]*event.Event{}
	ids := map[string]bool{}
	for _, e := range evs {
		byType[strings.TrimPrefix(e.Type, event.Prefix)] = e
		if e.KeptnContext != p.State.KeptnContext {
			t.Errorf("%s in context %s; want %s", e.Type, e.KeptnContext, p.State.KeptnContext)
		}
		if e.Source != Source {
			t.Errorf("%s has source %q; want %q", e.Type, e.Source, Source)
		}
		if ids[e.ID] {
			t.Errorf("id %s used twice", e.ID)
		}
		ids[e.ID] = true
		if e.Project() != "sockshop" || e.Stage() != "production" || e.Service() != "carts" || e.Labels()["buildId"] != "7" {
			t.Errorf("%s data %s lacks project, stage, service or labels", e.Type, e.Data)
		}
	}
	links := map[string]string{
		"evaluation.started":             "evaluation.triggered",
		"evaluation.finished":            "evaluation.triggered",
		"get-sli.started":                "get-sli.triggered",
		"get-sli.finished":               "get-sli.triggered",
		"production.evaluation.finished": "production.evaluation.triggered",
	}
	for answer, trig := range links {
		if got, want := byType[answer].TriggeredID, byType[trig].ID; got != want {
			t.Errorf("%s triggeredid = %q; want the id of %s, %q", answer, got, trig, want)
		}
	}
	var sli struct {
		GetSLI getSLITriggered `json:"get-sli"`
	}
	if err := json.Unmarshal(byType["get-sli.triggered"].Data, &sli); err != nil {
		t.Fatal(err)
	}
	if sli.GetSLI.SLIProvider != "prometheus" || strings.Join(sli.GetSLI.Indicators, ",") != "response_time_p90,throughput" ||
		len(sli.GetSLI.CustomFilters) != 1 || sli.GetSLI.CustomFilters[0] != (keyValue{"handler", "ItemsController.addToCart"}) ||
		sli.GetSLI.Start != "2024-05-01T11:55:00Z" || sli.GetSLI.End != "2024-05-01T12:00:00Z" {
		t.Errorf("get-sli.triggered data = %s", byType["get-sli.triggered"].Data)
	}
	d := finishedData(t, byType["evaluation.finished"])
	if d.Result != "pass" || d.Status != "succeeded" || d.Evaluation.Result != slo.Pass || d.Evaluation.Score != 100 {
		t.Errorf("evaluation.finished = %+v; want pass with score 100", d)
	}
	if d.Evaluation.TimeStart != "2024-05-01T11:55:00Z" || d.Evaluation.TimeEnd != "2024-05-01T12:00:00Z" || d.Evaluation.GitCommit != "abc" {
		t.Errorf("evaluation times/commit = %s %s %s", d.Evaluation.TimeStart, d.Evaluation.TimeEnd, d.Evaluation.GitCommit)
	}
	if b, _ := base64.StdEncoding.DecodeString(d.Evaluation.SLOFileContent); string(b) != testSLO {
		t.Errorf("sloFileContent does not decode to the SLO file")
	}
	if len(d.Evaluation.IndicatorResults) != 3 {
		t.Errorf("indicator results = %d; want 3 (two objectives name the same SLI)", len(d.Evaluation.IndicatorResults))
	}
	var seq map[string]any
	_ = json.Unmarshal(byType["production.evaluation.finished"].Data, &seq)
	if seq["result"] != "pass" || seq["status"] != "succeeded" {
		t.Errorf("sequence finished data = %v", seq)
	}
}

func TestStepsAreDeterministic(t *testing.T) {
	in := StartInput{SLO: []byte(testSLO), Provider: "prometheus"}
	a := run(t, request(t), in, goodValues, nil)
	b := run(t, request(t), in, goodValues, nil)
	for i := range a {
		if a[i].ID != b[i].ID {
			t.Errorf("event %d (%s): ids %s and %s differ between two runs", i, a[i].Type, a[i].ID, b[i].ID)
		}
		if !event.IsUUID(a[i].ID) {
			t.Errorf("event id %q is not a UUID", a[i].ID)
		}
	}
}

func TestNoSilentPasses(t *testing.T) {
	informational := "spec_version: \"1.0\"\nobjectives:\n  - sli: throughput\n"
	tests := []struct {
		name       string
		in         StartInput
		values     []slo.SLIResult
		wantTypes  string
		wantInMsg  string
		wantResult string
	}{
		{
			name:      "no SLO file",
			in:        StartInput{Provider: "prometheus"},
			wantTypes: "production.evaluation.triggered evaluation.triggered evaluation.started evaluation.finished production.evaluation.finished",
			wantInMsg: "no SLO file", wantResult: "fail",
		},
		{
			name:      "project or stage missing",
			in:        StartInput{SLOProblem: "project sockshop does not exist"},
			wantTypes: "production.evaluation.triggered evaluation.triggered evaluation.started evaluation.finished production.evaluation.finished",
			wantInMsg: "project sockshop does not exist", wantResult: "fail",
		},
		{
			name:      "invalid SLO file",
			in:        StartInput{SLO: []byte("objectives:\n  - sli: x\n    pass: [{criteria: [\"=>5\"]}]\n"), Provider: "prometheus"},
			wantTypes: "production.evaluation.triggered evaluation.triggered evaluation.started evaluation.finished production.evaluation.finished",
			wantInMsg: "is invalid", wantResult: "fail",
		},
		{
			name:      "no provider configured",
			in:        StartInput{SLO: []byte(testSLO)},
			wantTypes: "production.evaluation.triggered evaluation.triggered evaluation.started evaluation.finished production.evaluation.finished",
			wantInMsg: "no SLI provider configured", wantResult: "fail",
		},
		{
			name:      "no provider with only informational objectives is still a fail",
			in:        StartInput{SLO: []byte(informational)},
			wantTypes: "production.evaluation.triggered evaluation.triggered evaluation.started evaluation.finished production.evaluation.finished",
			wantInMsg: "no SLI provider configured", wantResult: "fail",
		},
		{
			name:       "provider failure fails the objective",
			in:         StartInput{SLO: []byte(testSLO), Provider: "prometheus"},
			values:     []slo.SLIResult{{Metric: "response_time_p90", Message: `SLI "response_time_p90": query "q": no data`}, {Metric: "throughput", Value: 1, Success: true}},
			wantTypes:  "production.evaluation.triggered evaluation.triggered evaluation.started get-sli.triggered get-sli.started get-sli.finished evaluation.finished production.evaluation.finished",
			wantResult: "fail",
		},
		{
			name:       "a value the provider left out fails",
			in:         StartInput{SLO: []byte(testSLO), Provider: "prometheus"},
			values:     []slo.SLIResult{{Metric: "throughput", Value: 1, Success: true}},
			wantTypes:  "production.evaluation.triggered evaluation.triggered evaluation.started get-sli.triggered get-sli.started get-sli.finished evaluation.finished production.evaluation.finished",
			wantResult: "fail",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := run(t, request(t), tt.in, tt.values, nil)
			if got := strings.Join(types(evs), " "); got != tt.wantTypes {
				t.Fatalf("events = %s\nwant     %s", got, tt.wantTypes)
			}
			var fin *event.Event
			for _, e := range evs {
				if e.Type == event.TypeEvaluationFinished {
					fin = e
				}
			}
			d := finishedData(t, fin)
			if d.Result != tt.wantResult || d.Evaluation.Result != slo.Result(tt.wantResult) {
				t.Errorf("result %s / %s; want %s", d.Result, d.Evaluation.Result, tt.wantResult)
			}
			if !strings.Contains(d.Message, tt.wantInMsg) || !strings.Contains(d.Evaluation.Message, tt.wantInMsg) {
				t.Errorf("message %q / %q; want it to contain %q", d.Message, d.Evaluation.Message, tt.wantInMsg)
			}
		})
	}
}

func TestSLIsFetchedReportsFailures(t *testing.T) {
	p := request(t)
	out, err := p.State.Begin(now, StartInput{SLO: []byte(testSLO), Provider: "prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	out, err = out.Next.SLIsFetched(now, []slo.SLIResult{{Metric: "response_time_p90", Message: `SLI "response_time_p90": query "x": prometheus unreachable`}})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Status, Result, Message string
		GetSLI                  getSLIFinished `json:"get-sli"`
	}
	if err := json.Unmarshal(out.Events[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Status != "errored" || d.Result != "fail" || !strings.Contains(d.Message, "prometheus unreachable") || !strings.Contains(d.Message, "returned no result") {
		t.Errorf("get-sli.finished = %+v", d)
	}
	if len(d.GetSLI.IndicatorValues) != 2 || d.GetSLI.IndicatorValues[1].Metric != "throughput" || d.GetSLI.IndicatorValues[1].Success {
		t.Errorf("indicatorValues = %+v; want both indicators, throughput failed", d.GetSLI.IndicatorValues)
	}
}

func TestBaselineAndComparison(t *testing.T) {
	// An earlier passing evaluation with p90 = 800: +10% allows 880.
	first := run(t, request(t), StartInput{SLO: []byte(testSLO), Provider: "prometheus"},
		[]slo.SLIResult{{Metric: "response_time_p90", Value: 800, Success: true}, {Metric: "throughput", Value: 1, Success: true}}, nil)
	raw := func(e *event.Event) []byte {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var fin *event.Event
	for _, e := range first {
		if e.Type == event.TypeEvaluationFinished {
			fin = e
		}
	}
	prev := Baseline([][]byte{raw(fin)}, nil)
	if len(prev) != 1 || prev[0].ID != fin.ID || prev[0].Result != slo.Pass || prev[0].Invalidated || len(prev[0].Values) != 3 || prev[0].Values[0].Value != 800 {
		t.Fatalf("baseline = %+v", prev)
	}
	c := slo.Comparison{CompareWith: slo.SingleResult, IncludeResults: slo.IncludePass, NumberOfResults: 1}
	if !Enough(c, prev) {
		t.Error("one passing evaluation is enough for single_result")
	}

	second := func(previous []slo.Previous) FinishedData {
		evs := run(t, request(t), StartInput{SLO: []byte(testSLO), Provider: "prometheus"},
			[]slo.SLIResult{{Metric: "response_time_p90", Value: 950, Success: true}, {Metric: "throughput", Value: 1, Success: true}}, previous)
		return finishedData(t, evs[len(evs)-2])
	}
	d := second(prev)
	if d.Evaluation.Result != slo.Warning || len(d.Evaluation.ComparedEvents) != 1 || d.Evaluation.ComparedEvents[0] != fin.ID {
		t.Errorf("950 against 800 (+10%%: 880) = %s compared with %v; want warning compared with %s", d.Evaluation.Result, d.Evaluation.ComparedEvents, fin.ID)
	}
	if got := d.Evaluation.IndicatorResults[0].Value.ComparedValue; got != 800 {
		t.Errorf("comparedValue = %v; want 800", got)
	}

	inv, err := Invalidation(raw(fin), now)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Type != event.TypeEvaluationInvalidated || inv.TriggeredID != fin.TriggeredID || inv.KeptnContext != fin.KeptnContext || inv.Source != Source {
		t.Errorf("invalidation = %+v", inv)
	}
	again, _ := Invalidation(raw(fin), now.Add(time.Hour))
	if again.ID != inv.ID {
		t.Error("invalidating twice must give the same event id")
	}
	prev = Baseline([][]byte{raw(fin)}, [][]byte{raw(inv)})
	if !prev[0].Invalidated || Enough(c, prev) {
		t.Errorf("invalidated baseline = %+v", prev)
	}
	if d := second(prev); len(d.Evaluation.ComparedEvents) != 0 || d.Evaluation.Result != slo.Pass {
		t.Errorf("without baseline = %s compared with %v; want pass compared with none", d.Evaluation.Result, d.Evaluation.ComparedEvents)
	}
	if _, err := Invalidation(raw(first[0]), now); err == nil {
		t.Error("invalidating a triggered event must fail")
	}
}

func TestEnough(t *testing.T) {
	p := func(r slo.Result, inv bool) slo.Previous { return slo.Previous{Result: r, Invalidated: inv} }
	tests := []struct {
		name string
		c    slo.Comparison
		prev []slo.Previous
		want bool
	}{
		{"none", slo.DefaultComparison(), nil, false},
		{"single all", slo.DefaultComparison(), []slo.Previous{p(slo.Fail, false)}, true},
		{"single pass skips fail", slo.Comparison{CompareWith: slo.SingleResult, IncludeResults: slo.IncludePass}, []slo.Previous{p(slo.Fail, false), p(slo.Warning, false)}, false},
		{"pass or warn", slo.Comparison{CompareWith: slo.SingleResult, IncludeResults: slo.IncludePassOrWarn}, []slo.Previous{p(slo.Fail, false), p(slo.Warning, false)}, true},
		{"invalidated skipped", slo.DefaultComparison(), []slo.Previous{p(slo.Pass, true)}, false},
		{"several default 3", slo.Comparison{CompareWith: slo.SeveralResults, IncludeResults: slo.IncludeAll}, []slo.Previous{p(slo.Pass, false), p(slo.Pass, false)}, false},
		{"several 2", slo.Comparison{CompareWith: slo.SeveralResults, IncludeResults: slo.IncludeAll, NumberOfResults: 2}, []slo.Previous{p(slo.Pass, false), p(slo.Pass, false)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Enough(tt.c, tt.prev); got != tt.want {
				t.Errorf("Enough = %v; want %v", got, tt.want)
			}
		})
	}
}

func parse(t testing.TB, js string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return ev
}

func TestPlanFromEvent(t *testing.T) {
	const ctx = `"shkeptncontext":"7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e01"`
	tests := []struct {
		name      string
		event     string
		wantOK    bool
		wantErr   string
		wantTypes string
		wantStart time.Time
		wantEnd   time.Time
		wantSeq   bool
	}{
		{
			name:   "stage sequence triggered from outside",
			event:  `{"specversion":"1.0","id":"e1","source":"ci","type":"sh.keptn.event.production.evaluation.triggered",` + ctx + `,"data":{"project":"sockshop","service":"carts","evaluation":{"start":"2024-05-01T11:00:00Z","end":"2024-05-01T11:10:00Z"}}}`,
			wantOK: true, wantTypes: "evaluation.triggered", wantSeq: true,
			wantStart: now.Add(-time.Hour), wantEnd: now.Add(-50 * time.Minute),
		},
		{
			name:   "task triggered by an outside controller",
			event:  `{"specversion":"1.0","id":"e2","source":"shipyard-controller","type":"sh.keptn.event.evaluation.triggered",` + ctx + `,"data":{"project":"sockshop","stage":"production","service":"carts","evaluation":{"timeframe":"10m"}}}`,
			wantOK: true, wantTypes: "",
			wantStart: now.Add(-10 * time.Minute), wantEnd: now,
		},
		{
			name:   "Keptn 0.7 test window",
			event:  `{"specversion":"1.0","id":"e3","source":"jmeter","type":"sh.keptn.event.evaluation.triggered",` + ctx + `,"data":{"project":"sockshop","stage":"production","service":"carts","test":{"start":"2024-05-01T11:00:00Z","end":"2024-05-01T11:10:00Z"}}}`,
			wantOK: true, wantTypes: "",
			wantStart: now.Add(-time.Hour), wantEnd: now.Add(-50 * time.Minute),
		},
		{
			name:   "legacy start-evaluation opens the sequence",
			event:  `{"specversion":"0.2","id":"e4","source":"cli","type":"sh.keptn.event.start-evaluation",` + ctx + `,"contenttype":"application/json","data":{"project":"sockshop","stage":"production","service":"carts","start":"2024-05-01T11:00:00Z","end":"2024-05-01T11:10:00Z","teststrategy":"manual"}}`,
			wantOK: true, wantTypes: "production.evaluation.triggered evaluation.triggered", wantSeq: true,
			wantStart: now.Add(-time.Hour), wantEnd: now.Add(-50 * time.Minute),
		},
		{
			name:      "no window is the default timeframe",
			event:     `{"specversion":"1.0","id":"e5","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop","stage":"production","service":"carts"}}`,
			wantOK:    true,
			wantStart: now.Add(-5 * time.Minute), wantEnd: now,
		},
		{
			name:  "tend's own events never trigger",
			event: `{"specversion":"1.0","id":"e6","source":"tend","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop","stage":"production","service":"carts"}}`,
		},
		{
			name:  "tend's own sequence events never trigger",
			event: `{"specversion":"1.0","id":"e7","source":"tend","type":"sh.keptn.event.production.evaluation.triggered","data":{"project":"sockshop","service":"carts"}}`,
		},
		{
			name:  "finished events do not trigger",
			event: `{"specversion":"1.0","id":"e8","source":"ci","type":"sh.keptn.event.evaluation.finished","data":{"project":"sockshop","stage":"production","service":"carts"}}`,
		},
		{
			name:  "other sequences do not trigger",
			event: `{"specversion":"1.0","id":"e9","source":"ci","type":"sh.keptn.event.production.delivery.triggered","data":{"project":"sockshop","service":"carts"}}`,
		},
		{
			name:  "problems do not trigger",
			event: `{"specversion":"1.0","id":"e10","source":"dt","type":"sh.keptn.events.problem","data":{"State":"OPEN"}}`,
		},
		{
			name:  "no service to evaluate",
			event: `{"specversion":"1.0","id":"e11","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop","stage":"production"}}`,
		},
		{
			name:   "stage mismatch",
			event:  `{"specversion":"1.0","id":"e12","source":"ci","type":"sh.keptn.event.production.evaluation.triggered","data":{"project":"sockshop","stage":"dev","service":"carts"}}`,
			wantOK: true, wantErr: `differs from the stage "production"`,
		},
		{
			name:   "end with timeframe",
			event:  `{"specversion":"1.0","id":"e13","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop","stage":"production","service":"carts","evaluation":{"start":"2024-05-01T11:00:00Z","end":"2024-05-01T11:10:00Z","timeframe":"5m"}}}`,
			wantOK: true, wantErr: "cannot be combined",
		},
		{
			name:   "window of the wrong type",
			event:  `{"specversion":"1.0","id":"e14","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop","stage":"production","service":"carts","evaluation":"5m"}}`,
			wantOK: true, wantErr: "not of the expected shape",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := parse(t, tt.event)
			p, ok, err := PlanFromEvent(ev, now)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v; want %v (err %v)", ok, tt.wantOK, err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if got := strings.Join(types(p.Events), " "); got != tt.wantTypes {
				t.Errorf("events = %q; want %q", got, tt.wantTypes)
			}
			st := p.State
			if !st.Start.Equal(tt.wantStart) || !st.End.Equal(tt.wantEnd) {
				t.Errorf("window %s .. %s; want %s .. %s", st.Start, st.End, tt.wantStart, tt.wantEnd)
			}
			if st.KeptnContext != ev.KeptnContext || st.Project != "sockshop" || st.Stage != "production" || st.Service != "carts" {
				t.Errorf("state = %+v", st)
			}
			if (st.SequenceID != "") != tt.wantSeq {
				t.Errorf("sequence id = %q; want one: %v", st.SequenceID, tt.wantSeq)
			}
			if !tt.wantSeq && st.TriggeredID != ev.ID {
				t.Errorf("a task trigger's answers must carry its id %s, got %s", ev.ID, st.TriggeredID)
			}
			if tt.wantSeq && ev.Type != event.TypeStartEvaluation && st.SequenceID != ev.ID {
				t.Errorf("the sequence finished event must answer %s, got %s", ev.ID, st.SequenceID)
			}
			for _, e := range p.Events {
				if e.KeptnContext != ev.KeptnContext || e.Source != Source {
					t.Errorf("%s: context %s source %s", e.Type, e.KeptnContext, e.Source)
				}
				// What tend emits must never trigger again.
				if _, again, _ := PlanFromEvent(e, now); again {
					t.Errorf("tend's own %s would trigger an evaluation", e.Type)
				}
			}
			if p.Job.Kind != JobKind || p.Job.UniqueKey == "" {
				t.Errorf("job = %+v", p.Job)
			}
			p2, _, _ := PlanFromEvent(ev, now)
			if p2.Job.UniqueKey != p.Job.UniqueKey {
				t.Error("the same event delivered twice must give the same job key")
			}
		})
	}
}

func TestDecodeStateRejectsBadPayloads(t *testing.T) {
	for _, payload := range []string{``, `{}`, `{"step":"nope","keptnContext":"c","triggeredId":"t","project":"p","stage":"s","service":"x"}`, `{"step":"start"}`} {
		if _, err := DecodeState([]byte(payload)); err == nil {
			t.Errorf("DecodeState(%q) = nil error", payload)
		}
	}
}

func FuzzPlanFromEvent(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"e","source":"ci","type":"sh.keptn.event.evaluation.triggered","data":{"project":"p","stage":"s","service":"x","evaluation":{"start":"2024-05-01T11:00:00Z","timeframe":"5m"}}}`))
	f.Add([]byte(`{"specversion":"0.2","id":"e","source":"ci","type":"sh.keptn.event.start-evaluation","data":{"project":"p","stage":"s","service":"x","start":"2024-05-01T11:00:00Z","end":"x"}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"e","source":"ci","type":"sh.keptn.event.s.evaluation.triggered","data":{"project":"p","service":"x","test":{"end":"2024-05-01T11:00:00Z"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := event.Parse(data)
		if err != nil {
			return
		}
		p, ok, err := PlanFromEvent(ev, now)
		if !ok || err != nil {
			return
		}
		if !p.State.End.After(p.State.Start) {
			t.Fatalf("window %s .. %s", p.State.Start, p.State.End)
		}
		if _, err := DecodeState(p.Job.Payload); err != nil {
			t.Fatalf("planned payload does not decode: %v", err)
		}
		for _, e := range p.Events {
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("planned event does not marshal: %v", err)
			}
		}
	})
}

func TestBaselineSkipsEvaluationsThatCouldNotRun(t *testing.T) {
	evs := run(t, request(t), StartInput{Provider: "prometheus"}, nil, nil)
	var raw []byte
	for _, e := range evs {
		if e.Type == event.TypeEvaluationFinished {
			raw, _ = json.Marshal(e)
		}
	}
	if prev := Baseline([][]byte{raw}, nil); len(prev) != 0 {
		t.Errorf("baseline = %+v; want the errored evaluation left out", prev)
	}
}

func FuzzWindow(f *testing.F) {
	f.Add("5m", "", "")
	f.Add("", "2024-05-01T11:00:00Z", "2024-05-01T11:05:00Z")
	f.Add("1h", "2024-05-01T11:00:00+02:00", "")
	f.Fuzz(func(t *testing.T, timeframe, start, end string) {
		s, e, err := Window(now, timeframe, start, end)
		if err != nil {
			if !errors.Is(err, ErrWindow) {
				t.Fatalf("error %v does not wrap ErrWindow", err)
			}
			return
		}
		if !e.After(s) {
			t.Fatalf("window %s .. %s from %q %q %q", s, e, timeframe, start, end)
		}
	})
}

// FuzzDecodeFinished feeds stored evaluation.finished events (which an
// outside sender may have posted) to the baseline: any bytes are read
// without a panic, an unreadable or errored event is left out, and a kept
// one carries its event id.
func FuzzDecodeFinished(f *testing.F) {
	f.Add([]byte(`{"id":"a","shkeptncontext":"c","triggeredid":"t","data":{"status":"succeeded","result":"pass","evaluation":{"result":"warning","indicatorResults":[{"value":{"metric":"m","value":1,"success":true}}]}}}`))
	f.Add([]byte(`{"id":"a","data":{"status":"errored","result":"fail"}}`))
	f.Add([]byte(`{"id":"","data":{}}`))
	f.Add([]byte(`{"id":"a","data":{"evaluation":null}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		prev := BaselineOf([]Finished{DecodeFinished(raw)}, [][]byte{raw})
		if len(prev) > 1 {
			t.Fatalf("one event gave %d previous evaluations", len(prev))
		}
		if len(prev) == 1 && prev[0].ID == "" {
			t.Fatalf("a previous evaluation without an id from %q", raw)
		}
		if again := Baseline([][]byte{raw}, [][]byte{raw}); !reflect.DeepEqual(again, prev) {
			t.Fatalf("Baseline = %+v; BaselineOf(DecodeFinished) = %+v", again, prev)
		}
	})
}
