package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// examplesDir holds the real Keptn files shared by the team's tests.
const examplesDir = "../../../shared/keptn-examples"

// fixedParser returns a Parser whose clock and ids are fixed, so that events
// without id, time or context parse to the same values every run.
func fixedParser(tb testing.TB) Parser {
	tb.Helper()
	n := 0
	return Parser{
		Now: func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) },
		NewID: func() string {
			n++
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
		},
	}
}

func examplesRoot(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv("TEND_KEPTN_EXAMPLES")
	if root == "" {
		root = examplesDir
	}
	if _, err := os.Stat(root); err != nil {
		tb.Skipf("Keptn example files not found at %s (set TEND_KEPTN_EXAMPLES): %v", root, err)
	}
	return root
}

// fixtureWant is what Parse must make of one example file: either an event
// (its type, context and common data) or an error containing wantErr.
type fixtureWant struct {
	typ, ctx                 string
	project, stage, service  string
	wantErr                  string
	list                     bool // an API answer {"events": [...]}: each event must parse
	labels                   map[string]string
	contentType, gitCommitID string
}

// Contexts of the fixtures that carry none are the fixed parser's ids: the
// first id goes to the event's empty id, the second to its context.
const (
	genID1 = "00000000-0000-4000-8000-000000000001"
	genID2 = "00000000-0000-4000-8000-000000000002"
)

const (
	alertmanagerErr = `"specversion" is required: this looks like an Alertmanager webhook message`
	listErr         = `"specversion" is required: this looks like a list of events`
	dtClosedCtx     = "2d363437-3830-4137-b832-353132303331"
	dtOpenCtx       = "39393939-3920-4020-a020-202020202020"
	keptnTestCtx    = "08735340-6f9e-4b32-97ff-3b6c292bc50f"
)

