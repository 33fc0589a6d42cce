package evaluation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
)

// beginExternal runs the start step with an external provider and returns
// the get-sli step's state after the payload round trip.
func beginExternal(t *testing.T) (State, Outcome) {
	t.Helper()
	st, err := DecodeState(request(t).Job.Payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := st.Begin(now, StartInput{SLO: []byte(testSLO), SLOVersion: "v1", Provider: "external", External: "dynatrace", Timeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	next, err := DecodeState(out.Next.Payload())
	if err != nil {
		t.Fatal(err)
	}
	return next, out
}

func TestExternalProviderHandsOutTheTask(t *testing.T) {
	st, out := beginExternal(t)
	// tend sends no get-sli.started: the integration does.
	if got := fmt.Sprint(types(out.Events)); got != "[evaluation.started get-sli.triggered]" {
		t.Fatalf("events %s", got)
	}
	var d struct {
		Project string `json:"project"`
		GetSLI  struct {
			SLIProvider string   `json:"sliProvider"`
			Indicators  []string `json:"indicators"`
			Start, End  string
		} `json:"get-sli"`
	}
	if err := json.Unmarshal(out.Events[1].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Project != "sockshop" || d.GetSLI.SLIProvider != "dynatrace" || len(d.GetSLI.Indicators) != 2 || d.GetSLI.Start == "" {
		t.Errorf("get-sli.triggered data %s", out.Events[1].Data)
	}
	if st.ExternalProvider != "dynatrace" || !st.SLIDeadline.Equal(now.Add(10*time.Minute)) || st.GetSLIID != out.Events[1].ID {
		t.Errorf("state %+v", st)
	}
	if !out.RunAt.Equal(now.Add(SLIPollInterval)) {
		t.Errorf("first look at %v", out.RunAt)
	}
}

func TestExternalProviderWaitsThenTimesOut(t *testing.T) {
	st, _ := beginExternal(t)
	tests := []struct {
		name  string
		at    time.Time
		runAt time.Time
	}{
		{"early: look again after the poll interval", now.Add(time.Minute), now.Add(time.Minute + SLIPollInterval)},
		{"near the deadline: look at the deadline", st.SLIDeadline.Add(-time.Second), st.SLIDeadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := st.SLIWait(tt.at)
			if err != nil || len(out.Events) != 0 || out.Next == nil || !out.RunAt.Equal(tt.runAt) {
				t.Errorf("wait: %+v %v", out, err)
			}
		})
	}
	out, err := st.SLIWait(st.SLIDeadline)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(types(out.Events)); got != "[get-sli.finished evaluation.finished production.evaluation.finished]" {
		t.Fatalf("timeout events %s", got)
	}
	if out.Events[0].TriggeredID != st.GetSLIID || out.Events[0].Status() != event.StatusErrored {
		t.Errorf("the get-sli task is not closed as errored: %+v", out.Events[0])
	}
	d := finishedData(t, out.Events[1])
	if d.Result != "fail" || !strings.Contains(d.Message, `no SLI provider answered`) || !strings.Contains(d.Message, `"dynatrace"`) {
		t.Errorf("evaluation.finished %+v", d)
	}
}

func TestExternalProviderAnswer(t *testing.T) {
	st, _ := beginExternal(t)
	tests := []struct {
		name    string
		answer  SLIAnswer
		result  string
		message string
	}{
		{"values", SLIAnswer{Status: "succeeded", Values: goodValues}, "pass", ""},
		{"one missing", SLIAnswer{Status: "succeeded", Values: goodValues[1:]}, "fail", "the provider returned no result"},
		{"errored without values", SLIAnswer{Status: "errored", Message: "tenant unreachable"}, "fail", "dynatrace: tenant unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := st.SLIsAnswered(tt.answer)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Events) != 0 || out.Next == nil || out.Next.Step != StepEvaluate {
				t.Fatalf("answer outcome %+v", out)
			}
			fin, err := out.Next.Evaluate(now, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := finishedData(t, fin.Events[0])
			var msgs []string
			for _, v := range out.Next.Values {
				msgs = append(msgs, v.Message)
			}
			if d.Result != tt.result || (tt.message != "" && !strings.Contains(strings.Join(msgs, "; "), tt.message)) {
				t.Errorf("result %s, value messages %v", d.Result, msgs)
			}
		})
	}
	// Only the get-sli step of an external provider takes answers.
	plain := st
	plain.ExternalProvider = ""
	if _, err := plain.SLIsAnswered(SLIAnswer{Values: []slo.SLIResult{}}); err == nil {
		t.Error("an answer was taken without an external provider")
	}
	if _, err := plain.SLIWait(now); err == nil {
		t.Error("a wait was taken without an external provider")
	}
}
