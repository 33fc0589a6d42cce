package ui

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/slo"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/projects/sockshop", "/projects/sockshop"},
		{"/contexts/x?a=b", "/contexts/x?a=b"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/ok\r\nSet-Cookie: x", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"\t//evil.example", "/"},
		{"/\r\\evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{" //evil.example", "/"},
		{"/projects/a\\b", "/"},
		{"/%2F/evil.example", "/%2F/evil.example"},
		{"/./evil.example", "/./evil.example"},
		{"/contexts/x#frag", "/contexts/x#frag"},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := safeNext(tc.in); got != tc.want {
				t.Errorf("safeNext(%q) = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzSafeNext checks that whatever the login gets as next, it redirects
// to a path of this server: the result starts with exactly one slash, also
// as a browser reads it (without ASCII tabs and newlines, and with
// backslashes as slashes).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "/projects/sockshop", "//evil.example", "/\\evil.example", "/\t/evil.example",
		"https://evil.example/", "/ok\r\nx", "/%2F/x", "/./x", "/?next=//x", "\t/\\x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		browser := strings.NewReplacer("\t", "", "\r", "", "\n", "", "\\", "/").Replace(got)
		if !strings.HasPrefix(browser, "/") || strings.HasPrefix(browser, "//") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as %q: not a path of this server", next, got, browser)
		}
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: a kept destination must be kept unchanged", next, got)
		}
	})
}

func ir(name string, value float64, status slo.Status) slo.IndicatorResult {
	return slo.IndicatorResult{Status: status, DisplayName: name, Value: slo.SLIResult{Metric: name, Value: value, Success: true}}
}

func TestLayoutHeatmap(t *testing.T) {
	evals := []evaluationItem{
		{ID: "a", Result: "pass", Score: 100, HasScore: true, Indicators: []slo.IndicatorResult{ir("rt", 1, slo.StatusPass)}},
		{ID: "b", Result: "fail", Score: 0, HasScore: true, Invalidated: true, Indicators: []slo.IndicatorResult{ir("rt", 9, slo.StatusFail), ir("err", 3, slo.StatusWarning)}},
		{ID: "c", Result: "errored"},
	}
	h := layoutHeatmap(evals, "b", func(ev evaluationItem) string { return "/e/" + ev.ID })
	// The newest evaluation with indicators orders the rows.
	var rows []string
	for _, r := range h.Rows {
		rows = append(rows, r.Label)
	}
	if got, want := strings.Join(rows, ","), "Score,rt,err"; got != want {
		t.Errorf("rows %s; want %s", got, want)
	}
	want := []string{
		"status-pass", "status-pass", "status-none",
		"status-fail", "status-fail", "status-warning",
		"status-none", "status-none", "status-none",
	}
	if len(h.Cells) != len(want) {
		t.Fatalf("%d cells; want %d", len(h.Cells), len(want))
	}
	for i, c := range h.Cells {
		if c.Class != want[i] {
			t.Errorf("cell %d (%s of %s) class %s; want %s", i, c.Row, evals[i/3].ID, c.Class, want[i])
		}
		if c.Href != "/e/"+evals[i/3].ID {
			t.Errorf("cell %d links to %s", i, c.Href)
		}
	}
	if !h.Cols[1].Selected || h.Cols[0].Selected || !h.Cols[1].Invalidated {
		t.Errorf("columns %+v; want the second selected and invalidated", h.Cols)
	}
}

func TestLayoutLineCharts(t *testing.T) {
	evals := []evaluationItem{
		{Score: 50, HasScore: true, Indicators: []slo.IndicatorResult{ir("rt", 100, slo.StatusPass)}},
		{Score: 0, HasScore: false},
		{Score: 100, HasScore: true, Indicators: []slo.IndicatorResult{ir("rt", 300, slo.StatusFail)}},
	}
	cs := layoutLineCharts(evals)
	if len(cs) != 2 {
		t.Fatalf("%d charts; want score and rt", len(cs))
	}
	score, rt := cs[0], cs[1]
	if score.Min != "0" || score.Max != "100" || len(score.Dots) != 2 || len(score.Lines) != 2 {
		t.Errorf("score chart %+v; want 0..100, two dots, the line broken by the missing score", score)
	}
	if rt.Min != "100" || rt.Max != "300" || len(rt.Dots) != 2 {
		t.Errorf("rt chart %+v; want 100..300 with two dots", rt)
	}
	// The lowest value sits at the bottom, the highest at the top.
	if rt.Dots[0].Y <= rt.Dots[1].Y {
		t.Errorf("dot of 100 at y=%v is not below the dot of 300 at y=%v", rt.Dots[0].Y, rt.Dots[1].Y)
	}
}

