package spec

import (
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/yamlnode"
)

func TestDetectKind(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             Kind
		wantErr          bool
	}{
		{"kind Remediation wins over file name", "slo.yaml", "kind: Remediation\n", KindRemediation, false},
		{"kind Shipyard", "x.yaml", "apiVersion: spec.keptn.sh/0.3.0\nkind: Shipyard\n", KindShipyard, false},
		{"apiVersion 0.1.4", "x.yaml", "apiVersion: spec.keptn.sh/0.1.4\n", KindRemediation, false},
		{"apiVersion 0.2.2", "x.yaml", "apiVersion: spec.keptn.sh/0.2.2\n", KindShipyard, false},
		{"slo.yaml", "dir/slo.yaml", "foo: 1\n", KindSLO, false},
		{"sli.yaml", "prometheus/sli.yaml", "", KindSLI, false},
		{"slo-self-healing.yaml", "slo-self-healing.yaml", "", KindSLO, false},
		{"sli-config-prometheus.yaml", "sli-config-prometheus.yaml", "", KindSLI, false},
		{"shipyard-argo.yaml", "shipyard-argo.yaml", "", KindShipyard, false},
		{"remediation_feature_toggle.yaml", "remediation_feature_toggle.yaml", "", KindRemediation, false},
		{"podtatohead.slo.yaml", "podtatohead.slo.yaml", "", KindSLO, false},
		{"upper-case name", "SLO.YAML", "", KindSLO, false},
		{"ambiguous name falls back to keys", "slo-and-sli.yaml", "indicators: {}\n", KindSLI, false},
		{"objectives key", "a.yaml", "objectives: []\n", KindSLO, false},
		{"indicators key", "a.yaml", "indicators: {}\n", KindSLI, false},
		{"remediations key", "a.yaml", "remediations: []\n", KindRemediation, false},
		{"spec.remediations key", "a.yaml", "spec:\n  remediations: []\n", KindRemediation, false},
		{"stages key", "a.yaml", "stages: []\n", KindShipyard, false},
		{"spec.stages key", "a.yaml", "spec:\n  stages: []\n", KindShipyard, false},
		{"slot is not slo", "slot.yaml", "a: 1\n", "", true},
		{"nothing to go by", "a.yaml", "a: 1\n", "", true},
		{"invalid YAML and no name", "a.yaml", "a: [\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectKind(tt.file, []byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "--kind") {
				t.Errorf("error %q does not explain --kind", err)
			}
			if got != tt.want {
				t.Errorf("kind = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, s := range []string{"slo", "SLI", " remediation ", "Shipyard"} {
		if _, err := ParseKind(s); err != nil {
			t.Errorf("ParseKind(%q): %v", s, err)
		}
	}
	if _, err := ParseKind("slos"); err == nil {
		t.Error("ParseKind(slos) succeeded")
	}
}

func TestValidateWithKindOverride(t *testing.T) {
	// A file named like an SLO checked as an SLI file.
	kind, diags := Validate("slo.yaml", []byte("spec_version: \"1.0\"\nindicators:\n  a: q\n"), KindSLI)
	if kind != KindSLI || len(diags) != 0 {
		t.Errorf("kind %q diags:\n%s", kind, diagLines(diags))
	}
	if _, diags := Validate("x.yaml", []byte("a: 1\n"), Kind("bogus")); !diags.HasErrors() {
		t.Error("unknown kind accepted")
	}
}

func TestRemediationMatch(t *testing.T) {
	v014 := &Remediation{Format: RemediationV014, Entries: []RemediationEntry{
		{ProblemType: "Response time degradation"},
		{ProblemType: "response_time_p90"},
		{ProblemType: "default"},
	}}
	noDefault := &Remediation{Format: RemediationV014, Entries: []RemediationEntry{{ProblemType: "Failure rate increase"}}}
	legacy := &Remediation{Format: RemediationLegacy, Entries: []RemediationEntry{
		{ProblemType: "Response time"},
		{ProblemType: "cpu_usage"},
	}}
	tests := []struct {
		name             string
		r                *Remediation
		rootCause, title string
		want             string
		wantOK           bool
	}{
		{"root cause first", v014, "response_time_p90", "Response time degradation", "response_time_p90", true},
		{"title when root cause unknown", v014, "something else", "Response time degradation", "Response time degradation", true},
		{"title only", v014, "", "response_time_p90", "response_time_p90", true},
		{"0.1.4 is exact, not prefix", v014, "", "Response time degradation on carts", "default", true},
		{"default catches the rest", v014, "", "Out of memory", "default", true},
		{"no match without default", noDefault, "x", "y", "", false},
		{"legacy prefix of title", legacy, "", "Response time degradation", "Response time", true},
		{"legacy ignores root cause", legacy, "cpu_usage", "Memory", "", false},
		{"legacy first match wins", legacy, "", "cpu_usage_sockshop_carts", "cpu_usage", true},
		{"legacy empty title", legacy, "", "", "", false},
		{"nil remediation", nil, "a", "b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := tt.r.Match(tt.rootCause, tt.title)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && e.ProblemType != tt.want {
				t.Errorf("matched %q, want %q", e.ProblemType, tt.want)
			}
		})
	}
}

