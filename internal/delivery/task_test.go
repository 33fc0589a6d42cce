package delivery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

func TestImageRef(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"Keptn 0.8+ values.image", `{"configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.11.1"}}}`, "docker.io/keptnexamples/carts:0.11.1"},
		{"values.image wins over legacy", `{"configurationChange":{"values":{"image":"a:1"}},"image":"b","tag":"2"}`, "a:1"},
		{"legacy image and tag", `{"image":"docker.io/keptnexamples/carts","tag":"0.11.1"}`, "docker.io/keptnexamples/carts:0.11.1"},
		{"legacy tag replaces a tag", `{"image":"registry:5000/carts:old","tag":"new"}`, "registry:5000/carts:new"},
		{"legacy image with a registry port", `{"image":"registry:5000/carts","tag":"1"}`, "registry:5000/carts:1"},
		{"legacy image alone", `{"image":"carts:3"}`, "carts:3"},
		{"none", `{}`, ""},
		{"a non-string image is none", `{"configurationChange":{"values":{"image":{"repository":"x"}}}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := DecodeTriggered(json.RawMessage(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.ImageRef(); got != tc.want {
				t.Errorf("image %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChartValues(t *testing.T) {
	tr, err := DecodeTriggered(json.RawMessage(`{"configurationChange":{"values":{"image":"carts:1","replicas":2,"keptn":{"extra":"x","stage":"wrong"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	v := tr.ChartValues("sockshop", "staging", "carts", BlueGreen)
	k := v["keptn"].(map[string]any)
	if v["image"] != "carts:1" || v["replicas"] != float64(2) || k["project"] != "sockshop" || k["stage"] != "staging" ||
		k["service"] != "carts" || k["deployment"] != "canary" || k["extra"] != "x" {
		t.Errorf("values %v", v)
	}
	if tr.ConfigurationChange.Values["keptn"].(map[string]any)["stage"] != "wrong" {
		t.Error("ChartValues changed the trigger's values")
	}
}

func TestParseTestStrategy(t *testing.T) {
	for in, want := range map[string]TestKind{
		"functional": Functional, "performance": Performance, "performance_light": Performance, "performance_peak": Performance,
		"performance_10": Performance, "Performance": Performance, "real-user": RealUser, "real_user": RealUser,
	} {
		if got, ok := ParseTestStrategy(in); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "chaos", "perf"} {
		if _, ok := ParseTestStrategy(in); ok {
			t.Errorf("%q is a strategy", in)
		}
	}
}

func TestStrategyOf(t *testing.T) {
	tr, _ := DecodeTriggered(json.RawMessage(`{"deployment":{"deploymentstrategy":"direct"},"rollback":{"deploymentstrategy":"blue_green_service"}}`))
	if tr.StrategyOf(event.TaskRollback) != "blue_green_service" || tr.StrategyOf(event.TaskRelease) != "direct" || tr.StrategyOf(event.TaskDeployment) != "direct" {
		t.Errorf("strategies %q %q", tr.StrategyOf(event.TaskRollback), tr.StrategyOf(event.TaskRelease))
	}
}

func TestDeploymentData(t *testing.T) {
	d := DeploymentData(Deployed{Strategy: BlueGreen, Kind: KindCanary, URIsLocal: []string{"http://carts.sockshop-staging:80"}, Image: "carts:1"}, "abc")
	b, _ := json.Marshal(d)
	want := `{"deployment":{"deploymentNames":["canary"],"deploymentURIsLocal":["http://carts.sockshop-staging:80"],"deploymentstrategy":"blue_green_service","gitCommit":"abc","image":"carts:1"}}`
	if string(b) != want {
		t.Errorf("data\n%s\nwant\n%s", b, want)
	}
}

func TestTestData(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	d := TestData(CheckRequest{Kind: Functional, URL: "http://x"}, CheckReport{Start: start, End: start.Add(1500 * time.Millisecond), Requests: 4, P90: 12 * time.Millisecond})
	tst := d["test"].(map[string]any)
	if tst["start"] != "2026-12-04T12:00:00Z" || tst["end"] != "2026-12-04T12:00:01.5Z" || tst["requests"] != 4 || tst["latencyP90Ms"] != 12.0 {
		t.Errorf("test data %v", tst)
	}
	if ru := TestData(CheckRequest{Kind: RealUser}, CheckReport{})["test"].(map[string]any); ru["start"] != nil {
		t.Errorf("a real-user test reported a window: %v", ru)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	ev, err := event.Builder{NewID: func() string { return "t-1" }}.New("sh.keptn.event.deployment.triggered", "", "", map[string]any{"project": "p"})
	if err != nil {
		t.Fatal(err)
	}
	j := TaskJob(ev)
	if j.Kind != JobKind || j.UniqueKey != "delivery.task/t-1" {
		t.Errorf("job %+v", j)
	}
	p, err := DecodePayload(j.Payload)
	if err != nil || p.Event.ID != "t-1" || p.Plan != nil || p.Task() != "deployment" {
		t.Errorf("payload %+v %v", p, err)
	}
	for _, bad := range []string{`{}`, `{"event":{"id":"x","type":"sh.keptn.event.evaluation.triggered"}}`, `nope`} {
		if _, err := DecodePayload([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

func FuzzDecodeTriggered(f *testing.F) {
	f.Add([]byte(`{"configurationChange":{"values":{"image":"a:1"}},"deployment":{"deploymentURIsLocal":["http://x"]}}`))
	f.Add([]byte(`{"image":"carts","tag":"1","test":{"teststrategy":"performance_peak"}}`))
	f.Add([]byte(`{"configurationChange":{"values":{"keptn":"not an object"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := DecodeTriggered(data)
		if err != nil {
			return
		}
		_ = tr.ImageRef()
		_, _ = ParseTestStrategy(tr.Test.Strategy)
		v := tr.ChartValues("p", "s", "svc", Direct)
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("values do not marshal: %v", err)
		}
		if k, ok := v["keptn"].(map[string]any); !ok || k["service"] != "svc" {
			t.Fatalf("keptn values %v", v["keptn"])
		}
	})
}
