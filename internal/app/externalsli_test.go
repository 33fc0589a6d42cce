package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/event"
)

// The get-sli task of an evaluation whose monitoring is "external" goes to
// a Keptn integration through the polling route, and the evaluation uses
// its answer; without an answer it fails when the timeout passes.

// openGetSLI polls the triggered get-sli tasks of sockshop as an
// integration does, until the one of kctx is open.
func openGetSLI(t *testing.T, ta *testApp, kctx string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		evs, err := ta.c.TriggeredEvents(context.Background(), event.TypeGetSLITriggered, client.TriggeredFilter{Project: "sockshop"})
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range evs {
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if ev["shkeptncontext"] == kctx {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no open get-sli task of %s within 60s", kctx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func configureExternal(t *testing.T, ta *testApp, timeout string) {
	t.Helper()
	if _, err := ta.c.PutSetting(context.Background(), "sockshop", "monitoring",
		map[string]string{"provider": "external", "name": "my-sli", "timeout": timeout}); err != nil {
		t.Fatal(err)
	}
}

func TestExternalSLIProvider(t *testing.T) {
	ta := startTestApp(t, Options{})
	ta.setup(t, "", apitypes.MonitoringConfig{})
	configureExternal(t, ta, "")
	kctx := ta.trigger(t)

	task := openGetSLI(t, ta, kctx)
	data := task["data"].(map[string]any)
	getSLI := data["get-sli"].(map[string]any)
	if getSLI["sliProvider"] != "my-sli" || getSLI["start"] == "" || data["stage"] != "production" {
		t.Fatalf("get-sli.triggered data %v", data)
	}
	if ind, _ := getSLI["indicators"].([]any); len(ind) != 1 || ind[0] != "response_time_p90" {
		t.Errorf("indicators %v", getSLI["indicators"])
	}
	// The integration answers as Keptn's SLI services did.
	id := task["id"].(string)
	for _, typ := range []string{"started", "finished"} {
		ev := map[string]any{
			"specversion": "1.0", "source": "my-sli-service", "type": "sh.keptn.event.get-sli." + typ,
			"shkeptncontext": kctx, "triggeredid": id,
			"data": map[string]any{"project": "sockshop", "stage": "production", "service": "carts", "status": "succeeded", "result": "pass",
				"get-sli": map[string]any{"indicatorValues": []map[string]any{{"metric": "response_time_p90", "value": 420.5, "success": true}}}},
		}
		b, _ := json.Marshal(ev)
		if _, err := ta.c.SendEvent(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	f := ta.waitFinished(t, kctx)
	if f.Data.Result != "pass" || len(f.Data.Evaluation.IndicatorResults) != 1 || f.Data.Evaluation.IndicatorResults[0].Value.Value != 420.5 {
		t.Errorf("evaluation %+v", f.Data)
	}
	// tend sent neither get-sli.started nor get-sli.finished itself.
	for _, raw := range ta.contextEvents(t, client.EventFilter{KeptnContext: kctx}) {
		var ev struct{ Type, Source string }
		_ = json.Unmarshal(raw, &ev)
		if strings.HasPrefix(ev.Type, "sh.keptn.event.get-sli.") && ev.Type != event.TypeGetSLITriggered && ev.Source != "my-sli-service" {
			t.Errorf("tend answered its own task: %s from %s", ev.Type, ev.Source)
		}
	}
}

func TestExternalSLIProviderTimeout(t *testing.T) {
	ta := startTestApp(t, Options{})
	ta.setup(t, "", apitypes.MonitoringConfig{})
	configureExternal(t, ta, "1s")
	kctx := ta.trigger(t)
	f := ta.waitFinished(t, kctx)
	if f.Data.Result != "fail" || !strings.Contains(f.Data.Message, "no SLI provider answered") || !strings.Contains(f.Data.Message, `"my-sli"`) {
		t.Errorf("evaluation %+v", f.Data)
	}
	// The task is closed: no integration picks it up later.
	evs, err := ta.c.TriggeredEvents(context.Background(), event.TypeGetSLITriggered, client.TriggeredFilter{Project: "sockshop"})
	if err != nil || len(evs) != 0 {
		t.Errorf("open get-sli tasks after the timeout: %d (%v)", len(evs), err)
	}
}