func TestDecodeRemediationValues(t *testing.T) {
	data := `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
spec:
  remediations:
    - problemType: p
      actionsOnOpen:
        - action: scaling
          value: +1
        - action: scaling
          value: "-1"
        - action: webhook
          value:
            url: https://example.com
            headers: {x: y}
        - action: escalate
        - action: weird
          value: [1, 2.5, true, null]
`
	r := mustDecode(t, "remediation.yaml", []byte(data), DecodeRemediation)
	acts := r.Entries[0].Actions
	if acts[0].Value != 1 || acts[0].ValueText != "+1" || acts[0].String() != "scaling +1" {
		t.Errorf("+1: %+v", acts[0])
	}
	if acts[1].Value != "-1" || acts[1].ValueText != "-1" {
		t.Errorf("\"-1\": %+v", acts[1])
	}
	m, ok := acts[2].Value.(map[string]any)
	if !ok || m["url"] != "https://example.com" || acts[2].ValueText != "" {
		t.Errorf("webhook: %+v", acts[2])
	}
	if acts[3].Value != nil || acts[3].String() != "escalate" {
		t.Errorf("escalate: %+v", acts[3])
	}
	list, ok := acts[4].Value.([]any)
	if !ok || len(list) != 4 || list[0] != 1 || list[1] != 2.5 || list[2] != true || list[3] != nil {
		t.Errorf("list: %#v", acts[4].Value)
	}
}

func TestDecodeSLODefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want slo.Comparison
	}{
		{"no comparison block", "", slo.DefaultComparison()},
		{"null comparison block", "comparison:\n", slo.DefaultComparison()},
		{"several_results without count uses 3", "comparison:\n  compare_with: several_results\n",
			slo.Comparison{CompareWith: slo.SeveralResults, IncludeResults: slo.IncludeAll, NumberOfResults: 3, Aggregate: slo.AggregateAvg}},
		{"present block keeps defaults for missing fields", "comparison:\n  aggregate_function: p95\n",
			slo.Comparison{CompareWith: slo.SingleResult, IncludeResults: slo.IncludeAll, NumberOfResults: 1, Aggregate: slo.AggregateP95}},
		{"several_results with count", "comparison:\n  compare_with: several_results\n  number_of_comparison_results: 5\n  include_result_with_score: pass_or_warn\n",
			slo.Comparison{CompareWith: slo.SeveralResults, IncludeResults: slo.IncludePassOrWarn, NumberOfResults: 5, Aggregate: slo.AggregateAvg}},
	}
	base := "spec_version: \"1.0\"\nobjectives:\n  - sli: a\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustDecode(t, "slo.yaml", []byte(base+tt.yaml), DecodeSLO)
			if s.Comparison != tt.want {
				t.Errorf("comparison = %+v, want %+v", s.Comparison, tt.want)
			}
			if o := s.Objectives[0]; o.Weight != 1 || o.KeySLI {
				t.Errorf("objective defaults = %+v", o)
			}
		})
	}
}

