package intake

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// exampleWant is what intake must make of one problem-ish file of
// keptn-examples: an Alertmanager message (one alert each in these files)
// or a problem event. Zero fields are not checked, except Unmatched, which
// must contain unmatched ("" = the notification is matched).
type exampleWant struct {
	source                  string
	state                   State
	project, stage, service string
	title, rootCause        string
	key                     string
	url, entity             string
	startsAt, endsAt        string
	unmatched               []string
	labels                  map[string]string
}

var dtOpen = exampleWant{
	source: SourceDynatrace, state: StateOpen, project: "shop", stage: "production", service: "carts",
	title: "Dynatrace problem notification test run", key: "dynatrace/99999",
	url: "https://example.com", entity: "Myhost1, Myservice1", startsAt: "2022-01-04T21:58:45.263Z",
}

var dtClosed = exampleWant{
	source: SourceDynatrace, state: StateClosed, project: "shop", stage: "production", service: "carts",
	title: "Browser monitor global outage", key: "dynatrace/-6478017825120311599_1641223491837V2",
	url:      "https://test.com/#problems/problemdetails;pid=-6478017825120311599_1641223491837V2",
	startsAt: "2022-01-03T15:24:51.837Z", endsAt: "2022-01-03T15:29:26.597Z",
}

// problemExamples lists every problem-ish payload in keptn-examples; the
// test fails when a new one appears that is not listed here.
var problemExamples = map[string]exampleWant{
	// 2019 Alertmanager message without project/stage/service labels.
	"keptn/133710ddf706/remediation-service/example-data/problem-payload.json": {
		source: SourceAlertmanager, state: StateOpen,
		title:     "High Container CPU Usage: 0.054951031024242335",
		key:       "alertmanager/612f1618bd77922c/2019-09-05T15:29:22.944638098Z",
		unmatched: []string{"no project", `"project" label`},
		startsAt:  "2019-09-05T15:29:22.944638098Z",
	},
	"prometheus-service/0.7.2/prometheus_alert.json": {
		source: SourceAlertmanager, state: StateOpen, project: "sockshop", stage: "production", service: "carts",
		title: "response_time_p90", key: "alertmanager/8dd2c31a47cf2e78/2021-11-26T10:57:14.057345112Z",
		startsAt: "2021-11-26T10:57:14.057345112Z",
		// The double-escaped \\u0026 arrives as the six characters \u0026.
		url: `http://prometheus-server-6776d8bb7d-pqkln:9090/graph?g0.expr=histogram_quantile%280.9%2C+sum+by%28le%29+%28rate%28http_response_time_milliseconds_bucket%7Bhandler%3D%22ItemsController.addToCart%22%2Cjob%3D%22carts-sockshop-production-primary%22%7D%5B3m%5D%29%29%29+%3E+1000\u0026g0.tab=1`,
	},
	"prometheus-service/0.8.5/test/events/prometheus-firing.json": {
		source: SourceAlertmanager, state: StateOpen, project: "e2e-project", stage: "staging", service: "podtatoserver",
		title: "response_time_p90", key: "alertmanager/eed72851bf9fc1f1/2022-08-10T11:34:14.057Z", /* the fixture's fingerprint is not its labels' */
		startsAt: "2022-08-10T11:34:14.057Z", endsAt: "2022-08-10T11:40:14.057Z",
	},
	"prometheus-service/0.8.6/prometheus_alert.json": {
		source: SourceAlertmanager, state: StateOpen, project: "sockshop", stage: "production", service: "carts",
		title: "response_time_p90", key: "alertmanager/d26035f958c7e705/2022-11-26T10:57:14.057345112Z", /* the fixture's fingerprint is not its labels' */
		labels: map[string]string{"deployment": "primary"},
	},
	"prometheus-service/0.7.0/trigger_remediation.json": {
		source: SourceKeptn, state: StateOpen, project: "sockshop", stage: "production", service: "carts",
		title: "response_time_p90", rootCause: "Response time degradation",
		// No shkeptncontext: the fixed parser's second id (the first is
		// not drawn: the event has an id).
		key: "keptn/00000000-0000-4000-8000-000000000001",
	},
	"keptn/b7f5b7486bed/test/assets/self_healing_problem_open_event.json": {
		source: SourceDynatrace, state: StateOpen, project: "self-healing-project", stage: "production", service: "frontend",
		title: "Response time degradation", key: "dynatrace/ab81-941c-1245", startsAt: "2019-06-07T07:02:15.64489Z",
	},
	"keptn/0.8.3/test/assets/self_healing_remediation_triggered_event.json": {
		source: SourceKeptn, state: StateOpen, project: "self-healing-project", stage: "production", service: "frontend",
		title: "Response time degradation", rootCause: "Response time degradation",
	},
	"dynatrace-service/0.20.0-next.1/internal/problem/testdata/closed_problem/expected_emitted_ce.json": {
		source: SourceDynatrace, state: StateClosed, project: "shop", stage: "production", service: "carts",
		title: "Browser monitor global outage", key: "dynatrace/-6478017825120311599_1641223491837V2",
		endsAt: "2022-01-03T15:29:26.597Z",
	},
	"dynatrace-service/0.20.0-next.1/internal/problem/testdata/open_problem_with_tags/expected_emitted_ce.json": {
		source: SourceKeptn, state: StateOpen, project: "shop2", stage: "production2", service: "carts2",
		title: "Dynatrace problem notification test run", key: "dynatrace/99999", entity: "Myhost1, Myservice1",
		// startTime 0 means "not given": the event's time is used.
		startsAt: fixedTime.Format(time.RFC3339Nano),
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem/received_ce.json": dtOpen,
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem/expected_emitted_ce.json": {
		source: SourceKeptn, state: StateOpen, project: "shop", stage: "production", service: "carts",
		title: "Dynatrace problem notification test run", key: "dynatrace/99999",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_no_stage/received_ce.json": {
		source: SourceDynatrace, state: StateOpen, project: "shop", service: "carts", key: "dynatrace/99999",
		unmatched: []string{"no stage", "keptn_stage: tag", "KeptnStage", "data.stage"},
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_with_tags/received_ce.json": {
		source: SourceDynatrace, state: StateOpen, project: "shop2", stage: "production2", service: "carts2",
		key: "dynatrace/99999",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/open_problem_with_tags/expected_emitted_ce.json": {
		source: SourceKeptn, state: StateOpen, project: "shop2", stage: "production2", service: "carts2",
		key: "dynatrace/99999",
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem/received_ce.json":         dtClosed,
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem/expected_emitted_ce.json": dtClosed,
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem_existing_labels/received_ce.json": {
		source: SourceDynatrace, state: StateClosed, project: "shop", stage: "production", service: "carts",
		key:    dtClosed.key,
		labels: map[string]string{"key": "value", "structure_key": `{"key":"value"}`},
	},
	"dynatrace-service/0.27.2/internal/problem/testdata/closed_problem_existing_labels/expected_emitted_ce.json": dtClosed,
}

