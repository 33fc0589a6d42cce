package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
)

// startTend runs a real tend server in process (SQLite and Git in a
// temporary directory, a port picked at run time), points the CLI's
// config at it with the admin token, and returns a client of it.
func startTend(t *testing.T) *client.Client {
	t.Helper()
	dataDir := t.TempDir()
	a, err := app.New(context.Background(), app.Options{Listen: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		t.Fatalf("start the server: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
	})
	useConfig(t, "")
	if r := runTend(t, "", "auth", "--endpoint", a.URL(), "--api-token", "file:"+filepath.Join(dataDir, app.AdminTokenFile)); r.code != ExitOK {
		t.Fatalf("auth: %d %s", r.code, r.stderr)
	}
	c, err := client.New(a.URL(), a.AdminToken())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOnboardKeptnCharts onboards Keptn's carts and carts-db charts as
// the examples ship them (0.11.0's archives with "./" entries, 0.6.1's
// folders) through the CLI against a real server, and reads what was
// stored back through the API.
func TestOnboardKeptnCharts(t *testing.T) {
	examples := testenv.KeptnExamples(t)
	c := startTend(t)
	ctx := context.Background()
	shipyard, _ := exampleFile(t, "shipyard.yaml")
	stages := []string{"staging", "production"}

	run := func(t *testing.T, want int, args ...string) result {
		t.Helper()
		r := runTend(t, "", args...)
		if r.code != want {
			t.Fatalf("tend %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	// stored reads the chart of service in stage and checks it loads.
	stored := func(t *testing.T, project, stage, service string) []byte {
		t.Helper()
		rf, err := c.GetResource(ctx, client.ResourceRef{Project: project, Stage: stage, Service: service}, chart.ResourceURI(service), "")
		if err != nil {
			t.Fatalf("read the chart of %s in %s: %v", service, stage, err)
		}
		if _, err := chart.Load(rf.Content); err != nil {
			t.Fatalf("the stored chart of %s in %s does not load: %v", service, stage, err)
		}
		return rf.Content
	}

	for _, tc := range []struct {
		name, project, path string
		archive             bool
	}{
		{"0.11.0 carts.tgz", "sockshop", "examples/0.11.0/onboarding-carts/carts.tgz", true},
		{"0.11.0 carts-db.tgz", "sockshop", "examples/0.11.0/onboarding-carts/carts-db.tgz", true},
		{"0.6.1 carts", "legacy", "examples/0.6.1/onboarding-carts/carts", false},
		{"0.6.1 carts-db", "legacy", "examples/0.6.1/onboarding-carts/carts-db", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := runTend(t, "", "get", "project", tc.project); r.code != ExitOK {
				run(t, ExitOK, "create", "project", tc.project, "--shipyard", shipyard)
			}
			service := strings.TrimSuffix(filepath.Base(tc.path), ".tgz")
			p := filepath.Join(examples, tc.path)
			r := run(t, ExitOK, "onboard", "service", service, "--project", tc.project, "--chart", p, "--deployment_strategy", "blue_green_service")
			if !strings.Contains(r.stdout, "Service "+service+" created in project "+tc.project+"\n") {
				t.Errorf("stdout:\n%s", r.stdout)
			}
			for _, st := range stages {
				if !strings.Contains(r.stdout, "as helm/"+service+".tgz to stage "+st+": commit ") {
					t.Errorf("stdout lacks stage %s:\n%s", st, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, "--deployment_strategy blue_green_service is ignored") || !strings.Contains(r.stderr, "Adding chart "+service+" ") {
				t.Errorf("stderr:\n%s", r.stderr)
			}
			for _, st := range stages {
				got := stored(t, tc.project, st, service)
				if tc.archive {
					want, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("stage %s: the stored archive differs from the file (%d bytes, want %d)", st, len(got), len(want))
					}
				}
				ch, err := chart.Load(got)
				if err != nil {
					t.Fatal(err)
				}
				if ch.Name() != service || len(ch.Templates) == 0 {
					t.Errorf("stage %s: stored chart %s with %d templates", st, ch.Name(), len(ch.Templates))
				}
			}
		})
	}

	t.Run("one stage, service exists", func(t *testing.T) {
		run(t, ExitOK, "create", "service", "orders", "--project", "sockshop")
		p := filepath.Join(examples, "examples/0.11.0/onboarding-carts/carts.tgz")
		r := run(t, ExitOK, "onboard", "service", "orders", "--project", "sockshop", "--chart", p, "--stage", "production")
		if !strings.Contains(r.stdout, "Service orders exists in project sockshop\n") || strings.Contains(r.stdout, "staging") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		stored(t, "sockshop", "production", "orders")
		if _, err := c.GetResource(ctx, client.ResourceRef{Project: "sockshop", Stage: "staging", Service: "orders"}, "helm/orders.tgz", ""); !client.IsNotFound(err) {
			t.Errorf("the chart reached staging: %v", err)
		}
		run(t, ExitBadInput, "onboard", "service", "orders", "--project", "sockshop", "--chart", p, "--stage", "nowhere")
	})

	t.Run("a broken chart creates nothing", func(t *testing.T) {
		dir := t.TempDir()
		bad := filepath.Join(dir, "broken.tgz")
		if err := os.WriteFile(bad, []byte("not a chart"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(t, ExitBadInput, "onboard", "service", "broken", "--project", "sockshop", "--chart", bad)
		if !strings.Contains(r.stderr, "--chart "+bad+": chart archive is not gzip-compressed") || !strings.Contains(r.stderr, "service broken was not onboarded") {
			t.Errorf("stderr: %s", r.stderr)
		}
		if _, err := c.GetService(ctx, "sockshop", "broken"); !client.IsNotFound(err) {
			t.Errorf("the service was created: %v", err)
		}
		noChart := filepath.Join(dir, "empty")
		if err := os.Mkdir(noChart, 0o700); err != nil {
			t.Fatal(err)
		}
		r = run(t, ExitBadInput, "onboard", "service", "broken", "--project", "sockshop", "--chart", noChart)
		if !strings.Contains(r.stderr, "Chart.yaml") {
			t.Errorf("a folder without Chart.yaml: %s", r.stderr)
		}
		r = run(t, ExitBadInput, "add-resource", "--project", "sockshop", "--stage", "staging", "--service", "carts", "--resource", bad, "--resourceUri", "helm/carts.tgz")
		if !strings.Contains(r.stderr, "is not a Helm chart archive tend can deploy (helm/carts.tgz)") {
			t.Errorf("add-resource of a broken chart: %s", r.stderr)
		}
		r = run(t, ExitBadInput, "validate", bad, noChart)
		if !strings.Contains(r.stdout, bad+": Helm chart: chart archive is not gzip-compressed") {
			t.Errorf("validate: %s", r.stdout)
		}
		run(t, ExitOK, "validate", filepath.Join(examples, "examples/0.11.0/onboarding-carts/carts.tgz"), filepath.Join(examples, "examples/0.6.1/onboarding-carts/carts"))
	})

	t.Run("add-resource of carts.tgz", func(t *testing.T) {
		p := filepath.Join(examples, "examples/0.11.0/onboarding-carts/carts.tgz")
		run(t, ExitOK, "create", "service", "carts2", "--project", "sockshop")
		run(t, ExitOK, "add-resource", "--project", "sockshop", "--stage", "staging", "--service", "carts2", "--resource", p, "--resourceUri", "helm/carts2.tgz")
		want, _ := os.ReadFile(p)
		if got := stored(t, "sockshop", "staging", "carts2"); !bytes.Equal(got, want) {
			t.Error("add-resource altered the archive")
		}
	})

	t.Run("get services", func(t *testing.T) {
		r := run(t, ExitOK, "get", "services", "--project", "sockshop")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if strings.Join(strings.Fields(lines[0]), " ") != "NAME STAGING PRODUCTION CREATED" || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "carts - - ") {
			t.Errorf("get services:\n%s", r.stdout)
		}
		// A delivery's executor reports what it deployed.
		for i, e := range []string{
			`"type":"sh.keptn.event.deployment.finished","data":{"project":"sockshop","stage":"staging","service":"carts","result":"pass","status":"succeeded","deployment":{"image":"docker.io/keptnexamples/carts:0.11.1"}}`,
			`"type":"sh.keptn.event.release.finished","data":{"project":"sockshop","stage":"production","service":"carts","result":"warning","status":"succeeded","configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.11.0"}}}`,
			`"type":"sh.keptn.event.deployment.finished","data":{"project":"sockshop","stage":"production","service":"carts","result":"fail","status":"succeeded","deployment":{"image":"docker.io/keptnexamples/carts:0.11.2"}}`,
		} {
			run(t, ExitOK, "send", "event", "--file", writeEvent(t, i, e))
		}
		r = run(t, ExitOK, "get", "services", "--project", "sockshop")
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "carts docker.io/keptnexamples/carts:0.11.1 docker.io/keptnexamples/carts:0.11.0 ") {
			t.Errorf("get services after deliveries:\n%s", r.stdout)
		}
		r = run(t, ExitOK, "get", "service", "carts", "--project", "sockshop")
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "production docker.io/keptnexamples/carts:0.11.0 ") {
			t.Errorf("get service:\n%s", r.stdout)
		}
		r = run(t, ExitOK, "get", "services", "--project", "sockshop", "-o", "json")
		var out apitypes.ServiceList
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Services) == 0 || len(out.Services[0].Stages) != 2 {
			t.Errorf("get services -o json: %v\n%s", err, r.stdout)
		}
	})
}

// writeEvent writes a CloudEvent with the given type and data members
// (JSON without braces) to a file and returns its path.
func writeEvent(t *testing.T, n int, members string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "event.json")
	body := `{"specversion":"1.0","source":"helm-service","id":"onboard-test-` + strconv.Itoa(n) + `",` + members + `}`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGetSequencesShowsImagesAndGates(t *testing.T) {
	answer := `{"states":[{"name":"delivery","service":"carts","project":"sockshop","shkeptncontext":"c1","state":"started","time":"2026-12-04T10:00:00Z",
		"stages":[{"name":"staging","sequence":"delivery","image":"carts:0.11.2","state":"finished","result":"pass","latestEvaluation":{"result":"pass","score":95.5}},
		{"name":"production","sequence":"delivery","image":"carts:0.11.2","state":"started","currentTask":"approval","currentTriggeredId":"t1"}]}],"totalCount":1}`
	srv := newFakeServer(t, exchange{method: "GET", path: "/api/controlPlane/v1/sequence/sockshop", query: "pageSize=500", answer: answer})
	useConfig(t, srv.url)
	r := runOnline(t, "", "get", "sequences", "--project", "sockshop")
	wantExit(t, r, ExitOK)
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"KEPTN CONTEXT SERVICE SEQUENCE STAGE IMAGE STATE TASK EVALUATION RESULT TIME",
		"c1 carts delivery staging carts:0.11.2 finished - pass (95.5) pass 2026-12-04T10:00:00Z",
		"c1 carts delivery production carts:0.11.2 started approval (t1) - - 2026-12-04T10:00:00Z",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("get sequences:\n%s", r.stdout)
	}
}