func ev(seq int64, typ, id, triggered string, data string) seqEvent {
	return seqEvent{Seq: seq, JSON: []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"x","type":%q,"time":"2026-01-02T03:04:%02dZ","shkeptncontext":"k","triggeredid":%q,"data":%s}`,
		id, typ, seq, triggered, data))}
}

func TestBuildTimeline(t *testing.T) {
	common := `"project":"p","stage":"prod","service":"carts"`
	evs := []seqEvent{
		ev(7, "sh.keptn.event.prod.remediation.finished", "f", "t", `{`+common+`,"status":"aborted","result":"fail","message":"stopped by hand"}`),
		ev(1, "sh.keptn.event.prod.remediation.triggered", "t", "", `{`+common+`,"problem":{"problemTitle":"Slow","rootCause":"cpu"}}`),
		ev(2, "sh.keptn.event.action.triggered", "a1", "", `{`+common+`,"action":{"action":"scaling","value":"1"}}`),
		ev(3, "sh.keptn.event.action.finished", "a1f", "a1", `{`+common+`,"status":"succeeded","result":"pass"}`),
		ev(4, "sh.keptn.event.action.triggered", "a2", "", `{`+common+`,"action":{"name":"flag","action":"toggle-feature","value":{"EnablePromotion":"off"}}}`),
		ev(5, "sh.keptn.event.evaluation.finished", "e", "x", `{`+common+`,"result":"fail","evaluation":{"result":"fail","score":10,"indicatorResults":[]}}`),
		ev(6, "not json", "bad", "", `{}`),
	}
	t.Run("from events alone", func(t *testing.T) {
		tl := buildTimeline("k", append([]seqEvent(nil), evs...), nil, func(p, s, svc, id string) string { return p + "/" + s + "/" + svc + "/" + id })
		var got []string
		for _, e := range tl.Entries {
			got = append(got, e.Title+" "+strings.Join(e.Changes, ";"))
		}
		want := []string{
			"Problem: Slow ",
			"Action 1: scaling replicas +1",
			"Action 1 finished: pass ",
			"Action 2: flag (toggle-feature) EnablePromotion: → off",
			"Verification evaluation: fail, score 10 ",
			"not json ",
			"Remediation stopped ",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !tl.Ended || tl.End != endStopped || tl.LastSeq != 7 || tl.Title != "Slow" || tl.Entries[4].Href != "p/prod/carts/e" {
			t.Errorf("timeline %+v", tl)
		}
	})
	t.Run("with the stored remediation", func(t *testing.T) {
		rem := &remediation.Remediation{ID: "r", State: remediation.StateEscalated, Actions: []remediation.ActionRecord{{
			TriggeredEventID: "a1",
			Plan:             &action.Plan{Changes: []action.Change{{Target: "replicas", From: "1", To: "3"}}},
			Result:           &action.Result{Changes: []action.Change{{Target: "replicas", From: "1", To: "2"}}},
		}}}
		tl := buildTimeline("k", append([]seqEvent(nil), evs[:4]...), rem, nil)
		if got := strings.Join(tl.Entries[1].Changes, ";"); got != "replicas: 1 → 2" {
			t.Errorf("action 1 changes %q; want the result's replicas: 1 → 2", got)
		}
		if !tl.Ended || tl.End != "escalated" {
			t.Errorf("ended %v as %q; want the stored state escalated", tl.Ended, tl.End)
		}
	})
}

func TestParseEvaluation(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		result     string
		hasScore   bool
		wantErr    bool
	}{
		{"keptn evaluation", `{"result":"pass","evaluation":{"result":"warning","score":80,"indicatorResults":[{"status":"pass","value":{"metric":"rt","value":1,"success":true}}]}}`, "warning", true, false},
		{"errored, no evaluation", `{"status":"errored","result":"fail","message":"no SLI provider"}`, "fail", false, false},
		{"nothing at all", `{}`, "fail", false, false},
		{"evaluation of the wrong shape", `{"evaluation":"yes"}`, "fail", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]any{"id": "i", "type": "sh.keptn.event.evaluation.finished", "time": time.Now(), "data": json.RawMessage(tc.data)})
			it, err := parseEvaluation(raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v; want error %v", err, tc.wantErr)
			}
			if it.Result != tc.result || it.HasScore != tc.hasScore || it.ID != "i" {
				t.Errorf("item %+v; want result %s, score %v", it, tc.result, tc.hasScore)
			}
		})
	}
}

// The log holds events from any Keptn integration: reading them must never
// panic, whatever they hold.
func FuzzTimeline(f *testing.F) {
	f.Add([]byte(`{"type":"sh.keptn.event.action.triggered","data":{"action":{"action":"scaling","value":"1"}}}`))
	f.Add([]byte(`{"type":"sh.keptn.event.evaluation.finished","data":{"evaluation":{"indicatorResults":[{"value":{}}]}}}`))
	f.Add([]byte(`{"type":"sh.keptn.event.prod.remediation.triggered","data":{"problem":null,"ProblemTitle":"x"}}`))
	f.Add([]byte(`{"type":"sh.keptn.event.action.finished","data":{"action":{"changes":[{"target":1}]}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tl := buildTimeline("k", []seqEvent{{Seq: 1, JSON: raw}}, nil, evaluationURL)
		_ = layoutHeatmap(nil, "", nil)
		if it, err := parseEvaluation(raw); err == nil {
			evals := []evaluationItem{it}
			h := layoutHeatmap(evals, it.ID, func(evaluationItem) string { return "" })
			if len(h.Cells) != len(h.Rows) {
				t.Errorf("%d cells for %d rows of one evaluation", len(h.Cells), len(h.Rows))
			}
			_ = layoutLineCharts(evals)
		}
		if tl.LastSeq != 1 {
			t.Errorf("LastSeq %d; want 1", tl.LastSeq)
		}
	})
}
