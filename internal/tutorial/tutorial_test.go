package tutorial

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/yamlnode"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

// The story uses the tutorial's files from examples/ unchanged, except the
// shipyard, whose settling time is the story's.
func TestFilesAreTheExamples(t *testing.T) {
	for _, name := range []string{"slo.yaml", "prometheus/sli.yaml", "remediation.yaml"} {
		t.Run(name, func(t *testing.T) {
			got, err := File(name)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("files/%s differs from examples/%s; copy it again", name, name)
			}
		})
	}
}

func TestShipyardSettlesForSettling(t *testing.T) {
	data, err := File("shipyard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sy, diags := spec.DecodeShipyard("shipyard.yaml", data)
	if sy == nil {
		t.Fatalf("shipyard does not decode: %v", diags)
	}
	st, ok := sy.Stage(Stage)
	if !ok {
		t.Fatalf("shipyard has no stage %s", Stage)
	}
	d, ok := st.EvaluationDelay()
	if !ok || d != Settling {
		t.Errorf("stage %s settles for %v (set: %v), want Settling %v", Stage, d, ok, Settling)
	}
}

// The alert must outlast the last verification: after the flag goes off,
// the p90 over RuleWindow drops below 1000 ms only once less than a tenth
// of the window's requests are slow, which must be later than Settling.
func TestTimingKeepsTheAlertUntilVerified(t *testing.T) {
	if resolves := RuleWindow * 9 / 10; resolves <= Settling+15*time.Second {
		t.Errorf("the alert resolves about %v after the toggle, not clearly after the verification at %v: a closed problem would stop the remediation", resolves, Settling)
	}
}

func TestVerdict(t *testing.T) {
	told := func() apitypes.Remediation {
		return apitypes.Remediation{
			ID: "r1", State: "resolved",
			Actions: []apitypes.RemediationAction{
				{Index: 0, Action: "scaling", State: "finished"},
				{Index: 1, Action: "toggle-feature", State: "finished"},
			},
			Evaluations: []apitypes.RemediationEvaluation{{Action: 0, Result: "fail"}, {Action: 1, Result: "pass"}},
		}
	}
	tests := []struct {
		name   string
		change func(r *apitypes.Remediation)
		want   string // "" means no error
	}{
		{"as told", func(*apitypes.Remediation) {}, ""},
		{"escalated", func(r *apitypes.Remediation) { r.State, r.Reason = "escalated", "all 2 action(s) were tried" }, "ended escalated, not resolved (all 2 action(s) were tried)"},
		{"stopped because the problem closed", func(r *apitypes.Remediation) {
			r.State, r.Reason = "stopped", "the problem closed while settling"
			r.Evaluations = r.Evaluations[:1]
		}, "1 verifications, want 2"},
		{"scaling passed at once", func(r *apitypes.Remediation) {
			r.Actions[1].State = ""
			r.Evaluations = []apitypes.RemediationEvaluation{{Action: 0, Result: "pass"}}
		}, "action 2 is toggle-feature in state , want toggle-feature finished"},
		{"scaling failed", func(r *apitypes.Remediation) {
			r.Actions[0].State, r.Actions[0].Error = "failed", "already at the limit"
		}, "action 1 is scaling in state failed, want scaling finished (already at the limit)"},
		{"first verification warned", func(r *apitypes.Remediation) { r.Evaluations[0].Result = "warning" }, `verification 1 of action 1 is "warning", want "fail"`},
		{"no actions", func(r *apitypes.Remediation) { r.Actions = nil }, "it has 0 actions, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := told()
			tt.change(&r)
			err := Verdict(r)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Verdict = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Verdict = %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !errors.Is(err, ErrNotAsTold):
				t.Errorf("Verdict = %v, does not match ErrNotAsTold", err)
			}
		})
	}
}