// fixtures lists every JSON file of the examples; TestParseExamples fails
// when a file is missing from it, so a new example cannot go untested.
var fixtures = map[string]fixtureWant{
	"dynatrace-service/0.20.0-next.1/internal/problem/testdata/closed_problem/expected_emitted_ce.json": {
		typ: TypeProblem, ctx: dtClosedCtx, project: "shop", stage: "production", service: "carts",
		labels: map[string]string{"Problem URL": "https://test.com/#problems/problemdetails;pid=-6478017825120311599_1641223491837V2"},
	},
	"dynatrace-service/0.20.0-next.1/internal/problem/testdata/open_problem_with_tags/expected_emitted_ce.json": {
		typ: "sh.keptn.event.production2.remediation.triggered", ctx: dtOpenCtx, project: "shop2", stage: "production2", service: "carts2",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem/expected_emitted_ce.json": {
		typ: TypeProblem, ctx: dtClosedCtx, project: "shop", stage: "production", service: "carts",
	},
	// Dynatrace's own notifications name the project in KeptnProject, not
	// in data.project; resolving that is the intake's job.
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem/received_ce.json": {
		typ: TypeProblem, ctx: dtClosedCtx,
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem_existing_labels/expected_emitted_ce.json": {
		typ: TypeProblem, ctx: dtClosedCtx, project: "shop", stage: "production", service: "carts",
		labels: map[string]string{
			"Problem URL":   "https://test.com/#problems/problemdetails;pid=-6478017825120311599_1641223491837V2",
			"key":           "value",
			"structure_key": `{"key":"value"}`,
		},
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem_existing_labels/received_ce.json": {
		typ: TypeProblem, ctx: dtClosedCtx,
		labels: map[string]string{"key": "value", "structure_key": `{"key":"value"}`},
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem/expected_emitted_ce.json": {
		typ: "sh.keptn.event.production.remediation.triggered", ctx: dtOpenCtx, project: "shop", stage: "production", service: "carts",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem/received_ce.json": {
		typ: TypeProblem, ctx: dtOpenCtx,
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_no_stage/received_ce.json": {
		typ: TypeProblem, ctx: dtOpenCtx,
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_with_tags/expected_emitted_ce.json": {
		typ: "sh.keptn.event.production2.remediation.triggered", ctx: dtOpenCtx, project: "shop2", stage: "production2", service: "carts2",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_with_tags/received_ce.json": {
		typ: TypeProblem, ctx: dtOpenCtx,
	},
	"keptn/0.12.0/remediation-service/handler/test/events/get-action.triggered-0.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice",
	},
	"keptn/0.12.0/remediation-service/test/event.json": {
		typ: TypeGetActionTriggered, ctx: genID2, project: "sockshop", stage: "dev", service: "carts-db",
	},
	"keptn/0.18.0/remediation-service/handler/test/events/get-action.triggered-0.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice", gitCommitID: "1234",
	},
	"keptn/0.18.0/remediation-service/handler/test/events/get-action.triggered-1.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice",
	},
	"keptn/0.18.0/remediation-service/handler/test/events/get-action.triggered-2.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice",
	},
	// Malformed for the remediation service (duplicate key inside data, no
	// project), but a valid CloudEvent: the envelope layer accepts it.
	"keptn/0.18.0/remediation-service/handler/test/events/get-action.triggered-malformed.json": {
		typ: TypeGetActionTriggered, ctx: "f90c939d-8803-4e73-9720-9c969e9d2b46",
	},
	"keptn/0.18.0/remediation-service/test/event.json": {
		typ: TypeGetActionTriggered, ctx: genID2, project: "sockshop", stage: "dev", service: "carts-db", gitCommitID: "1234",
	},
	"keptn/0.8.3/remediation-service/handler/test/events/get-action.triggered-0.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice",
	},
	"keptn/0.8.3/remediation-service/test/event.json": {
		typ: TypeGetActionTriggered, ctx: genID2, project: "sockshop", stage: "dev", service: "carts-db",
	},
	// specversion 0.2 with contenttype and no time or context.
	"keptn/0.8.3/test/assets/07x_evaluation_done_event.json": {
		typ: TypeEvaluationDone, ctx: genID1, project: "legacy-project", stage: "hardening", service: "legacy-service",
	},
	"keptn/0.8.3/test/assets/evaluation_invalidated_event_template.json": {
		wantErr: `"data.project" must be a Keptn name: a lower-case letter, then lower-case letters, digits or '-', not ending in '-'; got "$PROJECT" (an unexpanded template placeholder?)`,
	},
	"keptn/0.8.3/test/assets/evaluation_triggered_event_template.json": {
		wantErr: `"data.stage" must be a Keptn name: a lower-case letter, then lower-case letters, digits or '-', not ending in '-'; got "$STAGE"`,
	},
	// The trailing comma after the last label sits at the end of line 16;
	// the '}' at line 17, column 5 is where JSON breaks.
	"keptn/0.8.3/test/assets/mongodb-datastore_evaluation_triggered_template.json": {
		wantErr: "invalid JSON at line 17, column 5",
	},
	"keptn/0.8.3/test/assets/self_healing_remediation_triggered_event.json": {
		typ: "sh.keptn.event.production.remediation.triggered", ctx: genID1, project: "self-healing-project", stage: "production", service: "frontend",
	},
	"keptn/133710ddf706/remediation-service/example-data/problem-payload.json": {wantErr: alertmanagerErr},
	"keptn/25d223843636/remediation-service/handler/test/events/get-action.triggered-0.json": {
		typ: TypeGetActionTriggered, ctx: keptnTestCtx, project: "myproject", stage: "mystage", service: "myservice",
	},
	"keptn/25d223843636/remediation-service/test/event.json": {
		typ: TypeGetActionTriggered, ctx: genID2, project: "sockshop", stage: "dev", service: "carts-db",
	},
	"keptn/611213d7ec81/test/assets/evaluation_done_event_template.json": {
		wantErr: `"data.stage" must be a Keptn name`,
	},
	"keptn/b7f5b7486bed/test/assets/self_healing_problem_open_event.json": {
		typ: TypeProblemOpen, ctx: genID1, project: "self-healing-project", stage: "production", service: "frontend",
	},
	"keptn/master/bridge/cypress/fixtures/get.events.29355a07-7b65-47fa-896e-06f656283c5d.mock.json":      {wantErr: listErr, list: true},
	"keptn/master/bridge/cypress/fixtures/get.events.cfaadbb1-3c47-46e5-a230-2e312cf1828a.mock.json":      {wantErr: listErr, list: true},
	"keptn/master/bridge/cypress/fixtures/get.events.cfaadbb1-3c47-46e5-a230-d0f055f4f518.mock.json":      {wantErr: listErr, list: true},
	"keptn/master/bridge/cypress/fixtures/get.sockshop.service.carts.evaluation.compared.event.mock.json": {wantErr: listErr, list: true},
	"keptn/master/bridge/cypress/fixtures/get.sockshop.service.carts.evaluations.keysli.mock.json":        {wantErr: listErr, list: true},
	"keptn/master/bridge/cypress/fixtures/sequence.traces.mock.json":                                      {wantErr: listErr, list: true},
	"prometheus-service/0.7.0/trigger_remediation.json": {
		typ: "sh.keptn.event.production.remediation.triggered", ctx: genID1, project: "sockshop", stage: "production", service: "carts",
	},
	"prometheus-service/0.7.2/prometheus_alert.json":              {wantErr: alertmanagerErr},
	"prometheus-service/0.8.5/test/events/prometheus-firing.json": {wantErr: alertmanagerErr},
	"prometheus-service/0.8.6/prometheus_alert.json":              {wantErr: alertmanagerErr},
}

