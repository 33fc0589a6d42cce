// Package outage tests, against the real tend binary, what tend does when
// the monitoring cannot answer and when a remediation has nothing working
// on it (issue 12, points 8 and 9): a quality gate over a monitoring
// outage fails closed; a remediation whose verification meets an outage
// escalates after its retries without going on to the next action; a
// remediation whose step job died with its server twice is escalated by
// the watchdog instead of staying running.
package outage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// tendBin is the tend binary TestMain builds once for every test.
var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "outage", &tendBin)) }

const (
	project = "shop"
	stage   = "production"

	// waitLimit bounds every wait for the server; the tests never assert
	// how long anything took.
	waitLimit = time.Minute

	typeActionTriggered     = "sh.keptn.event.action.triggered"
	typeActionFinished      = "sh.keptn.event.action.finished"
	typeEvaluationFinished  = "sh.keptn.event.evaluation.finished"
	typeRemediationFinished = "sh.keptn.event.production.remediation.finished"
)

// server is one tend serve of a test with its admin client.
type server struct {
	*tendapi.Server
	admin *client.Client
}

// start runs tend serve (SQLite) with cfg as tend.yaml, on top of what
// every test here needs: no cooldown or hourly limit, no cluster, a fast
// worker.
func start(t *testing.T, cfg string) *server {
	t.Helper()
	s := &server{Server: tendapi.Start(t, tendBin, "kubernetes: {disabled: true}\n"+cfg)}
	s.admin = s.AdminClient(t)
	return s
}

// restart starts the server again on its data directory.
func (s *server) restart(t *testing.T) {
	t.Helper()
	s.Restart(t)
	s.admin = s.AdminClient(t)
}

// setup creates the project with service carts and uploads its SLO and
// remediation file.
func (s *server) setup(t *testing.T, remediationFile string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.admin.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: tendapi.Shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.CreateService(ctx, project, "carts"); err != nil {
		t.Fatal(err)
	}
	files := []client.ResourceFile{{URI: "slo.yaml", Content: []byte(tendapi.SLO)}}
	if remediationFile != "" {
		files = append(files, client.ResourceFile{URI: "remediation.yaml", Content: []byte(remediationFile)})
	}
	ref := client.ResourceRef{Project: project, Stage: stage, Service: "carts"}
	if _, err := s.admin.PutResources(ctx, ref, files); err != nil {
		t.Fatal(err)
	}
}

// fire sends Alertmanager's notification of a firing alert of carts.
func (s *server) fire(t *testing.T) {
	t.Helper()
	tendapi.Fire(t, s.admin, project, stage, "carts", "fp-carts")
}

