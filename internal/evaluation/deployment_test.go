package evaluation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// The deployment kind a deployment reported becomes the evaluation's
// $DEPLOYMENT and the get-sli.triggered's deployment, as Keptn's lighthouse
// passed it on.
func TestDeploymentKindReachesGetSLI(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"canary", `"deployment":{"deploymentNames":["canary"],"deploymentURIsLocal":["http://x"]}`, "canary"},
		{"none", `"deployment":{"deploymentstrategy":"direct"}`, ""},
		{"not a list", `"deployment":{"deploymentNames":"primary"}`, ""},
		{"not a string", `"deployment":{"deploymentNames":[1]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := event.Builder{NewID: func() string { return "e-1" }}.New(event.TypeEvaluationTriggered, "", "",
				json.RawMessage(`{"project":"p","stage":"s","service":"x",`+tc.data+`}`))
			if err != nil {
				t.Fatal(err)
			}
			plan, ok, err := PlanForSequence(ev, time.Now())
			if !ok || err != nil {
				t.Fatalf("plan %v %v", ok, err)
			}
			if plan.State.Deployment != tc.want {
				t.Errorf("deployment %q, want %q", plan.State.Deployment, tc.want)
			}
			out, err := plan.State.Begin(time.Now(), StartInput{SLO: []byte(testSLO), SLOVersion: "v1", Provider: "prometheus"})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				if e.Type == event.TypeGetSLITriggered && strings.Contains(string(e.Data), `"deployment":"canary"`) != (tc.want == "canary") {
					t.Errorf("get-sli.triggered data %s", e.Data)
				}
			}
		})
	}
}