// goldenFixtures are the examples whose parsed and re-marshalled form is
// kept in testdata/golden: one of each kind of conversion.
var goldenFixtures = []string{
	"keptn/b7f5b7486bed/test/assets/self_healing_problem_open_event.json",                                // 0.2 -> 1.0
	"keptn/0.18.0/remediation-service/test/event.json",                                                   // empty id, time and context
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem/received_ce.json",                   // extension, nested data
	"prometheus-service/0.7.0/trigger_remediation.json",                                                  // contenttype on 1.0
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_with_tags/expected_emitted_ce.json", // empty id, no time
}

func TestParseExamples(t *testing.T) {
	root := examplesRoot(t)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if len(files) == 0 {
		t.Fatalf("no JSON files under %s", root)
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			want, ok := fixtures[rel]
			if !ok {
				t.Fatalf("%s has no entry in the fixtures table; add what Parse must make of it", rel)
			}
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			e, err := fixedParser(t).Parse(data)
			if want.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse accepted %s; want an error containing %q", rel, want.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v does not match ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), want.wantErr) {
					t.Errorf("error\n  %v\nwant it to contain\n  %s", err, want.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				checkFixtureEvent(t, e, want)
				checkRoundTrip(t, e)
			}
			if want.list {
				parseList(t, data)
			}
		})
	}
	t.Run("table has no stale entries", func(t *testing.T) {
		have := make(map[string]bool, len(files))
		for _, f := range files {
			have[f] = true
		}
		for rel := range fixtures {
			if !have[rel] {
				t.Errorf("fixtures table names %s, which is not among the example files", rel)
			}
		}
	})
}

func checkFixtureEvent(tb testing.TB, e *Event, want fixtureWant) {
	tb.Helper()
	if e.Type != want.typ {
		tb.Errorf("Type = %q, want %q", e.Type, want.typ)
	}
	if e.KeptnContext != want.ctx {
		tb.Errorf("KeptnContext = %q, want %q", e.KeptnContext, want.ctx)
	}
	if e.SpecVersion != SpecVersion {
		tb.Errorf("SpecVersion = %q, want %q", e.SpecVersion, SpecVersion)
	}
	if e.ID == "" || e.Source == "" || e.Time.IsZero() {
		tb.Errorf("id %q, source %q, time %v: want all set", e.ID, e.Source, e.Time)
	}
	wantCT := want.contentType
	if wantCT == "" {
		wantCT = JSONContentType
	}
	if e.DataContentType != wantCT {
		tb.Errorf("DataContentType = %q, want %q", e.DataContentType, wantCT)
	}
	if e.GitCommitID != want.gitCommitID {
		tb.Errorf("GitCommitID = %q, want %q", e.GitCommitID, want.gitCommitID)
	}
	c, err := e.Common()
	if err != nil {
		tb.Fatalf("Common: %v", err)
	}
	if c.Project != want.project || c.Stage != want.stage || c.Service != want.service {
		tb.Errorf("project/stage/service = %q/%q/%q, want %q/%q/%q",
			c.Project, c.Stage, c.Service, want.project, want.stage, want.service)
	}
	if want.labels != nil && !maps.Equal(c.Labels, want.labels) {
		tb.Errorf("Labels = %v, want %v", c.Labels, want.labels)
	}
}