func TestTellerLines(t *testing.T) {
	tell := &teller{settling: time.Minute}
	ctx := "e505736e-016f-5667-a0c2-eb9f2b99c330"
	steps := []struct {
		typ     string
		data    string
		changes []apitypes.ActionChange
		want    []string
	}{
		{remediationType("triggered"), `{"project":"sockshop","stage":"production","service":"carts","problem":{"problemTitle":"response_time_p90"}}`, nil,
			[]string{"problem opened: response_time_p90 (sockshop/production/carts); tend starts remediating it in keptn context " + ctx}},
		{remediationType("started"), `{}`, nil, nil},
		{"sh.keptn.event.action.triggered", `{"action":{"name":"Scale up","action":"scaling"}}`, nil,
			[]string{"action 1 scaling (Scale up): triggered"}},
		{"sh.keptn.event.action.started", `{"action":{"action":"scaling","plan":"scale http://c/scale from 1 to 2 replicas"}}`, nil,
			[]string{"action 1 scaling: scale http://c/scale from 1 to 2 replicas"}},
		{"sh.keptn.event.action.finished", `{"status":"succeeded","result":"pass","message":"done","action":{"action":"scaling"}}`,
			[]apitypes.ActionChange{{Target: "http http://c/scale replicas", From: "1", To: "2"}},
			[]string{"action 1 scaling finished: http http://c/scale replicas: 1 → 2", "settling: tend waits 1m, then verifies the action with an evaluation over that window"}},
		{"sh.keptn.event.evaluation.triggered", `{"evaluation":{"start":"bad","end":"also bad"}}`, nil,
			[]string{"verification of action 1: evaluating the SLO from bad to also bad"}},
		{"sh.keptn.event.evaluation.finished", `{"result":"fail","evaluation":{"result":"fail","score":0,"indicatorResults":[{"value":{"metric":"response_time_p90","value":1902.4,"success":true}}]}}`, nil,
			[]string{"verification of action 1: fail (score 0%, response_time_p90 1902 ms)"}},
		{"sh.keptn.event.action.triggered", `{"action":{"name":"Disable promotion","action":"toggle-feature"}}`, nil,
			[]string{"action 2 toggle-feature (Disable promotion): triggered"}},
		{"sh.keptn.event.action.finished", `{"status":"errored","result":"fail","message":"action failed: unleash: 401","action":{"action":"toggle-feature"}}`, nil,
			[]string{"action 2 toggle-feature failed: action failed: unleash: 401"}},
		{"sh.keptn.event.evaluation.finished", `{"result":"pass","evaluation":{"result":"pass","score":100,"indicatorResults":[{"value":{"metric":"response_time_p90","success":false,"message":"no data"}}]}}`, nil,
			[]string{"verification of action 2: pass (score 100%, response_time_p90: no value (no data))"}},
		{remediationType("finished"), `{"status":"succeeded","result":"pass","message":"the evaluation after action 2 resulted in pass"}`, nil,
			[]string{"remediation resolved: the evaluation after action 2 resulted in pass"}},
		{remediationType("finished"), `{"status":"succeeded","result":"fail","message":"all 2 action(s) were tried"}`, nil,
			[]string{"remediation escalated: all 2 action(s) were tried"}},
		{remediationType("finished"), `{"status":"aborted","result":"pass","message":"the problem closed while settling"}`, nil,
			[]string{"remediation stopped: the problem closed while settling"}},
		{"sh.keptn.event.get-sli.finished", `{}`, nil, nil},
	}
	for _, st := range steps {
		raw := []byte(`{"id":"x","type":"` + st.typ + `","shkeptncontext":"` + ctx + `","data":` + st.data + `}`)
		got := tell.line(st.typ, raw, st.changes)
		if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("%s %s:\n got %q\nwant %q", st.typ, st.data, got, st.want)
		}
	}
}