func TestDecodeSLOFields(t *testing.T) {
	data := `spec_version: "1.0"
filter:
  handler: ItemsController.addToCart
  id:
objectives:
  - sli: a
    displayName: A
    key_sli: yes
    weight: 2.5
    pass:
      - criteria: ["<= +10%", "<1000"]
      - criteria: ["=0"]
  - sli: b
    weight: 0
    pass: [{criteria: [">=-5"]}]
total_score:
  pass: 90
`
	s, diags := DecodeSLO("slo.yaml", []byte(data))
	if s == nil {
		t.Fatalf("decode failed:\n%s", diagLines(diags))
	}
	if s.Filter["handler"] != "ItemsController.addToCart" || s.Filter["id"] != "" || len(s.Filter) != 2 {
		t.Errorf("filter = %v", s.Filter)
	}
	a := s.Objectives[0]
	if a.DisplayName != "A" || !a.KeySLI || a.Weight != 2.5 || len(a.Pass) != 2 {
		t.Errorf("a = %+v", a)
	}
	if c := a.Pass[0][0]; c.Raw != "<= +10%" || !c.Relative {
		t.Errorf("criterion keeps raw text and is relative: %+v", c)
	}
	if b := s.Objectives[1]; b.Weight != 0 || !b.Pass[0][0].Decrease {
		t.Errorf("b = %+v", b)
	}
	if s.TotalScore.Pass != 90 || s.TotalScore.HasWarning {
		t.Errorf("total = %+v", s.TotalScore)
	}
	// weight 0 is the only warning.
	if len(diags) != 1 || !strings.Contains(diags[0].Message, "weight: 0") {
		t.Errorf("diags:\n%s", diagLines(diags))
	}
}

func TestShipyardMethods(t *testing.T) {
	data := `apiVersion: spec.keptn.sh/0.2.0
kind: Shipyard
spec:
  stages:
    - name: dev
    - name: prod
      sequences:
        - name: remediation
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
              triggeredAfter: 90s
              properties: {timeframe: 90s}
`
	s := mustDecode(t, "shipyard.yaml", []byte(data), DecodeShipyard)
	if _, ok := s.Stage("qa"); ok {
		t.Error("found stage qa")
	}
	dev, _ := s.Stage("dev")
	if dev.RemediationEnabled() {
		t.Error("dev remediates")
	}
	if _, ok := dev.EvaluationDelay(); ok {
		t.Error("dev has an evaluation delay")
	}
	prod, _ := s.Stage("prod")
	if d, ok := prod.EvaluationDelay(); !ok || d != 90*time.Second {
		t.Errorf("delay = %v, %v", d, ok)
	}
	seq, _ := prod.Sequence("remediation")
	if tk := seq.Tasks[2]; tk.TriggeredAfterText != "90s" || tk.Properties["timeframe"] != "90s" {
		t.Errorf("task = %+v", tk)
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"objectivs", "objectives"},
		{"key-sli", "key_sli"},
		{"keySli", "key_sli"},
		{"dispayName", "displayName"},
		{"displayname", "displayName"},
		{"wieght", "weight"},
		{"totalscore", "total_score"},
		{"criterias", "criteria"},
		{"zzz", ""},
		{"description", ""},
	}
	known := append(append(append([]string{}, sloKeys...), objectiveKeys...), blockKeys...)
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := yamlnode.Suggest(tt.key, known); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestCriterionImplies(t *testing.T) {
	parse := func(s string) slo.Criterion {
		c, err := slo.ParseCriterion(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		warning, pass string
		want          bool
	}{
		{"<=0.1", "<=0.4", true},
		{"<50", "<100", true},
		{"<100", "<100", true},
		{"<=100", "<100", false},
		{"<100", "<=100", true},
		{"<=1200", "<1000", false},
		{">10", ">5", true},
		{">=5", ">5", false},
		{"=3", "<5", true},
		{"=7", "<5", false},
		{"<5", ">1", false},
	}
	for _, tt := range tests {
		t.Run(tt.warning+" implies "+tt.pass, func(t *testing.T) {
			if got := criterionImplies(parse(tt.warning), parse(tt.pass)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a")
		b.WriteString(string(rune('0' + i%10)))
		b.WriteString(strings.Repeat("_", i))
		b.WriteString(": &a")
		b.WriteString(strings.Repeat("_", i))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a")
			if i == 1 {
				b.WriteString("0")
			} else {
				b.WriteString(strings.Repeat("_", i-1))
			}
		}
		b.WriteString("]\n")
	}
	b.WriteString("remediations:\n  - name: x\n    actions:\n      - action: a\n        value: *a" + strings.Repeat("_", 11) + "\n")
	// Must return promptly with an error rather than expand 10^12 nodes.
	_, diags := DecodeRemediation("remediation.yaml", []byte(b.String()))
	if !diags.HasErrors() {
		t.Errorf("alias bomb accepted:\n%s", diagLines(diags))
	}
}