// parseList parses each event of a Keptn API answer {"events": [...]}.
func parseList(tb testing.TB, data []byte) {
	tb.Helper()
	var list struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		tb.Fatalf("decode event list: %v", err)
	}
	if len(list.Events) == 0 {
		tb.Fatal("event list is empty")
	}
	for i, raw := range list.Events {
		e, err := Parse(raw)
		if err != nil {
			tb.Errorf("events[%d]: %v", i, err)
			continue
		}
		if _, ok := ParseType(e.Type); !ok {
			tb.Errorf("events[%d]: type %q is outside Keptn's vocabulary", i, e.Type)
		}
		if e.Project() == "" || e.TriggeredID == "" && !strings.HasSuffix(e.Type, ".triggered") {
			tb.Errorf("events[%d] (%s): project %q, triggeredid %q: want both", i, e.Type, e.Project(), e.TriggeredID)
		}
		checkRoundTrip(tb, e)
	}
}

func TestParseGolden(t *testing.T) {
	root := examplesRoot(t)
	for _, rel := range goldenFixtures {
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			e, err := fixedParser(t).Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := e.MarshalJSON()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatalf("indent: %v", err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(rel, "/", "__"))
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestParseGolden -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("marshalled event differs from %s (run with -update after checking):\n%s", golden, pretty.Bytes())
			}
		})
	}
}

// checkRoundTrip marshals e, parses the result and checks that the envelope
// and data survive unchanged.
func checkRoundTrip(tb testing.TB, e *Event) {
	tb.Helper()
	out, err := e.MarshalJSON()
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	again, err := Parse(out)
	if err != nil {
		tb.Fatalf("Parse(Marshal(e)): %v\n%s", err, out)
	}
	if diff := envelopeDiff(e, again); diff != "" {
		tb.Errorf("round trip changed the event: %s\n%s", diff, out)
	}
}

// envelopeDiff describes how two events differ, or returns "".
func envelopeDiff(a, b *Event) string {
	var d []string
	cmp := func(name, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %q != %q", name, x, y))
		}
	}
	cmp("id", a.ID, b.ID)
	cmp("source", a.Source, b.Source)
	cmp("type", a.Type, b.Type)
	cmp("specversion", a.SpecVersion, b.SpecVersion)
	cmp("datacontenttype", a.DataContentType, b.DataContentType)
	cmp("dataschema", a.DataSchema, b.DataSchema)
	cmp("subject", a.Subject, b.Subject)
	cmp("shkeptncontext", a.KeptnContext, b.KeptnContext)
	cmp("triggeredid", a.TriggeredID, b.TriggeredID)
	cmp("gitcommitid", a.GitCommitID, b.GitCommitID)
	if !a.Time.Equal(b.Time) {
		d = append(d, fmt.Sprintf("time %v != %v", a.Time, b.Time))
	}
	if len(a.Extensions) != len(b.Extensions) {
		d = append(d, fmt.Sprintf("extensions %v != %v", a.Extensions, b.Extensions))
	}
	for k, v := range a.Extensions {
		if !bytes.Equal(v, b.Extensions[k]) {
			d = append(d, fmt.Sprintf("extension %s %s != %s", k, v, b.Extensions[k]))
		}
	}
	if !bytes.Equal(a.Data, b.Data) {
		d = append(d, fmt.Sprintf("data %s != %s", a.Data, b.Data))
	}
	return strings.Join(d, "; ")
}