func TestUnmergeAlertmanager(t *testing.T) {
	original := []byte(`route:
  receiver: default
  routes:
    - receiver: team
      matchers: [team="a"]
receivers:
  - name: default
  - name: team
`)
	merged := original
	for _, name := range []string{"tend-a", "tend-b"} {
		var err error
		merged, err = alertrules.MergeAlertmanager("alertmanager.yml", merged, alertrules.Receiver{
			Project: "sockshop", Name: name, URL: "http://127.0.0.1:1", Token: "secret",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out, changed, err := unmergeAlertmanager(merged, "tend-a")
	if err != nil || !changed {
		t.Fatalf("unmerge tend-a: changed %v, %v", changed, err)
	}
	// tend-b (another run sharing the Alertmanager) stays; tend-a is gone.
	var doc struct {
		Route struct {
			Routes []struct {
				Receiver string `yaml:"receiver"`
			} `yaml:"routes"`
		} `yaml:"route"`
		Receivers []struct {
			Name string `yaml:"name"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("unmerged configuration is not YAML: %v\n%s", err, out)
	}
	var routes, receivers []string
	for _, r := range doc.Route.Routes {
		routes = append(routes, r.Receiver)
	}
	for _, r := range doc.Receivers {
		receivers = append(receivers, r.Name)
	}
	if got := strings.Join(routes, ","); got != "tend-b,team" {
		t.Errorf("routes after unmerging tend-a: %s, want tend-b,team", got)
	}
	if got := strings.Join(receivers, ","); got != "default,team,tend-b" {
		t.Errorf("receivers after unmerging tend-a: %s, want default,team,tend-b", got)
	}

	if _, changed, err := unmergeAlertmanager(original, "tend-a"); err != nil || changed {
		t.Errorf("unmerging a receiver that is not there: changed %v, %v; want unchanged", changed, err)
	}
	if _, _, err := unmergeAlertmanager([]byte("route: [\n"), "tend"); err == nil {
		t.Error("unmerging broken YAML: no error")
	}
	bomb, alias := yamlnodetest.Nested(9, 10)
	bomb += "route: {receiver: a, routes: [{receiver: tend-a, group_by: " + alias + "}]}\n"
	if _, _, err := unmergeAlertmanager([]byte(bomb), "tend-a"); !errors.Is(err, yamlnode.ErrLimit) {
		t.Errorf("unmerging a billion laughs: %v; want yamlnode's limit error", err)
	}
}

func FuzzUnmergeAlertmanager(f *testing.F) {
	f.Add([]byte("route:\n  routes:\n    - receiver: tend\nreceivers:\n  - name: tend\n"), "tend")
	f.Add([]byte("receivers: 5\nroute: []\n"), "tend")
	f.Add([]byte("- a\n- b\n"), "x")
	f.Fuzz(func(t *testing.T, data []byte, receiver string) {
		out, changed, err := unmergeAlertmanager(data, receiver)
		if err == nil && changed {
			if _, again, err := unmergeAlertmanager(out, receiver); err != nil || again {
				t.Errorf("unmerging twice changed it again (%v, %v)", again, err)
			}
		}
	})
}

func FuzzTellerLine(f *testing.F) {
	f.Add("sh.keptn.event.evaluation.finished", []byte(`{"data":{"evaluation":{"result":"fail","indicatorResults":[{}]}}}`))
	f.Add("sh.keptn.event.action.started", []byte(`{"data":{"action":null}}`))
	f.Add(remediationType("triggered"), []byte(`[]`))
	f.Fuzz(func(t *testing.T, typ string, raw []byte) {
		tell := &teller{settling: time.Minute}
		_ = tell.line(typ, raw, nil)
	})
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"plain":                           "plain",
		"file:/tmp/x-1/token":             "file:/tmp/x-1/token",
		"":                                "''",
		"two words":                       "'two words'",
		"it's":                            `'it'\''s'`,
		"Authorization: $UNLEASH_TOKEN":   `"Authorization: $UNLEASH_TOKEN"`,
		"project=\"sockshop\"":            `'project="sockshop"'`,
		"http://127.0.0.1:9090/-/reload":  "http://127.0.0.1:9090/-/reload",
		"response_time_p90,throughput=2%": "response_time_p90,throughput=2%",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 2 * time.Minute: "2m", 10 * time.Second: "10s", 90 * time.Second: "1m30s",
		time.Hour: "1h", 45*time.Second + 400*time.Millisecond: "45s",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestComponentsValidateNamesTheVariables(t *testing.T) {
	err := Components{PrometheusURL: "http://p"}.Validate()
	if err == nil {
		t.Fatal("no error for missing components")
	}
	for _, v := range []string{"TEND_TEST_ALERTMANAGER_URL", "TEND_TEST_UNLEASH_ADMIN_TOKEN", "TEND_TEST_PROMETHEUS_RULES_DIR"} {
		if !strings.Contains(err.Error(), v) {
			t.Errorf("error %q does not name %s", err, v)
		}
	}
	if strings.Contains(err.Error(), "TEND_TEST_PROMETHEUS_URL") {
		t.Errorf("error %q names the variable that is set", err)
	}
	env := map[string]string{}
	for _, v := range EnvNames {
		env[v] = "x"
	}
	if err := ComponentsFromEnv(func(k string) string { return env[k] }).Validate(); err != nil {
		t.Errorf("every variable set: %v", err)
	}
}