// remediation waits until carts has a remediation and returns it.
func (s *server) remediation(t *testing.T) apitypes.Remediation {
	t.Helper()
	var out apitypes.Remediation
	waitFor(t, s, "a remediation of carts", func() (bool, string) {
		rs, err := s.admin.ListRemediations(context.Background(), client.ProblemFilter{Project: project})
		if err != nil {
			return false, err.Error()
		}
		for _, r := range rs {
			if r.Service == "carts" {
				out = r
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d remediations", len(rs))
	})
	return out
}

// get reads one remediation through GET /api/v1/remediation/{id}.
func (s *server) get(t *testing.T, id string) apitypes.Remediation {
	t.Helper()
	r, err := s.admin.GetRemediation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return *r
}

// event is a stored event as GET /api/v1/event answers it.
type event struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	TriggeredID string `json:"triggeredid"`
	Context     string `json:"shkeptncontext"`
	Data        struct {
		Project string `json:"project"`
		Stage   string `json:"stage"`
		Service string `json:"service"`
		Status  string `json:"status"`
		Result  string `json:"result"`
		Message string `json:"message"`
		Action  struct {
			Name   string `json:"name"`
			Action string `json:"action"`
		} `json:"action"`
	} `json:"data"`
}

// events returns every event of a keptn context (of type typ when not
// empty), oldest first.
func (s *server) events(t *testing.T, keptnContext, typ string) []event {
	t.Helper()
	var out []event
	for raw, err := range s.admin.Events(context.Background(), client.EventFilter{Project: project, KeptnContext: keptnContext, Type: typ, PageSize: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("decode event %s: %v", raw, err)
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func eventTypes(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s", e.Type, e.Data.Status, e.Data.Message)
	}
	return b.String()
}

// cli runs the built tend binary as a user would, with the server and
// token in the environment and a credentials file of its own.
func (s *server) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, tendBin, args...)
	cmd.Env = append(os.Environ(), "TEND_ENDPOINT="+s.URL, "TEND_API_TOKEN="+s.Admin,
		"TEND_CONFIG="+filepath.Join(t.TempDir(), "cli.json"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("tend %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// checkCLI checks that `tend get remediations` lists r escalated and that
// `tend get remediation ID` shows the reason.
func (s *server) checkCLI(t *testing.T, r apitypes.Remediation) {
	t.Helper()
	list := s.cli(t, "get", "remediations", "--project", project)
	found := false
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == r.ID {
			found = true
			if f[1] != "escalated" {
				t.Errorf("tend get remediations shows %s as %s, want escalated:\n%s", r.ID, f[1], list)
			}
		}
	}
	if !found {
		t.Errorf("tend get remediations does not list %s:\n%s", r.ID, list)
	}
	one := s.cli(t, "get", "remediation", r.ID)
	if !strings.Contains(one, "escalated") || !strings.Contains(strings.Join(strings.Fields(one), " "), r.Reason) {
		t.Errorf("tend get remediation %s does not show it escalated with the reason %q:\n%s", r.ID, r.Reason, one)
	}
}

// waitFor polls cond until it holds, failing with its last word and the
// server's stderr after waitLimit.
func waitFor(t *testing.T, s *server, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, waitLimit, 100*time.Millisecond, what, func() (bool, string) {
		ok, last := cond()
		if ok {
			return true, ""
		}
		return false, last + "\nserver stderr:\n" + s.Stderr.String()
	})
}

// closedAddress returns a loopback address nothing listens on: a port
// the kernel handed out and that was closed again.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestMonitoringOutage is issue 12 point 8 on the real binary, with
// Prometheus configured at a closed port: (a) a quality gate fails
// closed: result fail, status errored, "monitoring unavailable"; (b) a
// remediation whose first action (done by an external executor) is
// verified during the outage tries the verification again, then
// escalates with the outage as its reason; the second action is never
// triggered. Before, the verification failed and the loop went on with
// the second action's action.triggered.
func TestMonitoringOutage(t *testing.T) {
	const attempts = 3
	s := start(t, fmt.Sprintf(`remediation:
  settling: 1s
  externalTimeout: 10m
  limits: {cooldown: 0, maxActionsPerHour: 0}
  outage: {backoff: 200ms, maxBackoff: 400ms, attempts: %d}
worker: {pollInterval: 100ms}
`, attempts))
	s.setup(t, `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Restart, action: restart-pod, value: carts}
        - {name: Drain, action: drain-node, value: node-1}
`)
	ctx := context.Background()
	if _, err := s.admin.PutMonitoring(ctx, project, apitypes.MonitoringConfig{Provider: "prometheus", URL: "http://" + closedAddress(t)}); err != nil {
		t.Fatal(err)
	}

	t.Run("a quality gate fails closed", func(t *testing.T) {
		kc, err := s.admin.TriggerEvaluation(ctx, project, stage, "carts", apitypes.TriggerEvaluationRequest{Timeframe: "5m"})
		if err != nil {
			t.Fatal(err)
		}
		var fin []event
		waitFor(t, s, "the evaluation.finished", func() (bool, string) {
			fin = s.events(t, kc, typeEvaluationFinished)
			return len(fin) > 0, eventTypes(s.events(t, kc, ""))
		})
		d := fin[0].Data
		if d.Result != "fail" || d.Status != "errored" || !strings.HasPrefix(d.Message, "monitoring unavailable") {
			t.Errorf("evaluation.finished: result %q, status %q, message %q; want fail, errored, starting \"monitoring unavailable\"", d.Result, d.Status, d.Message)
		}
	})

	t.Run("a remediation escalates for the outage without the next action", func(t *testing.T) {
		tok, err := s.admin.CreateToken(ctx, apitypes.CreateTokenRequest{Name: "executor", Scope: "write", Project: project})
		if err != nil {
			t.Fatal(err)
		}
		executor := s.Client(t, tok.Token)
		s.fire(t)
		rem := s.remediation(t)

		// The executor sees the first action.triggered and answers it.
		var trig event
		waitFor(t, s, "the first action.triggered", func() (bool, string) {
			evs := s.events(t, rem.KeptnContext, typeActionTriggered)
			if len(evs) == 0 {
				return false, eventTypes(s.events(t, rem.KeptnContext, ""))
			}
			trig = evs[0]
			return true, ""
		})
		if trig.Data.Action.Action != "restart-pod" {
			t.Fatalf("the first action.triggered is for %q, want restart-pod", trig.Data.Action.Action)
		}
		for _, phase := range []string{"started", "finished"} {
			ev, _ := json.Marshal(map[string]any{
				"specversion": "1.0", "id": "executor-" + phase, "source": "pod-restarter", "type": "sh.keptn.event.action." + phase,
				"shkeptncontext": trig.Context, "triggeredid": trig.ID,
				"data": map[string]any{"project": project, "stage": stage, "service": "carts", "status": "succeeded", "result": "pass", "message": "restarted 3 pods"},
			})
			if _, err := executor.SendEvent(ctx, ev); err != nil {
				t.Fatalf("answer action.%s: %v", phase, err)
			}
		}

		// Wait until it ended; a second action.triggered (the behaviour
		// before issue 12) ends the wait too, and fails below.
		var got apitypes.Remediation
		waitFor(t, s, "the remediation to end", func() (bool, string) {
			got = s.get(t, rem.ID)
			n := len(s.events(t, rem.KeptnContext, typeActionTriggered))
			return !got.Running || n > 1, fmt.Sprintf("state %s, %d action.triggered", got.State, n)
		})

		evs := s.events(t, rem.KeptnContext, "")
		var triggered, evalFinished, remFinished []event
		for _, e := range evs {
			switch e.Type {
			case typeActionTriggered:
				triggered = append(triggered, e)
			case typeEvaluationFinished:
				evalFinished = append(evalFinished, e)
			case typeRemediationFinished:
				remFinished = append(remFinished, e)
			}
		}
		if len(triggered) != 1 {
			t.Fatalf("%d action.triggered events, want 1: the loop went on to the next action over an outage; events:%s", len(triggered), eventTypes(evs))
		}
		if got.State != "escalated" || !strings.HasPrefix(got.Reason, "monitoring unavailable: the evaluation after action 1") ||
			!strings.Contains(got.Reason, fmt.Sprintf("%d attempt(s)", attempts)) || !strings.Contains(got.Reason, "no further action was taken") {
			t.Errorf("state %s, reason %q; want escalated for the outage after %d attempts", got.State, got.Reason, attempts)
		}
		if len(got.Actions) != 2 || got.Actions[0].State != "finished" || got.Actions[1].State != "" {
			t.Errorf("actions %+v; want the first finished by the executor, the second never reached", got.Actions)
		}
		if len(got.Evaluations) != 1 || got.Evaluations[0].State != "errored" || got.Evaluations[0].Result != "fail" {
			t.Errorf("evaluations %+v; want one, errored with result fail", got.Evaluations)
		}
		if len(evalFinished) != 1 {
			t.Fatalf("%d evaluation.finished events, want 1 (retries are not new evaluations); events:%s", len(evalFinished), eventTypes(evs))
		}
		if d := evalFinished[0].Data; d.Status != "errored" || d.Result != "fail" ||
			!strings.Contains(d.Message, "monitoring unavailable") || !strings.Contains(d.Message, fmt.Sprintf("attempt %d", attempts)) {
			t.Errorf("evaluation.finished: status %q, result %q, message %q; want errored, fail, the outage on attempt %d", d.Status, d.Result, d.Message, attempts)
		}
		if len(remFinished) != 1 || remFinished[0].Data.Result != "fail" || remFinished[0].Data.Message != got.Reason {
			t.Errorf("remediation.finished %+v; want one, result fail, the reason as message", remFinished)
		}
		// Nothing offers the second action later either.
		for _, raw := range mustTriggered(t, executor) {
			if strings.Contains(string(raw), "drain-node") {
				t.Errorf("the second action is offered to executors: %s", raw)
			}
		}
		s.checkCLI(t, got)
	})
}

// mustTriggered lists the open action.triggered events of the project on
// Keptn's polling route.
func mustTriggered(t *testing.T, c *client.Client) []json.RawMessage {
	t.Helper()
	evs, err := c.TriggeredEvents(context.Background(), typeActionTriggered, client.TriggeredFilter{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// hangingTarget is an HTTP scale target whose every request hangs until
// the caller goes away: a scaling action's step never finishes while the
// server that runs it lives.
type hangingTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	gets int
	puts int
	seen chan struct{} // gets a value on every request
}

func newHangingTarget(t *testing.T) *hangingTarget {
	h := &hangingTarget{seen: make(chan struct{}, 16)}
	done := make(chan struct{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/scale" {
			http.NotFound(w, r)
			return
		}
		h.mu.Lock()
		if r.Method == http.MethodPut {
			h.puts++
		} else {
			h.gets++
		}
		h.mu.Unlock()
		h.seen <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-done:
		}
		http.Error(w, "never answered", http.StatusServiceUnavailable)
	}))
	t.Cleanup(func() {
		close(done)
		h.srv.Close()
	})
	return h
}

func (h *hangingTarget) counts() (gets, puts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets, h.puts
}

// TestWatchdogEscalatesAStuckRemediation is issue 12 point 9 on the real
// binary: a scaling step whose scale target never answers dies with its
// server (kill -9) on each of its remediation.stepAttempts (2) attempts,
// so its job fails with no one left to move the remediation on. The
// watchdog escalates it with the failed step, its job and its last error;
// the API and the CLI show it escalated. Before, it stayed preparing for
// ever.
//
// A target answering 500 would not do: 5xx is retried as a failure of the
// action (five tries), after which the action fails and the loop moves
// on, so the step's job itself never fails.
func TestWatchdogEscalatesAStuckRemediation(t *testing.T) {
	const stepAttempts = 2
	s := start(t, fmt.Sprintf(`remediation:
  settling: 1s
  limits: {cooldown: 0, maxActionsPerHour: 0}
  stepAttempts: %d
  watchdog: 1s
worker: {lease: 1s, pollInterval: 100ms}
`, stepAttempts))
	s.setup(t, `apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata: {name: carts}
spec:
  remediations:
    - problemType: response_time_p90
      actionsOnOpen:
        - {name: Scale up, action: scaling, value: "+1"}
`)
	target := newHangingTarget(t)
	ctx := context.Background()
	if _, err := s.admin.PutSetting(ctx, project, "kubernetes", apitypes.KubernetesConfig{ScaleURL: target.srv.URL + "/scale", Service: "carts"}); err != nil {
		t.Fatal(err)
	}
	s.fire(t)
	rem := s.remediation(t)

	// Each attempt of the prepare step reads the target and hangs; the
	// server dies under it. The lease runs out and the next server takes
	// the job over, until its attempts are used up.
	for i := range stepAttempts {
		select {
		case <-target.seen:
		case <-time.After(waitLimit):
			gets, puts := target.counts()
			t.Fatalf("attempt %d never reached the scale target (%d GETs, %d PUTs); remediation %+v\nstderr:\n%s", i+1, gets, puts, s.get(t, rem.ID), s.Stderr)
		}
		s.Kill()
		s.restart(t)
	}

	var got apitypes.Remediation
	waitFor(t, s, "the watchdog to escalate the remediation", func() (bool, string) {
		got = s.get(t, rem.ID)
		return !got.Running, fmt.Sprintf("state %s, reason %q", got.State, got.Reason)
	})
	if got.State != "escalated" {
		t.Fatalf("state %s, reason %q; want escalated", got.State, got.Reason)
	}
	for _, want := range []string{
		"stuck while preparing", "its prepare step (job ", fmt.Sprintf("failed after %d attempt(s)", stepAttempts),
		"last error: lease expired on the last attempt",
	} {
		if !strings.Contains(got.Reason, want) {
			t.Errorf("reason %q does not say %q: it must name the stuck step, its job and its last error", got.Reason, want)
		}
	}
	if gets, puts := target.counts(); gets != stepAttempts || puts != 0 {
		t.Errorf("the scale target got %d GETs and %d PUTs; want %d GETs (one per attempt) and no PUT", gets, puts, stepAttempts)
	}
	if len(got.Actions) != 1 || got.Actions[0].State != "failed" || got.Actions[0].Error != got.Reason {
		t.Errorf("actions %+v; want the scaling action failed with the reason", got.Actions)
	}

	evs := s.events(t, rem.KeptnContext, "")
	n := len(evs)
	if n < 2 || evs[n-2].Type != typeActionFinished || evs[n-2].Data.Status != "errored" ||
		evs[n-1].Type != typeRemediationFinished || evs[n-1].Data.Message != got.Reason {
		t.Errorf("the story does not end with action.finished (errored) and remediation.finished with the reason:%s", eventTypes(evs))
	}
	if running, err := s.admin.ListRemediations(ctx, client.ProblemFilter{Project: project, Running: true}); err != nil || len(running) != 0 {
		t.Errorf("running remediations after the watchdog: %+v, %v; want none", running, err)
	}
	s.checkCLI(t, got)
}
