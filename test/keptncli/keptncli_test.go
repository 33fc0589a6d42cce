// Package keptncli drives the real keptn CLI 1.4.5 against `tend serve` and
// checks, through tend's own API, that every verb stored what it should.
// The CLI is a test component (testenv.KeptnCLI, built by
// scripts/keptn-cli.sh); without it the test skips, or fails with CI=true.
package keptncli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendapi"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

const shipyard = `apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-sockshop
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
    - name: production
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deployment
`

const sloV1 = `spec_version: "1.0"
comparison:
  compare_with: "single_result"
  aggregate_function: avg
objectives:
  - sli: response_time_p90
    pass:
      - criteria:
          - "<1000"
total_score:
  pass: "90%"
  warning: "75%"
`

// keptn runs the CLI with its own HOME, so its config and credentials stay
// in the test's folder.
type keptn struct {
	bin, home string
}

func (k keptn) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.try(args...)
	if err != nil {
		t.Fatalf("keptn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k keptn) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+k.home, "KUBECONFIG="+filepath.Join(k.home, "no-kubeconfig"))
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

var contextRE = regexp.MustCompile(`ID of Keptn context: ([0-9a-f-]{36})`)

func keptnContext(t *testing.T, out string) string {
	t.Helper()
	m := contextRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no Keptn context in the CLI's output:\n%s", out)
	}
	return m[1]
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newKeptn returns the CLI bin with its HOME in dir, set up to work
// offline: no version check against get.keptn.sh, no kubeconfig.
func newKeptn(t *testing.T, bin, dir string) keptn {
	t.Helper()
	k := keptn{bin: bin, home: filepath.Join(dir, "home")}
	if err := os.MkdirAll(k.home, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _ = k.try("set", "config", "AutomaticVersionCheck", "false")
	_, _ = k.try("set", "config", "KubeContextCheck", "false")
	return k
}

func TestKeptnCLI(t *testing.T) {
	bin := testenv.KeptnCLIPath(t)
	// The upstream of `keptn update project` is a bare repository on this
	// machine, which the outbound policy allows only when told to.
	srv := tendapi.Start(t, tendproc.Build(t, "tend-keptncli-test-"), "outbound:\n  allowFileUpstreams: true\n")
	token := srv.Admin
	c := srv.AdminClient(t)
	ctx := context.Background()
	dir := t.TempDir()
	k := newKeptn(t, bin, dir)

	t.Run("auth", func(t *testing.T) {
		if out, err := k.try("auth", "--endpoint", srv.URL, "--api-token", "tend_wrong-token-0123456789abcdef"); err == nil {
			t.Fatalf("auth with a wrong token succeeded:\n%s", out)
		}
		out := k.run(t, "auth", "--endpoint", srv.URL, "--api-token", token)
		if !strings.Contains(out, "Successfully authenticated") || !strings.Contains(out, srv.URL+"/bridge") {
			t.Errorf("auth output:\n%s", out)
		}
	})

	sy := writeFile(t, dir, "shipyard.yaml", shipyard)
	t.Run("create project", func(t *testing.T) {
		k.run(t, "create", "project", "sockshop", "--shipyard", sy)
		p, err := c.GetProject(ctx, "sockshop")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Stages) != 2 || p.Stages[0].StageName != "dev" || p.ShipyardVersion != "spec.keptn.sh/0.2.2" {
			t.Errorf("stored project: %+v", p)
		}
		// With upstream flags: tend reports automaticprovisioning, so the
		// CLI sends no credentials (as against Keptn with automatic
		// provisioning) and the project has no upstream until update
		// project sets one.
		k.run(t, "create", "project", "podtato", "--shipyard", sy,
			"--git-remote-url", "https://git.example/podtato.git", "--git-user", "me", "--git-token", "not-sent")
		p, err = c.GetProject(ctx, "podtato")
		if err != nil {
			t.Fatal(err)
		}
		if p.GitRemoteURL != "" || len(p.Stages) != 2 {
			t.Errorf("project created with upstream flags: %+v", p)
		}
	})

	t.Run("update project", func(t *testing.T) {
		bare := filepath.Join(dir, "upstream.git")
		if out, err := exec.Command("git", "init", "--bare", "--quiet", bare).CombinedOutput(); err != nil {
			t.Skipf("git is needed for a local upstream: %v %s", err, out)
		}
		k.run(t, "update", "project", "podtato", "--git-remote-url", "file://"+bare, "--git-user", "me", "--git-token", "unused")
		p, err := c.GetProject(ctx, "podtato")
		if err != nil {
			t.Fatal(err)
		}
		if p.GitRemoteURL != "file://"+bare || p.GitUser != "me" {
			t.Errorf("upstream after update: %q user %q", p.GitRemoteURL, p.GitUser)
		}
		out, err := exec.Command("git", "-C", bare, "branch", "--list").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "dev") || !strings.Contains(string(out), "production") {
			t.Errorf("upstream branches: %v\n%s", err, out)
		}
		// An unreachable upstream is refused and the old one stays.
		if out, err := k.try("update", "project", "podtato", "--git-remote-url", "file://"+filepath.Join(dir, "missing.git"), "--git-user", "me", "--git-token", "x"); err == nil {
			t.Errorf("update to a missing upstream succeeded:\n%s", out)
		}
		if p, _ := c.GetProject(ctx, "podtato"); p == nil || p.GitRemoteURL != "file://"+bare {
			t.Errorf("upstream after a refused update: %+v", p)
		}
	})

	t.Run("create service", func(t *testing.T) {
		k.run(t, "create", "service", "carts", "--project", "sockshop")
		if _, err := c.GetService(ctx, "sockshop", "carts"); err != nil {
			t.Fatal(err)
		}
		if out, err := k.try("create", "service", "Carts", "--project", "sockshop"); err == nil {
			t.Errorf("an upper-case service name was accepted:\n%s", out)
		}
	})

	slo := writeFile(t, dir, "slo.yaml", sloV1)
	notes := writeFile(t, dir, "notes.txt", "hello\n")
	t.Run("add-resource", func(t *testing.T) {
		k.run(t, "add-resource", "--project", "sockshop", "--resource", notes, "--resourceUri", "notes.txt")
		k.run(t, "add-resource", "--project", "sockshop", "--stage", "dev", "--resource", notes, "--resourceUri", "stage-notes.txt")
		k.run(t, "add-resource", "--project", "sockshop", "--stage", "dev", "--service", "carts", "--resource", slo, "--resourceUri", "slo.yaml")
		k.run(t, "add-resource", "--project", "sockshop", "--service", "carts", "--all-stages", "--resource", notes, "--resourceUri", "all.txt")
		for _, want := range []struct {
			ref client.ResourceRef
			uri string
		}{
			{client.ResourceRef{Project: "sockshop"}, "notes.txt"},
			{client.ResourceRef{Project: "sockshop", Stage: "dev"}, "stage-notes.txt"},
			{client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "slo.yaml"},
			{client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "all.txt"},
			{client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}, "all.txt"},
		} {
			if _, err := c.GetResource(ctx, want.ref, want.uri, ""); err != nil {
				t.Errorf("%+v %s: %v", want.ref, want.uri, err)
			}
		}
	})

	t.Run("add-resource of Keptn's carts chart", func(t *testing.T) {
		// Keptn 0.8+'s onboarding: create service, then the chart as
		// helm/<service>.tgz in every stage. The archive's entries start
		// with "./"; tend stores it byte for byte and it loads as a chart.
		tgz := filepath.Join(testenv.KeptnExamples(t), "examples", "0.11.0", "onboarding-carts", "carts.tgz")
		want, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		k.run(t, "add-resource", "--project", "sockshop", "--service", "carts", "--all-stages", "--resource", tgz, "--resourceUri", "helm/carts.tgz")
		for _, st := range []string{"dev", "production"} {
			rf, err := c.GetResource(ctx, client.ResourceRef{Project: "sockshop", Stage: st, Service: "carts"}, "helm/carts.tgz", "")
			if err != nil {
				t.Fatalf("stage %s: %v", st, err)
			}
			if !bytes.Equal(rf.Content, want) {
				t.Errorf("stage %s: the stored chart differs from carts.tgz", st)
			}
			ch, err := chart.Load(rf.Content)
			if err != nil || ch.Name() != "carts" {
				t.Errorf("stage %s: the stored chart does not load as carts: %v", st, err)
			}
		}
		// A broken chart is refused with the server's reason.
		bad := writeFile(t, dir, "broken.tgz", "not a chart")
		out, err := k.try("add-resource", "--project", "sockshop", "--stage", "dev", "--service", "carts", "--resource", bad, "--resourceUri", "helm/carts.tgz")
		if err == nil || !strings.Contains(out, "not a Helm chart archive") {
			t.Errorf("a broken chart: %v\n%s", err, out)
		}
		if rf, err := c.GetResource(ctx, client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "helm/carts.tgz", ""); err != nil || !bytes.Equal(rf.Content, want) {
			t.Errorf("the refused write changed the stored chart: %v", err)
		}
	})

	t.Run("get projects, project, stages, services", func(t *testing.T) {
		if out := k.run(t, "get", "projects"); !strings.Contains(out, "sockshop") || !strings.Contains(out, "podtato") {
			t.Errorf("get projects:\n%s", out)
		}
		out := k.run(t, "get", "project", "sockshop", "-o", "json")
		var p struct {
			ProjectName  string `json:"projectName"`
			CreationDate string `json:"creationDate"`
			Stages       []struct {
				StageName string `json:"stageName"`
				Services  []struct {
					ServiceName string `json:"serviceName"`
				} `json:"services"`
			} `json:"stages"`
		}
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &p); err != nil {
			t.Fatalf("get project -o json: %v\n%s", err, out)
		}
		if p.ProjectName != "sockshop" || len(p.Stages) != 2 || len(p.Stages[1].Services) != 1 || p.Stages[1].Services[0].ServiceName != "carts" {
			t.Errorf("get project: %+v", p)
		}
		stored, _ := c.GetProject(ctx, "sockshop")
		if stored == nil || p.CreationDate != fmt.Sprint(stored.CreationDate.UnixNano()) {
			t.Errorf("creationDate %q, stored %v", p.CreationDate, stored)
		}
		if out := k.run(t, "get", "stages", "--project", "sockshop"); !strings.Contains(out, "dev") || !strings.Contains(out, "production") {
			t.Errorf("get stages:\n%s", out)
		}
		if out := k.run(t, "get", "services", "--project", "sockshop"); strings.Count(out, "carts") != 2 {
			t.Errorf("get services (carts in both stages):\n%s", out)
		}
	})

	var evalContexts []string
	t.Run("trigger evaluation", func(t *testing.T) {
		out := k.run(t, "trigger", "evaluation", "--project", "sockshop", "--stage", "dev", "--service", "carts", "--timeframe", "5m")
		evalContexts = append(evalContexts, keptnContext(t, out))
		out = k.run(t, "trigger", "evaluation", "--project", "sockshop", "--stage", "dev", "--service", "carts",
			"--start", "2024-01-01T10:00:00", "--end", "2024-01-01T10:05:00")
		evalContexts = append(evalContexts, keptnContext(t, out))
		slo, err := c.GetResource(ctx, client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "slo.yaml", "")
		if err != nil {
			t.Fatal(err)
		}
		out = k.run(t, "trigger", "evaluation", "--project", "sockshop", "--stage", "dev", "--service", "carts", "--timeframe", "5m", "--git-commit-id", slo.Version)
		evalContexts = append(evalContexts, keptnContext(t, out))
		windows := []func(start, end time.Time) bool{
			func(s, e time.Time) bool { return e.Sub(s) == 5*time.Minute },
			func(s, e time.Time) bool {
				return s.Equal(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)) && e.Equal(time.Date(2024, 1, 1, 10, 5, 0, 0, time.UTC))
			},
			func(s, e time.Time) bool { return e.Sub(s) == 5*time.Minute },
		}
		for i, kc := range evalContexts {
			ev := waitEvent(t, c, kc, "sh.keptn.event.evaluation.finished")
			var fin struct {
				GitCommitID string `json:"gitcommitid"`
				Data        struct {
					Evaluation struct {
						TimeStart time.Time `json:"timeStart"`
						TimeEnd   time.Time `json:"timeEnd"`
						GitCommit string    `json:"gitCommit"`
					} `json:"evaluation"`
				} `json:"data"`
			}
			if err := json.Unmarshal(ev, &fin); err != nil {
				t.Fatal(err)
			}
			if !windows[i](fin.Data.Evaluation.TimeStart, fin.Data.Evaluation.TimeEnd) {
				t.Errorf("evaluation %d window %v..%v", i, fin.Data.Evaluation.TimeStart, fin.Data.Evaluation.TimeEnd)
			}
			if i == 2 && (fin.GitCommitID != slo.Version || fin.Data.Evaluation.GitCommit != slo.Version) {
				t.Errorf("--git-commit-id %s: evaluation.finished has gitcommitid %q, evaluation.gitCommit %q", slo.Version, fin.GitCommitID, fin.Data.Evaluation.GitCommit)
			}
		}
	})

	t.Run("get event evaluation.finished --keptn-context", func(t *testing.T) {
		if len(evalContexts) == 0 {
			t.Skip("no evaluation was triggered")
		}
		out := k.run(t, "get", "event", "evaluation.finished", "--keptn-context", evalContexts[0])
		if !strings.Contains(out, evalContexts[0]) || !strings.Contains(out, "sh.keptn.event.evaluation.finished") {
			t.Errorf("get event:\n%s", out)
		}
	})

	t.Run("send event --file", func(t *testing.T) {
		ev := writeFile(t, dir, "event.json", `{"type":"sh.keptn.event.dev.delivery.triggered","specversion":"1.0","source":"keptn-cli-test",`+
			`"data":{"project":"sockshop","stage":"dev","service":"carts","configurationChange":{"values":{"image":"ghcr.io/podtato/carts:0.1.0"}}}}`)
		kc := keptnContext(t, k.run(t, "send", "event", "--file", ev))
		stored := waitEvent(t, c, kc, "sh.keptn.event.dev.delivery.triggered")
		var e struct {
			Source string    `json:"source"`
			Time   time.Time `json:"time"`
		}
		_ = json.Unmarshal(stored, &e)
		if e.Source != "keptn-cli-test" || time.Since(e.Time) > time.Hour {
			t.Errorf("stored event: %s", stored)
		}
	})

	t.Run("trigger delivery", func(t *testing.T) {
		out := k.run(t, "trigger", "delivery", "--project", "sockshop", "--service", "carts", "--image", "ghcr.io/podtato/carts:0.1.1")
		stored := waitEvent(t, c, keptnContext(t, out), "sh.keptn.event.dev.delivery.triggered")
		var e struct {
			Time time.Time `json:"time"`
			Data struct {
				Stage               string `json:"stage"`
				ConfigurationChange struct {
					Values map[string]any `json:"values"`
				} `json:"configurationChange"`
			} `json:"data"`
		}
		_ = json.Unmarshal(stored, &e)
		if e.Data.Stage != "dev" || e.Data.ConfigurationChange.Values["image"] != "ghcr.io/podtato/carts:0.1.1" {
			t.Errorf("stored delivery: %s", stored)
		}
		// The CLI sends the zero time; tend stamps its own.
		if e.Time.Year() < 2000 {
			t.Errorf("delivery event time %v: the zero time was kept", e.Time)
		}
	})

	t.Run("get event --watch shows each event once", func(t *testing.T) {
		out := k.run(t, "get", "event", "sh.keptn.event.evaluation.finished", "--project", "sockshop", "--watch", "--watch-time", "12")
		ids := map[string]int{}
		for _, m := range regexp.MustCompile(`"id":\s*"([^"]+)"`).FindAllStringSubmatch(out, -1) {
			ids[m[1]]++
		}
		list, err := c.ListEvents(ctx, client.EventFilter{Project: "sockshop", Type: "sh.keptn.event.evaluation.finished", PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(list.Events) || len(ids) < len(evalContexts) {
			t.Errorf("watch showed %d events, tend has %d:\n%s", len(ids), len(list.Events), out)
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("event %s shown %d times", id, n)
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		k.run(t, "create", "secret", "slack", "--from-literal=url=https://hooks.example/secret-path", "--scope", "keptn-webhook-service")
		status, body, err := c.Raw(ctx, "GET", "/api/secrets/v1/secret", nil, nil)
		if err != nil || status != 200 {
			t.Fatalf("list secrets: %d %v", status, err)
		}
		var list apitypes.KeptnSecretList
		_ = json.Unmarshal(body, &list)
		if len(list.Secrets) != 1 || list.Secrets[0].Name != "slack" || list.Secrets[0].Scope != "keptn-webhook-service" || fmt.Sprint(list.Secrets[0].Keys) != "[url]" {
			t.Errorf("stored secrets: %s", body)
		}
		if strings.Contains(string(body), "secret-path") {
			t.Errorf("the secret's value is in the answer: %s", body)
		}
		out := k.run(t, "get", "secret")
		if !strings.Contains(out, "slack") || strings.Contains(out, "secret-path") {
			t.Errorf("get secret:\n%s", out)
		}
		k.run(t, "delete", "secret", "slack", "--scope", "keptn-webhook-service")
		_, body, _ = c.Raw(ctx, "GET", "/api/secrets/v1/secret", nil, nil)
		if strings.Contains(string(body), "slack") {
			t.Errorf("secret still listed after delete: %s", body)
		}
	})

	t.Run("delete service and project", func(t *testing.T) {
		k.run(t, "delete", "service", "carts", "--project", "sockshop")
		if _, err := c.GetService(ctx, "sockshop", "carts"); err == nil {
			t.Error("service still stored after delete service")
		}
		k.run(t, "delete", "project", "sockshop")
		if _, err := c.GetProject(ctx, "sockshop"); err == nil {
			t.Error("project still stored after delete project")
		}
	})
}

// waitEvent waits for an event of a type in a Keptn context and returns it.
func waitEvent(t *testing.T, c *client.Client, keptnContext, typ string) json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := c.ListEvents(context.Background(), client.EventFilter{KeptnContext: keptnContext, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Events) > 0 {
			return list.Events[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event in context %s within a minute", typ, keptnContext)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