// bridgeRemediation is what every remediation.triggered event of the Keptn
// bridge's recorded remediation runs must become: Dynatrace field names
// under data.problem, tags with spaces after the commas.
var bridgeRemediation = exampleWant{
	source: SourceKeptn, state: StateOpen, project: "sockshop", stage: "production", service: "carts",
	title: "Response time degradation", key: "dynatrace/asdf",
}

// TestKeptnExamples reads every JSON file of keptn-examples: each
// Alertmanager message and problem event must be listed in problemExamples
// and give what is listed; every other event must be refused as not a
// problem.
func TestKeptnExamples(t *testing.T) {
	root := examplesRoot(t)
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			data := readExample(t, rel)
			var probe map[string]json.RawMessage
			if json.Unmarshal(data, &probe) != nil {
				t.Skip("not valid JSON (a known broken fixture); nothing to read")
			}
			switch {
			case probe["alerts"] != nil:
				seen[rel] = true
				want, ok := problemExamples[rel]
				if !ok {
					t.Fatal("an Alertmanager message not listed in problemExamples")
				}
				m, err := ParseAlertmanager(data, AlertmanagerOptions{})
				if err != nil {
					t.Fatalf("ParseAlertmanager: %v", err)
				}
				if len(m.Notifications) != 1 {
					t.Fatalf("got %d notifications, want 1", len(m.Notifications))
				}
				checkNotification(t, m.Notifications[0], want)
			case probe["events"] != nil:
				var list struct{ Events []json.RawMessage }
				if err := json.Unmarshal(data, &list); err != nil {
					t.Fatal(err)
				}
				problems := 0
				for _, raw := range list.Events {
					ev := parseEvent(t, raw)
					ns, err := FromEvent(ev)
					if !IsProblemType(ev.Type) {
						if !errors.Is(err, ErrNotProblem) {
							t.Errorf("%s: err = %v, want ErrNotProblem", ev.Type, err)
						}
						continue
					}
					problems++
					if err != nil {
						t.Fatalf("%s: %v", ev.Type, err)
					}
					checkNotification(t, ns[0], bridgeRemediation)
				}
				if problems > 0 {
					seen[rel] = true
				}
			default:
				ev, err := fixedParser(t).Parse(data)
				if err != nil {
					var typ string
					_ = json.Unmarshal(probe["type"], &typ)
					if IsProblemType(typ) {
						t.Fatalf("a problem event that event.Parse refuses: %v", err)
					}
					t.Skipf("not a problem event, and event.Parse refuses it: %v", err)
				}
				ns, err := FromEvent(ev)
				if !IsProblemType(ev.Type) {
					if !errors.Is(err, ErrNotProblem) {
						t.Errorf("%s: err = %v, want ErrNotProblem", ev.Type, err)
					}
					return
				}
				seen[rel] = true
				want, ok := problemExamples[rel]
				if !ok {
					t.Fatalf("a problem event (%s) not listed in problemExamples", ev.Type)
				}
				if err != nil {
					t.Fatalf("FromEvent: %v", err)
				}
				if len(ns) != 1 {
					t.Fatalf("got %d notifications, want 1", len(ns))
				}
				if ns[0].EventID != ev.ID || ns[0].KeptnContext != ev.KeptnContext {
					t.Errorf("event id/context = %s/%s, want %s/%s", ns[0].EventID, ns[0].KeptnContext, ev.ID, ev.KeptnContext)
				}
				checkNotification(t, ns[0], want)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range problemExamples {
		if !seen[rel] {
			t.Errorf("%s is listed but was not read as a problem payload", rel)
		}
	}
	if bridge := 3; countPrefix(seen, "keptn/master/bridge/") != bridge {
		t.Errorf("read %d bridge fixtures with remediation.triggered events, want %d", countPrefix(seen, "keptn/master/bridge/"), bridge)
	}
}

func countPrefix(m map[string]bool, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

func checkNotification(tb testing.TB, n Notification, want exampleWant) {
	tb.Helper()
	str := func(name, got, want string) {
		tb.Helper()
		if want != "" && got != want {
			tb.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	str("Source", n.Source, want.source)
	str("State", string(n.State), string(want.state))
	str("Project", n.Project, want.project)
	str("Stage", n.Stage, want.stage)
	str("Service", n.Service, want.service)
	str("Title", n.Title, want.title)
	str("RootCause", n.RootCause, want.rootCause)
	// The keys listed leave out the project, which every key names after
	// its source.
	wantKey := want.key
	if src, rest, ok := strings.Cut(wantKey, "/"); ok {
		wantKey = src + "/" + n.Project + "/" + rest
	}
	str("Key", n.Key, wantKey)
	str("URL", n.URL, want.url)
	str("Entity", n.Entity, want.entity)
	if want.startsAt != "" && !n.StartsAt.Equal(mustTime(tb, want.startsAt)) {
		tb.Errorf("StartsAt = %v, want %s", n.StartsAt, want.startsAt)
	}
	if want.endsAt != "" && !n.EndsAt.Equal(mustTime(tb, want.endsAt)) {
		tb.Errorf("EndsAt = %v, want %s", n.EndsAt, want.endsAt)
	}
	if n.Key == "" {
		tb.Error("Key is empty")
	}
	if n.KeptnContext == "" || !event.IsUUID(n.KeptnContext) {
		tb.Errorf("KeptnContext = %q, want a UUID", n.KeptnContext)
	}
	if len(want.unmatched) == 0 {
		if n.Unmatched != "" {
			tb.Errorf("unmatched: %s", n.Unmatched)
		}
	} else {
		if n.Unmatched == "" {
			tb.Errorf("matched, want unmatched with a reason containing %q", want.unmatched)
		}
		for _, s := range want.unmatched {
			if !strings.Contains(n.Unmatched, s) {
				tb.Errorf("reason %q does not contain %q", n.Unmatched, s)
			}
		}
	}
	for k, v := range want.labels {
		if n.Labels[k] != v {
			tb.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
}
