// Package integration runs a real Keptn integration, built on Keptn's Go
// SDK (github.com/keptn/go-utils pkg/sdk, v0.20.4), in-process against the
// real `tend serve`: it registers through the uniform API, learns its
// subscription from the ping, polls the task a shipyard sequence hands out
// over HTTP, answers it through /api/v1/event and sends a log line,
// exactly as it would against Keptn.
// The SDK is a dependency of this test package only.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keptn/go-utils/pkg/api/models"
	"github.com/keptn/go-utils/pkg/sdk"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

var tendBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := tendproc.BuildBinary("tend-integration-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tendBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-hello
spec:
  stages:
    - name: dev
      sequences:
        - name: hello-seq
          tasks:
            - name: hello
`

const (
	helloTriggered = "sh.keptn.event.hello.triggered"
	seqTriggered   = "sh.keptn.event.dev.hello-seq.triggered"
	seqFinished    = "sh.keptn.event.dev.hello-seq.finished"
	integrationNS  = "keptn"
	integrationOn  = "node-1"
	integrationApp = "hello-service"
)

// sdkLog collects the SDK's own log, shown when the test fails; the SDK
// logs from its goroutines, which outlive the test.
type sdkLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *sdkLog) line(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(&l.buf, v...)
}

func (l *sdkLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *sdkLog) Debug(v ...any)                 { l.line(v...) }
func (l *sdkLog) Debugf(format string, v ...any) { l.line(fmt.Sprintf(format, v...)) }
func (l *sdkLog) Info(v ...any)                  { l.line(v...) }
func (l *sdkLog) Infof(format string, v ...any)  { l.line(fmt.Sprintf(format, v...)) }
func (l *sdkLog) Warn(v ...any)                  { l.line(v...) }
func (l *sdkLog) Warnf(format string, v ...any)  { l.line(fmt.Sprintf(format, v...)) }
func (l *sdkLog) Error(v ...any)                 { l.line(v...) }
func (l *sdkLog) Errorf(format string, v ...any) { l.line(fmt.Sprintf(format, v...)) }
func (l *sdkLog) Fatal(v ...any)                 { panic(fmt.Sprint(v...)) }
func (l *sdkLog) Fatalf(format string, v ...any) { panic(fmt.Sprintf(format, v...)) }

// hello is the integration's task: it greets, writes a log line to tend
// through the SDK's log API, and finishes with only its own data, as SDK
// services commonly do (tend files the answer under the task's project).
type hello struct {
	integrationID string
}

func (h hello) Execute(k sdk.IKeptn, ev sdk.KeptnEvent) (any, *sdk.Error) {
	logs := k.APIV1().LogsV1()
	logs.Log([]models.LogEntry{{
		IntegrationID: h.integrationID,
		Message:       "hello from the Go SDK",
		KeptnContext:  ev.Shkeptncontext,
		Task:          "hello",
		TriggeredID:   ev.ID,
	}})
	logs.Flush()
	return map[string]any{"hello": map[string]string{"greeting": "hello, tend"}}, nil
}

// triggerHello starts the sequence hello-seq in project p (stage dev,
// service carts) as `keptn trigger sequence` does, by posting its
// triggered event without a Keptn context, and returns the context tend
// filed it under.
func triggerHello(t *testing.T, c *client.Client, p string) string {
	t.Helper()
	ev := map[string]any{
		"specversion": "1.0", "source": "test", "type": seqTriggered, "datacontenttype": "application/json",
		"data": map[string]any{"project": p, "stage": "dev", "service": "carts", "hello": map[string]string{"to": "tend"}},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	keptnContext, err := c.SendEvent(context.Background(), b)
	if err != nil {
		t.Fatalf("trigger hello-seq: %v", err)
	}
	if keptnContext == "" {
		t.Fatal("trigger hello-seq: no Keptn context in the answer")
	}
	return keptnContext
}

// contextEvents returns the events of a Keptn context, each decoded.
func contextEvents(ctx context.Context, c *client.Client, project, keptnContext string) ([]map[string]any, error) {
	var out []map[string]any
	for raw, err := range c.Events(ctx, client.EventFilter{Project: project, KeptnContext: keptnContext}) {
		if err != nil {
			return nil, err
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// eventually polls cond until it holds; the SDK polls every second and
// pings every five, so a minute is plenty on a loaded machine.
func eventually(t *testing.T, what string, log *sdkLog, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within a minute (last error: %v)\nSDK log:\n%s", what, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestGoSDKIntegration(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	srv := tendproc.Start(t, tendBin, tendproc.Options{DataDir: data})
	admin, err := client.New(srv.URL, tendproc.AdminToken(t, data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: "hello", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateService(ctx, "hello", "carts"); err != nil {
		t.Fatal(err)
	}
	// The integration's token may write to its project and nothing else.
	tok, err := admin.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "hello-service", Scope: apitypes.ScopeWrite, Project: "hello"})
	if err != nil {
		t.Fatal(err)
	}

	// The SDK reads its configuration from the environment. A Keptn API
	// endpoint makes it poll over HTTP instead of connecting to NATS.
	for k, v := range map[string]string{
		"KEPTN_API_ENDPOINT":      srv.URL + "/api",
		"KEPTN_API_TOKEN":         tok.Token,
		"PUBSUB_TOPIC":            helloTriggered,
		"HEALTH_ENDPOINT_ENABLED": "false",
		"K8S_NAMESPACE":           integrationNS,
		"K8S_NODE_NAME":           integrationOn,
		"K8S_POD_NAME":            integrationApp + "-0",
		"K8S_DEPLOYMENT_NAME":     integrationApp,
		"K8S_DEPLOYMENT_VERSION":  "0.1.0",
		"LOCATION":                "remote-execution-plane",
	} {
		t.Setenv(k, v)
	}
	// tend derives the id as Keptn did, so the SDK's own hash finds it.
	id, err := models.IntegrationID{Name: integrationApp, Namespace: integrationNS, NodeName: integrationOn}.Hash()
	if err != nil {
		t.Fatal(err)
	}
	log := &sdkLog{}
	k := sdk.NewKeptn(integrationApp, sdk.WithLogger(log), sdk.WithTaskHandler(helloTriggered, hello{integrationID: id}))
	// Start blocks until the process gets SIGINT or SIGTERM: the SDK
	// offers no other way to stop, so it ends with the test binary.
	go func() {
		if err := k.Start(); err != nil {
			log.line("sdk start:", err)
		}
	}()

	var reg apitypes.KeptnIntegration
	eventually(t, "registration and a ping", log, func() (bool, error) {
		ins, err := admin.ListIntegrations(ctx, client.IntegrationFilter{Name: integrationApp})
		if err != nil || len(ins) != 1 {
			return false, err
		}
		reg = ins[0]
		return reg.MetaData.LastSeen != nil && !reg.MetaData.LastSeen.IsZero(), nil
	})
	if reg.ID != id || reg.MetaData.IntegrationVersion != "0.1.0" || reg.MetaData.Location != "remote-execution-plane" ||
		reg.MetaData.KubernetesMetaData.PodName != integrationApp+"-0" {
		t.Errorf("registration %+v, want id %s and the SDK's metadata", reg, id)
	}
	// The token is restricted, so the SDK's unfiltered subscription was
	// filtered to the token's project.
	if len(reg.Subscriptions) != 1 || reg.Subscriptions[0].Event != helloTriggered || reg.Subscriptions[0].ID == "" ||
		fmt.Sprint(reg.Subscriptions[0].Filter.Projects) != "[hello]" {
		t.Fatalf("subscriptions %+v", reg.Subscriptions)
	}

	keptnContext := triggerHello(t, admin, "hello")

	// The engine hands the sequence's task out as hello.triggered; the SDK
	// polls it, answers started and finished, and the sequence ends.
	var triggered map[string]any
	answers := map[string]map[string]any{}
	eventually(t, "hello.triggered, its answers and hello-seq.finished", log, func() (bool, error) {
		evs, err := contextEvents(ctx, admin, "hello", keptnContext)
		if err != nil {
			return false, err
		}
		for _, ev := range evs {
			if ev["type"] == helloTriggered {
				triggered = ev
			}
		}
		if triggered == nil {
			return false, nil
		}
		for _, ev := range evs {
			if ev["triggeredid"] == triggered["id"] || ev["type"] == seqFinished {
				answers[ev["type"].(string)] = ev
			}
		}
		return answers["sh.keptn.event.hello.started"] != nil && answers["sh.keptn.event.hello.finished"] != nil &&
			answers[seqFinished] != nil, nil
	})
	triggeredID, _ := triggered["id"].(string)
	if td, _ := triggered["data"].(map[string]any); td["project"] != "hello" || td["stage"] != "dev" || td["service"] != "carts" {
		t.Errorf("the engine's hello.triggered %v, want project hello, stage dev, service carts", triggered)
	} else if g, _ := td["hello"].(map[string]any); g["to"] != "tend" {
		t.Errorf("the engine's hello.triggered data %v lacks the trigger's data", td)
	}
	if sd, _ := answers[seqFinished]["data"].(map[string]any); sd["result"] != "pass" || sd["status"] != "succeeded" {
		t.Errorf("sequence finished event %v, want result pass, status succeeded", answers[seqFinished])
	}
	fin := answers["sh.keptn.event.hello.finished"]
	d, _ := fin["data"].(map[string]any)
	if fin["source"] != integrationApp || d["result"] != "pass" || d["status"] != "succeeded" || d["stage"] != "dev" || d["service"] != "carts" {
		t.Errorf("finished event %v", fin)
	}
	if g, _ := d["hello"].(map[string]any); g["greeting"] != "hello, tend" {
		t.Errorf("finished data %v lacks the task's own data", d)
	}

	var logs *apitypes.KeptnLogList
	eventually(t, "the integration's log line", log, func() (bool, error) {
		logs, err = admin.ListIntegrationLogs(ctx, client.LogFilter{IntegrationID: id})
		return err == nil && len(logs.Logs) > 0, err
	})
	if l := logs.Logs[0]; l.Message != "hello from the Go SDK" || l.TriggeredID != triggeredID || l.KeptnContext != keptnContext || l.Task != "hello" {
		t.Errorf("log line %+v", l)
	}

	// The sequence API shows the context's sequence finished.
	_, raw, err := admin.Raw(ctx, http.MethodGet, "/api/controlPlane/v1/sequence/hello", url.Values{"keptnContext": {keptnContext}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var states apitypes.KeptnSequenceStates
	if err := json.Unmarshal(raw, &states); err != nil {
		t.Fatal(err)
	}
	if len(states.States) != 1 || states.States[0].Name != "hello-seq" || states.States[0].State != "finished" ||
		len(states.States[0].Stages) != 1 || states.States[0].Stages[0].Result != "pass" {
		t.Errorf("sequence states %s, want hello-seq finished with result pass in dev", raw)
	}

	// Answered, the task is no longer handed out.
	open, err := admin.TriggeredEvents(ctx, helloTriggered, client.TriggeredFilter{Project: "hello"})
	if err != nil || len(open) != 0 {
		t.Errorf("open hello tasks after the answer: %d (%v)", len(open), err)
	}
}
